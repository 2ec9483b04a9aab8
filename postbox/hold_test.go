package postbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/postbox"
)

func countBlobs(t *testing.T, b sealpost.BlobStore) int {
	t.Helper()
	n := 0
	if err := b.List(context.Background(), func(sealpost.BlobRef) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// Under a legal hold the owner's expunge and delete work as always for the
// owner, but what they remove is retained, sealed, until the hold ends.
func TestLegalHold(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const ann = "ann@example.org"
	if _, err := e.svc.CreateAccount(ctx, ann, "ann-password"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		raw := fmt.Appendf(nil, "Subject: %d\r\n\r\nbody %d\r\n", i, i)
		if err := e.svc.Deliver(ctx, postbox.Envelope{Recipients: []string{ann}}, postbox.Bytes(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if held, _, err := e.svc.Held(ctx, ann); err != nil || held {
		t.Fatalf("held before any hold: %v %v", held, err)
	}
	if err := e.svc.PlaceHold(ctx, ann); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.PlaceHold(ctx, ann); err != nil {
		t.Fatalf("a second hold: %v", err)
	}
	sess, err := e.svc.Login(ctx, ann, "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()

	// The owner expunges one message and deletes a folder holding another.
	if err := sess.CreateMailbox(ctx, "Projects", sealpost.UseNone); err != nil {
		t.Fatal(err)
	}
	inbox, err := sess.Select(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sess.Copy(ctx, inbox, []sealpost.UID{3}, "Projects"); err != nil {
		t.Fatal(err)
	}
	if removed, err := inbox.Expunge(ctx, []sealpost.UID{1}); err != nil || len(removed) != 1 {
		t.Fatalf("expunge: %v %v", removed, err)
	}
	sess.Release(inbox)
	if err := sess.DeleteMailbox(ctx, "Projects"); err != nil {
		t.Fatal(err)
	}
	// The owner's view: two messages in INBOX, no Projects, no hold mailbox.
	if msgs := e.inbox(t, sess); len(msgs) != 2 {
		t.Errorf("INBOX has %d messages, want 2", len(msgs))
	}
	mbs, _ := sess.Mailboxes(ctx)
	for _, mb := range mbs {
		if mb.Use == sealpost.UseHeld || mb.Name == "Projects" {
			t.Errorf("owner sees %q", mb.Name)
		}
	}
	// ... while the hold retains what was removed.
	if held, n, err := e.svc.Held(ctx, ann); err != nil || !held || n != 2 {
		t.Errorf("Held = %v, %d, %v; want true, 2", held, n, err)
	}
	// The hidden mailbox is out of the owner's reach.
	for name, f := range map[string]func() error{
		"select": func() error { _, err := sess.Select(ctx, sealpost.HeldMailbox); return err },
		"delete": func() error { return sess.DeleteMailbox(ctx, sealpost.HeldMailbox) },
		"rename": func() error { return sess.RenameMailbox(ctx, sealpost.HeldMailbox, "Mine") },
		"create": func() error { return sess.CreateMailbox(ctx, sealpost.HeldMailbox+"/x", sealpost.UseNone) },
		"append": func() error {
			_, _, err := sess.Append(ctx, sealpost.HeldMailbox, postbox.Bytes("Subject: x\r\n\r\nx\r\n"), nil, time.Time{})
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s of the hold mailbox succeeded", name)
		}
	}
	// An account under hold cannot be deleted.
	if err := e.svc.DeleteAccount(ctx, ann); !errors.Is(errors.Permission, err) {
		t.Errorf("DeleteAccount under hold: %v", err)
	}
	blobsHeld := countBlobs(t, e.blobs)
	if blobsHeld != 3 {
		t.Errorf("%d blobs under hold, want 3: none deleted", blobsHeld)
	}
	// Releasing deletes what the hold retained.
	if err := e.svc.ReleaseHold(ctx, ann); err != nil {
		t.Fatal(err)
	}
	if held, _, _ := e.svc.Held(ctx, ann); held {
		t.Error("still held after release")
	}
	if n := countBlobs(t, e.blobs); n != 2 {
		t.Errorf("%d blobs after release, want 2", n)
	}
	if err := e.svc.DeleteAccount(ctx, ann); err != nil {
		t.Errorf("DeleteAccount after release: %v", err)
	}
}
