package postbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/postbox"
)

// An expunged message stays readable, for the grace, by a session that has
// not yet learned of the expunge (RFC 2180 4.1); then its sealed bytes go.
// Close deletes what still waits.
func TestExpungedReadableDuringGrace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
	}{{"close deletes", time.Hour}, {"grace passes", 20 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnvOpts(t, postbox.Options{ExpungeGrace: tc.grace})
			const ann = "ann@example.org"
			if _, err := e.svc.CreateAccount(ctx, ann, "ann-password"); err != nil {
				t.Fatal(err)
			}
			raw := "Subject: going\r\n\r\nsoon gone\r\n"
			if err := e.svc.Deliver(ctx, postbox.Envelope{Recipients: []string{ann}}, postbox.Bytes([]byte(raw))); err != nil {
				t.Fatal(err)
			}
			reader, err := e.svc.Login(ctx, ann, "ann-password")
			if err != nil {
				t.Fatal(err)
			}
			stale := e.inbox(t, reader) // this session's view, before the expunge

			other, err := e.svc.Login(ctx, ann, "ann-password")
			if err != nil {
				t.Fatal(err)
			}
			m, err := other.Select(ctx, "INBOX")
			if err != nil {
				t.Fatal(err)
			}
			if uids, err := m.Expunge(ctx, []sealpost.UID{stale[0].UID}); err != nil || len(uids) != 1 {
				t.Fatalf("expunge: %v %v", uids, err)
			}
			other.Release(m)
			if n := len(e.inbox(t, other)); n != 0 {
				t.Fatalf("INBOX after expunge holds %d messages", n)
			}

			if tc.grace == time.Hour {
				body, err := reader.Body(ctx, stale[0])
				if err != nil || string(body) != raw {
					t.Fatalf("stale session's read during the grace: %q, %v", body, err)
				}
				if n := e.blobCount(t); n != 1 {
					t.Fatalf("%d blobs during the grace, want 1", n)
				}
				e.svc.Close()
				if n := e.blobCount(t); n != 0 {
					t.Fatalf("%d blobs after Close, want 0", n)
				}
				return
			}
			deadline := time.Now().Add(10 * time.Second)
			for e.blobCount(t) != 0 {
				if time.Now().After(deadline) {
					t.Fatal("the expunged message's blob outlived its grace by 10 s")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := reader.Body(ctx, stale[0]); err == nil {
				t.Fatal("an expunged message read after its grace")
			}
		})
	}
}
