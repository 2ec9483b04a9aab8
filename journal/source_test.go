package journal

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// TestSource reads the journal as an event source, and sees
// what is appended after a first read.
func TestSource(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	src := NewSource(path)
	if evs, err := src.Events(ctx, 0, 0); err != nil || len(evs) != 0 {
		t.Fatalf("no journal yet: %v, %v", evs, err)
	}
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i, kind := range []sealpost.EventKind{sealpost.EventMailboxMoveRequested, sealpost.EventMailboxMoveCompleted, sealpost.EventAccountReset} {
		if err := j.Record(ctx, sealpost.Event{Time: at, Kind: kind, Account: "alice@demo.example", Actor: "owner"}); err != nil {
			t.Fatal(err)
		}
		evs, err := src.Events(ctx, int64(i), 0)
		if err != nil || len(evs) != 1 || evs[0].Seq != int64(i+1) || evs[0].Kind != kind {
			t.Fatalf("after event %d: %+v, %v", i+1, evs, err)
		}
	}
	if evs, _ := src.Events(ctx, 1, 1); len(evs) != 1 || evs[0].Kind != sealpost.EventMailboxMoveCompleted {
		t.Errorf("Events(1, 1) = %+v", evs)
	}
}
