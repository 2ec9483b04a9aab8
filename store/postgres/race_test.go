package postgres

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// These tests drive the races that READ COMMITTED would get wrong without
// the row locks the package doc lists. Each outcome they accept is correct
// whichever transaction wins; they assume nothing about timing.

// twoBoxes creates alice's account and returns her INBOX and Archive.
func twoBoxes(t *testing.T, s *Store) (sealpost.Mailbox, sealpost.Mailbox) {
	t.Helper()
	inbox := setup(t, s)
	arch, err := s.MailboxByUse(ctx, inbox.Account, sealpost.UseArchive)
	if err != nil {
		t.Fatal(err)
	}
	return inbox, arch
}

// TestAddAcrossMailboxesConcurrently has calls that each deliver into two
// mailboxes, in opposite orders: locking the mailboxes in ID order keeps
// them from deadlocking, and every UID is handed out once.
func TestAddAcrossMailboxesConcurrently(t *testing.T) {
	s, _ := open(t)
	a, b := twoBoxes(t, s)
	const workers, calls = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for c := range calls {
				boxes := []sealpost.MailboxID{a.ID, b.ID}
				if (w+c)%2 == 1 {
					slices.Reverse(boxes)
				}
				var msgs []sealpost.NewMessage
				for i, mb := range boxes {
					msgs = append(msgs, sealpost.NewMessage{Mailbox: mb, Size: 1, Blob: sealpost.BlobRef(fmt.Sprintf("w%dc%di%d", w, c, i))})
				}
				if _, err := s.AddMessages(ctx, msgs); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, mb := range []sealpost.Mailbox{a, b} {
		msgs, err := s.Messages(ctx, mb.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]sealpost.UID, len(msgs))
		want := make([]sealpost.UID, len(msgs))
		for i, m := range msgs {
			got[i], want[i] = m.UID, sealpost.UID(i+1)
		}
		if len(msgs) != workers*calls || !slices.Equal(got, want) {
			t.Fatalf("mailbox %s holds UIDs %v, want 1..%d", mb.Name, got, workers*calls)
		}
	}
}

// TestExpungeLastReferencesConcurrently expunges the two copies of a
// message at once: exactly one of the expunges must report the blob, not
// neither (a leak) and not both.
func TestExpungeLastReferencesConcurrently(t *testing.T) {
	s, _ := open(t)
	a, b := twoBoxes(t, s)
	for round := range 5 {
		blob := sealpost.BlobRef(fmt.Sprintf("shared-%d", round))
		orig, err := s.AddMessages(ctx, []sealpost.NewMessage{{Mailbox: a.ID, Size: 1, Blob: blob}})
		if err != nil {
			t.Fatal(err)
		}
		cp, err := s.CopyMessages(ctx, a.ID, []sealpost.UID{orig[0].UID}, b.ID, 0)
		if err != nil || len(cp) != 1 {
			t.Fatalf("CopyMessages: %v, %v", cp, err)
		}
		var wg sync.WaitGroup
		var reported [2][]sealpost.BlobRef
		var errs [2]error
		for i, m := range []sealpost.Message{orig[0], cp[0]} {
			wg.Go(func() {
				var x sealpost.Expunged
				x, errs[i] = s.Expunge(ctx, m.Mailbox, []sealpost.UID{m.UID})
				reported[i] = x.Blobs
			})
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("Expunge: %v, %v", errs[0], errs[1])
		}
		all := append(slices.Clone(reported[0]), reported[1]...)
		if !slices.Equal(all, []sealpost.BlobRef{blob}) {
			t.Fatalf("round %d: the expunges reported %q and %q, want %q once", round, reported[0], reported[1], blob)
		}
	}
}

// TestExpungeWhileCopying expunges a message's only copy while copying it
// elsewhere: either the copy happens and the blob stays referenced, or the
// copy finds nothing and the expunge reports the blob. Never both: that
// would delete a blob a message still refers to.
func TestExpungeWhileCopying(t *testing.T) {
	s, _ := open(t)
	a, b := twoBoxes(t, s)
	for round := range 8 {
		blob := sealpost.BlobRef(fmt.Sprintf("only-%d", round))
		orig, err := s.AddMessages(ctx, []sealpost.NewMessage{{Mailbox: a.ID, Size: 1, Blob: blob}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var copied []sealpost.Message
		var reported []sealpost.BlobRef
		var cerr, eerr error
		wg.Go(func() { copied, cerr = s.CopyMessages(ctx, a.ID, []sealpost.UID{orig[0].UID}, b.ID, 0) })
		wg.Go(func() {
			var x sealpost.Expunged
			x, eerr = s.Expunge(ctx, a.ID, []sealpost.UID{orig[0].UID})
			reported = x.Blobs
		})
		wg.Wait()
		if cerr != nil || eerr != nil {
			t.Fatalf("CopyMessages: %v; Expunge: %v", cerr, eerr)
		}
		if (len(copied) == 1) == (len(reported) == 1) {
			t.Fatalf("round %d: %d copies made and blobs %q reported unreferenced", round, len(copied), reported)
		}
	}
}

// TestCreateConcurrently creates the same domain and the same account from
// several goroutines: one succeeds, the others get Exist, whether the
// explicit check or the unique constraint (SQLSTATE 23505) catches them.
func TestCreateConcurrently(t *testing.T) {
	s, _ := open(t)
	const n = 6
	count := func(f func() error) (ok int) {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = f() })
		}
		wg.Wait()
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(errors.Exist, err):
				t.Fatalf("got %v, want success or Exist", err)
			}
		}
		return ok
	}
	if ok := count(func() error { return s.AddDomain(ctx, "race.example") }); ok != 1 {
		t.Fatalf("AddDomain succeeded %d times, want once", ok)
	}
	if ok := count(func() error {
		_, err := s.CreateAccount(ctx, sealpost.Account{Address: "bob@race.example"}, sealpost.Key{})
		return err
	}); ok != 1 {
		t.Fatalf("CreateAccount succeeded %d times, want once", ok)
	}
	a, err := s.Account(ctx, "bob@race.example")
	if err != nil {
		t.Fatal(err)
	}
	if ok := count(func() error {
		_, err := s.CreateMailbox(ctx, a.ID, "Projects", sealpost.UseNone, 0)
		return err
	}); ok != 1 {
		t.Fatalf("CreateMailbox succeeded %d times, want once", ok)
	}
}
