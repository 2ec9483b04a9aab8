package postbox_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/postbox"
)

// recorder collects what a watch receives.
type recorder struct {
	mu      sync.Mutex
	start   []sealpost.UID
	changes []postbox.Change
}

func (r *recorder) watch(m *postbox.Mailbox) *postbox.Watch {
	return m.Watch(func(_ sealpost.Mailbox, msgs []sealpost.Message) func(postbox.Change) {
		for _, msg := range msgs {
			r.start = append(r.start, msg.UID)
		}
		return func(c postbox.Change) {
			r.mu.Lock()
			r.changes = append(r.changes, c)
			r.mu.Unlock()
		}
	})
}

// take returns what arrived since the last take, as "kind uid@pos".
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.changes {
		out = append(out, fmt.Sprintf("%s %d@%d", c.Kind, c.UID, c.Pos))
	}
	r.changes = nil
	return out
}

func (r *recorder) last() postbox.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changes[len(r.changes)-1]
}

func wantChanges(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s received %q, want %q", who, got, want)
	}
}

// The change feed of a live mailbox: every change, in order, with its
// position and modification sequence, to every watch; a watch's own flag
// changes are not sent back to it; a closed watch hears nothing.
func TestChangeFeed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.CreateAccount(ctx, "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	deliver := func() {
		t.Helper()
		raw := []byte("Subject: hello\r\n\r\nbody\r\n")
		if err := e.svc.Deliver(ctx, postbox.Envelope{From: "x@y.example", Recipients: []string{"ann@example.org"}}, postbox.Bytes(raw)); err != nil {
			t.Fatal(err)
		}
	}
	deliver()
	deliver()
	sess, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	inbox, err := sess.Select(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Release(inbox)
	var a, b recorder
	wa, wb := a.watch(inbox), b.watch(inbox)
	defer wb.Close()
	if !slices.Equal(a.start, []sealpost.UID{1, 2}) {
		t.Fatalf("the watch started from UIDs %v, want [1 2]", a.start)
	}

	deliver()
	wantChanges(t, "a", a.take(), "added 3@3")
	added := b.last()
	wantChanges(t, "b", b.take(), "added 3@3")
	if added.ModSeq == 0 || added.By != nil {
		t.Fatalf("a delivery's change: %+v", added)
	}

	// a's own flag change goes to b only, with the new flags and MODSEQ.
	if _, err := inbox.SetFlags(ctx, []sealpost.UID{1}, sealpost.FlagsAdd, []sealpost.Flag{sealpost.FlagSeen, "$Work"}, wa); err != nil {
		t.Fatal(err)
	}
	wantChanges(t, "a", a.take())
	flagged := b.last()
	wantChanges(t, "b", b.take(), "flags 1@1")
	if flagged.By != wa || !slices.Equal(flagged.Flags, []sealpost.Flag{sealpost.FlagSeen, "$Work"}) || flagged.ModSeq <= added.ModSeq {
		t.Fatalf("flag change: %+v (the delivery's MODSEQ was %d)", flagged, added.ModSeq)
	}

	// Expunge and move: positions count what is left at each step.
	if _, err := inbox.SetFlags(ctx, []sealpost.UID{2}, sealpost.FlagsAdd, []sealpost.Flag{sealpost.FlagDeleted}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := inbox.Expunge(ctx, nil); err != nil {
		t.Fatal(err)
	}
	expunged := b.last()
	wantChanges(t, "a", a.take(), "flags 2@2", "expunged 2@2")
	wantChanges(t, "b", b.take(), "flags 2@2", "expunged 2@2")
	var highest uint64
	inbox.Read(func(info sealpost.Mailbox, _ []sealpost.Message) { highest = info.HighestModSeq })
	if info, err := sess.Mailbox(ctx, "INBOX"); err != nil || expunged.ModSeq != info.HighestModSeq || expunged.ModSeq != highest {
		t.Fatalf("expunge MODSEQ %d; HIGHESTMODSEQ stored %d (%v), live %d", expunged.ModSeq, info.HighestModSeq, err, highest)
	}
	if _, _, err := sess.Move(ctx, inbox, []sealpost.UID{3, 1}, "Archive"); err != nil {
		t.Fatal(err)
	}
	wantChanges(t, "a", a.take(), "expunged 1@1", "expunged 3@1")

	// A closed watch hears nothing more; the other one does.
	wa.Close()
	wa.Close()
	deliver()
	wantChanges(t, "a", a.take())
	wantChanges(t, "b", b.take(), "expunged 1@1", "expunged 3@1", "added 4@1")
}
