package postbox_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/postbox"
)

// TestImport files a batch without the owner's password into a mailbox it
// creates (with its parent and special use), keeping flags (not \Recent)
// and dates; the owner reads it back; Prepared sees the blobs first and
// can stop the batch, which then leaves nothing filed.
func TestImport(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.CreateAccount(ctx, "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2020, 5, 4, 3, 2, 1, 0, time.UTC)
	var items []postbox.ImportItem
	for i := range 40 {
		items = append(items, postbox.ImportItem{
			Msg:   postbox.Bytes(fmt.Sprintf("Subject: old %d\r\n\r\nbody %d\r\n", i, i)),
			Flags: []sealpost.Flag{sealpost.FlagSeen, `\Recent`, "$Label1", "$label1"},
			Date:  date.Add(time.Duration(i) * time.Hour),
		})
	}
	var prepared []sealpost.BlobRef
	added, err := e.svc.Import(ctx, postbox.ImportBatch{
		Address: "ann@example.org", Mailbox: "Old/Projects", Items: items,
		Prepared: func(mb sealpost.Mailbox, blobs []sealpost.BlobRef) error { prepared = blobs; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 40 || len(prepared) != 40 {
		t.Fatalf("added %d, prepared %d, want 40", len(added), len(prepared))
	}
	for i, m := range added {
		if m.Blob != prepared[i] {
			t.Errorf("message %d: blob %s, Prepared saw %s", i, m.Blob, prepared[i])
		}
		if !slices.Equal(m.Flags, []sealpost.Flag{sealpost.FlagSeen, "$Label1"}) {
			t.Errorf("message %d: flags %v", i, m.Flags)
		}
		if !m.InternalDate.Equal(items[i].Date) {
			t.Errorf("message %d: date %v, want %v", i, m.InternalDate, items[i].Date)
		}
	}

	// A special use goes to the account's mailbox with it (Sent exists
	// in a new account), whatever the name asked.
	sent, err := e.svc.Import(ctx, postbox.ImportBatch{Address: "ann@example.org", Mailbox: "Sent Items", Use: sealpost.UseSent, Items: items[:1]})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if _, err := e.store.MailboxByName(ctx, sess.Account().ID, "Old"); err != nil {
		t.Errorf("parent not created: %v", err)
	}
	mb, err := e.store.MailboxByUse(ctx, sess.Account().ID, sealpost.UseSent)
	if err != nil || mb.ID != sent[0].Mailbox {
		t.Errorf("the Sent import went to mailbox %d, want Sent (%d): %v", sent[0].Mailbox, mb.ID, err)
	}
	body, err := sess.Body(ctx, added[7])
	if err != nil || !bytes.Equal(body, items[7].Msg.(postbox.Bytes)) {
		t.Errorf("read back %q, %v", body, err)
	}

	// Prepared refusing: nothing filed.
	before, _ := e.store.Messages(ctx, added[0].Mailbox, 0)
	_, err = e.svc.Import(ctx, postbox.ImportBatch{
		Address: "ann@example.org", Mailbox: "Old/Projects", Items: items[:3],
		Prepared: func(sealpost.Mailbox, []sealpost.BlobRef) error {
			return errors.E(errors.Unavailable, errors.Str("disk full"))
		},
	})
	if !errors.Is(errors.Unavailable, err) {
		t.Errorf("Import with Prepared failing: %v", err)
	}
	after, _ := e.store.Messages(ctx, added[0].Mailbox, 0)
	if len(after) != len(before) {
		t.Errorf("a refused batch filed %d messages", len(after)-len(before))
	}
}
