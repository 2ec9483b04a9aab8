package storetest

import (
	"slices"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// vanishedTests check the expunge tombstones behind QRESYNC (RFC 7162
// 3.2.5): which UIDs went after a MODSEQ, and when the store cannot tell.
var vanishedTests = []test{
	{"Vanished", testVanished},
	{"VanishedBound", testVanishedBound},
	{"VanishedAfterImport", testVanishedAfterImport},
}

func (e *env) vanished(mb sealpost.MailboxID, since uint64) ([]sealpost.UID, bool) {
	e.t.Helper()
	uids, complete, err := e.s.Vanished(ctx, mb, since)
	if err != nil {
		e.t.Fatalf("Vanished(%d, %d): %v", mb, since, err)
	}
	return uids, complete
}

func wantVanished(t *testing.T, what string, got []sealpost.UID, complete bool, want []sealpost.UID, wantComplete bool) {
	t.Helper()
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) || complete != wantComplete {
		t.Fatalf("%s: Vanished = %v, complete %v; want %v, %v", what, got, complete, want, wantComplete)
	}
}

func testVanished(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	e.add(newMsg(inbox.ID), newMsg(inbox.ID), newMsg(inbox.ID), newMsg(inbox.ID), newMsg(inbox.ID))
	start := e.mailbox(a.ID, "INBOX").HighestModSeq
	got, complete := e.vanished(inbox.ID, 0)
	wantVanished(t, "new mailbox", got, complete, nil, true)

	x1, err := e.s.Expunge(ctx, inbox.ID, []sealpost.UID{4, 2})
	if err != nil {
		t.Fatal(err)
	}
	x2, err := e.s.Expunge(ctx, inbox.ID, []sealpost.UID{1})
	if err != nil {
		t.Fatal(err)
	}
	got, complete = e.vanished(inbox.ID, start)
	wantVanished(t, "since before both", got, complete, []sealpost.UID{1, 2, 4}, true)
	got, complete = e.vanished(inbox.ID, x1.ModSeq)
	wantVanished(t, "since the first", got, complete, []sealpost.UID{1}, true)
	got, complete = e.vanished(inbox.ID, x2.ModSeq)
	wantVanished(t, "since the last", got, complete, nil, true)
	got, complete = e.vanished(inbox.ID, 1<<64-1)
	wantVanished(t, "since beyond every MODSEQ", got, complete, nil, true)

	// Another mailbox's expunges are its own.
	other := e.mailbox(a.ID, "Trash")
	got, complete = e.vanished(other.ID, 0)
	wantVanished(t, "another mailbox", got, complete, nil, true)

	_, _, err = e.s.Vanished(ctx, e.goneMailbox(a.ID), 0)
	wantKind(t, err, errors.NotExist, "Vanished of a deleted mailbox")
}

// testVanishedBound: beyond column.MaxTombstones the oldest expunge goes
// whole, and the store says it can no longer answer for before it.
func testVanishedBound(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	msgs := make([]sealpost.NewMessage, column.MaxTombstones+1)
	for i := range msgs {
		msgs[i] = newMsg(inbox.ID)
	}
	added := e.add(msgs...)
	start := e.mailbox(a.ID, "INBOX").HighestModSeq
	first, err := e.s.Expunge(ctx, inbox.ID, []sealpost.UID{added[0].UID, added[1].UID})
	if err != nil {
		t.Fatal(err)
	}
	rest := make([]sealpost.UID, 0, len(added)-2)
	for _, m := range added[2:] {
		rest = append(rest, m.UID)
	}
	if _, err := e.s.Expunge(ctx, inbox.ID, rest); err != nil {
		t.Fatal(err)
	}
	got, complete := e.vanished(inbox.ID, first.ModSeq)
	wantVanished(t, "since the first expunge", got, complete, rest, true)
	_, complete = e.vanished(inbox.ID, start)
	if complete {
		t.Fatalf("Vanished since before a dropped expunge claims to be complete")
	}
}

// testVanishedAfterImport: the tombstones stay behind when an account moves,
// so the moved mailbox knows nothing of expunges before its HIGHESTMODSEQ.
func testVanishedAfterImport(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	e.add(newMsg(inbox.ID), newMsg(inbox.ID))
	if _, err := e.s.Expunge(ctx, inbox.ID, []sealpost.UID{1}); err != nil {
		t.Fatal(err)
	}
	img, err := e.s.ExportAccount(ctx, a.Address)
	if err != nil {
		t.Fatal(err)
	}
	dst := e.another()
	dst.domain(sealpost.DomainOf(a.Address))
	b, err := dst.s.ImportAccount(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	moved := dst.mailbox(b.ID, "INBOX")
	_, complete := dst.vanished(moved.ID, 0)
	if complete {
		t.Fatalf("Vanished since 0 after a move claims to be complete")
	}
	got, complete := dst.vanished(moved.ID, moved.HighestModSeq)
	wantVanished(t, "since the moved HIGHESTMODSEQ", got, complete, nil, true)
}
