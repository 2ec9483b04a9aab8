package journal

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

func TestRecordAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 22, 10, 0, 0, 5, time.UTC)
	for _, kind := range []sealpost.EventKind{sealpost.EventMailboxMoveRequested, sealpost.EventMailboxMoveCompleted} {
		if err := j.Record(context.Background(), sealpost.Event{Time: when, Kind: kind, Account: "alice@demo.example",
			Actor: "owner", Detail: map[string]string{"from": "ie", "to": "us"}}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	// A torn last line, as a crash mid-append leaves, ends the journal.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"time":"2026-11-22T10:00:00Z","kind":"torn`)
	f.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fi.Mode().Perm())
	}
	events, err := Events(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[1].Kind != sealpost.EventMailboxMoveCompleted || !events[0].Time.Equal(when) ||
		events[0].Detail["to"] != "us" || events[0].Account != "alice@demo.example" {
		t.Errorf("events = %+v", events)
	}
	// Reopening appends.
	j, _ = Open(path)
	j.Record(context.Background(), sealpost.Event{Time: when, Kind: "x"})
	j.Close()
	// Reopening cut the torn line, so the new event is read.
	if events, _ := Events(path); len(events) != 3 || events[2].Kind != "x" {
		t.Errorf("after reopen: %+v", events)
	}
}
