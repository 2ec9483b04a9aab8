package sealpost

import (
	"testing"

	"github.com/sealpost/sealpost/errors"
)

func TestMailboxNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"INBOX": true, "Work/2026": true, "Entwürfe": true, "a b": true,
		"": false, "/a": false, "a/": false, "a//b": false, "a*": false, "b%": false,
		"tab\there": false, "nul\x00": false, "\xff": false,
	} {
		if err := CheckMailboxName(name); (err == nil) != ok || (err != nil && !errors.Is(errors.Invalid, err)) {
			t.Errorf("CheckMailboxName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
	for in, want := range map[string]string{"inbox": "INBOX", "InBoX": "INBOX", "Inbox/x": "Inbox/x", "Sent": "Sent"} {
		if got := CanonicalMailboxName(in); got != want {
			t.Errorf("CanonicalMailboxName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQueuedMessageCheck(t *testing.T) {
	good := QueuedMessage{From: "a@x.example", Recipients: []string{"b@y.example"}, Blob: "r", Size: 1}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]QueuedMessage{
		"no recipients": {Blob: "r"},
		"no blob":       {Recipients: []string{"b@y.example"}},
		"empty rcpt":    {Recipients: []string{""}, Blob: "r"},
		"CRLF in rcpt":  {Recipients: []string{"b@y.example\r\nRCPT TO:<c@z>"}, Blob: "r"},
		"LF in sender":  {From: "a\n", Recipients: []string{"b@y.example"}, Blob: "r"},
		"negative size": {Recipients: []string{"b@y.example"}, Blob: "r", Size: -1},
	} {
		if err := m.Check(); !errors.Is(errors.Invalid, err) {
			t.Errorf("%s: Check = %v for %+v, want an Invalid error", name, err, m)
		}
	}
}
