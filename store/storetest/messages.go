package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

var messageTests = []test{
	{"Add", testAdd},
	{"AddManyMailboxes", testAddManyMailboxes},
	{"AddAtomic", testAddAtomic},
	{"AddFlags", testAddFlags},
	{"MessagesAfter", testMessagesAfter},
	{"UIDsNeverReused", testUIDsNeverReused},
	{"SetFlags", testSetFlags},
	{"SetFlagsModSeq", testSetFlagsModSeq},
	{"Expunge", testExpunge},
	{"Copy", testCopy},
	{"CopySharesBlob", testCopySharesBlob},
	{"SaveDate", testSaveDate},
	{"SessionKeys", testSessionKeys},
	{"ConcurrentAdd", testConcurrentAdd},
}

func testAdd(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	in := []sealpost.NewMessage{newMsg(inbox.ID, `\Seen`), newMsg(inbox.ID), newMsg(inbox.ID, `$Forwarded`, `\Flagged`)}
	in[1].InternalDate = date.Add(-48 * time.Hour)
	in[1].Size = 99
	in[1].SessionKey = []byte("wrapped session key")
	in[2].Key = 7
	out := e.add(in...)
	var lastModSeq uint64
	for i, m := range out {
		want := in[i]
		if m.ID == 0 || m.Mailbox != inbox.ID || m.UID != sealpost.UID(i+1) ||
			!slices.Equal(m.Flags, want.Flags) || !m.InternalDate.Equal(want.InternalDate) ||
			m.Size != want.Size || m.Blob != want.Blob || m.Key != want.Key || !bytes.Equal(m.SessionKey, want.SessionKey) {
			t.Fatalf("message %d = %+v, from %+v", i, m, want)
		}
		if m.ModSeq == 0 || m.ModSeq < lastModSeq {
			t.Fatalf("message %d has ModSeq %d after %d", i, m.ModSeq, lastModSeq)
		}
		lastModSeq = m.ModSeq
	}
	if out[0].ID == out[1].ID || out[1].ID == out[2].ID {
		t.Fatal("messages share an ID")
	}
	wantMessages(t, e.messages(inbox.ID), out, "Messages after AddMessages")
	mb := e.mailbox(a.ID, "INBOX")
	if mb.UIDNext != 4 {
		t.Fatalf("UIDNEXT = %d, want 4", mb.UIDNext)
	}
	if mb.HighestModSeq < lastModSeq || mb.HighestModSeq <= inbox.HighestModSeq {
		t.Fatalf("HIGHESTMODSEQ = %d (was %d), messages' highest %d", mb.HighestModSeq, inbox.HighestModSeq, lastModSeq)
	}
	if mb.UIDValidity != inbox.UIDValidity {
		t.Fatal("AddMessages changed UIDVALIDITY")
	}
	// An empty call is harmless.
	if got, err := e.s.AddMessages(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("AddMessages(nil) = %v, %v", got, err)
	}
}

func testAddManyMailboxes(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	b := e.account("bob@demo.example")
	ai, as, bi := e.mailbox(a.ID, "INBOX"), e.mailbox(a.ID, "Sent"), e.mailbox(b.ID, "INBOX")
	out := e.add(newMsg(ai.ID), newMsg(bi.ID), newMsg(as.ID), newMsg(ai.ID), newMsg(bi.ID))
	want := []struct {
		mb  sealpost.MailboxID
		uid sealpost.UID
	}{{ai.ID, 1}, {bi.ID, 1}, {as.ID, 1}, {ai.ID, 2}, {bi.ID, 2}}
	for i, w := range want {
		if out[i].Mailbox != w.mb || out[i].UID != w.uid {
			t.Fatalf("message %d in mailbox %d UID %d, want mailbox %d UID %d", i, out[i].Mailbox, out[i].UID, w.mb, w.uid)
		}
	}
	for _, mb := range []sealpost.MailboxID{ai.ID, as.ID, bi.ID} {
		var want []sealpost.Message
		for _, m := range out {
			if m.Mailbox == mb {
				want = append(want, m)
			}
		}
		wantMessages(t, e.messages(mb), want, "Messages")
	}
}

func testAddAtomic(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	gone := e.goneMailbox(a.ID)
	_, err := e.s.AddMessages(ctx, []sealpost.NewMessage{newMsg(inbox.ID), newMsg(gone)})
	wantKind(t, err, errors.NotExist, "AddMessages into a deleted mailbox")
	if got := e.messages(inbox.ID); len(got) != 0 {
		t.Fatalf("a failed AddMessages left %d messages", len(got))
	}
	if got := e.mailbox(a.ID, "INBOX"); got.UIDNext != inbox.UIDNext {
		t.Fatalf("a failed AddMessages moved UIDNEXT from %d to %d", inbox.UIDNext, got.UIDNext)
	}
	// The store still works.
	if out := e.add(newMsg(inbox.ID)); out[0].UID != 1 {
		t.Fatalf("UID after a failed call = %d, want 1", out[0].UID)
	}
	// Malformed input.
	bad := newMsg(inbox.ID, "two words")
	_, err = e.s.AddMessages(ctx, []sealpost.NewMessage{bad})
	wantKind(t, err, errors.Invalid, "AddMessages with a flag holding a space")
	bad = newMsg(inbox.ID)
	bad.Blob = ""
	_, err = e.s.AddMessages(ctx, []sealpost.NewMessage{bad})
	wantKind(t, err, errors.Invalid, "AddMessages without a blob")
}

func testAddFlags(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	out := e.add(newMsg(inbox.ID, `\Seen`, `\seen`, `\Recent`, `$Label`, `$LABEL`, `\Draft`))
	want := []sealpost.Flag{`\Seen`, `$Label`, `\Draft`}
	if !slices.Equal(out[0].Flags, want) {
		t.Fatalf("flags on add = %q, want %q", out[0].Flags, want)
	}
	if got := e.messages(inbox.ID)[0].Flags; !slices.Equal(got, want) {
		t.Fatalf("stored flags = %q, want %q", got, want)
	}
}

func testMessagesAfter(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	if got := e.messages(inbox.ID); len(got) != 0 {
		t.Fatalf("new INBOX has %d messages", len(got))
	}
	out := e.add(newMsg(inbox.ID), newMsg(inbox.ID), newMsg(inbox.ID), newMsg(inbox.ID))
	for after := sealpost.UID(0); after <= 5; after++ {
		got, err := e.s.Messages(ctx, inbox.ID, after)
		if err != nil {
			t.Fatal(err)
		}
		want := out[min(int(after), len(out)):]
		wantMessages(t, got, want, "Messages after UID")
	}
	_, err := e.s.Messages(ctx, e.goneMailbox(a.ID), 0)
	wantKind(t, err, errors.NotExist, "Messages of a deleted mailbox")
}

func testUIDsNeverReused(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	out := e.add(newMsg(inbox.ID), newMsg(inbox.ID), newMsg(inbox.ID))
	if _, err := e.s.Expunge(ctx, inbox.ID, []sealpost.UID{2, 3}); err != nil {
		t.Fatal(err)
	}
	next := e.add(newMsg(inbox.ID))
	if next[0].UID != 4 {
		t.Fatalf("UID after expunging the highest = %d, want 4", next[0].UID)
	}
	if _, err := e.s.Expunge(ctx, inbox.ID, []sealpost.UID{out[0].UID, next[0].UID}); err != nil {
		t.Fatal(err)
	}
	if got := e.add(newMsg(inbox.ID)); got[0].UID != 5 {
		t.Fatalf("UID after expunging everything = %d, want 5", got[0].UID)
	}
	if mb := e.mailbox(a.ID, "INBOX"); mb.UIDNext != 6 {
		t.Fatalf("UIDNEXT = %d, want 6", mb.UIDNext)
	}
}

// flagsOf returns the stored flags of the message with the given UID.
func (e *env) flagsOf(mb sealpost.MailboxID, uid sealpost.UID) []sealpost.Flag {
	e.t.Helper()
	for _, m := range e.messages(mb) {
		if m.UID == uid {
			return m.Flags
		}
	}
	e.t.Fatalf("no message UID %d", uid)
	return nil
}

func testSetFlags(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	e.add(newMsg(inbox.ID, `\Seen`), newMsg(inbox.ID), newMsg(inbox.ID, `$Work`))

	steps := []struct {
		uids  []sealpost.UID
		op    sealpost.FlagOp
		flags []sealpost.Flag
		// want is the flags of each message afterwards, by UID 1..3.
		want [3][]sealpost.Flag
	}{
		{[]sealpost.UID{1, 2, 99}, sealpost.FlagsAdd, []sealpost.Flag{`\Flagged`},
			[3][]sealpost.Flag{{`\Seen`, `\Flagged`}, {`\Flagged`}, {`$Work`}}},
		// Adding a flag present in another case keeps the stored case.
		{[]sealpost.UID{1}, sealpost.FlagsAdd, []sealpost.Flag{`\SEEN`, `\Recent`},
			[3][]sealpost.Flag{{`\Seen`, `\Flagged`}, {`\Flagged`}, {`$Work`}}},
		{[]sealpost.UID{1, 3}, sealpost.FlagsRemove, []sealpost.Flag{`\seen`, `$WORK`},
			[3][]sealpost.Flag{{`\Flagged`}, {`\Flagged`}, nil}},
		{[]sealpost.UID{2}, sealpost.FlagsSet, []sealpost.Flag{`$A`, `\Draft`, `$a`},
			[3][]sealpost.Flag{{`\Flagged`}, {`$A`, `\Draft`}, nil}},
		{[]sealpost.UID{2}, sealpost.FlagsSet, nil,
			[3][]sealpost.Flag{{`\Flagged`}, nil, nil}},
		{[]sealpost.UID{3, 1}, sealpost.FlagsSet, []sealpost.Flag{`\flagged`, `\Answered`},
			[3][]sealpost.Flag{{`\Flagged`, `\Answered`}, nil, {`\flagged`, `\Answered`}}},
	}
	for i, st := range steps {
		got, err := e.s.SetFlags(ctx, inbox.ID, st.uids, st.op, st.flags)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var wantUIDs []sealpost.UID
		for _, u := range st.uids {
			if u <= 3 {
				wantUIDs = append(wantUIDs, u)
			}
		}
		slices.Sort(wantUIDs)
		if !slices.Equal(uids(got), wantUIDs) {
			t.Fatalf("step %d: SetFlags returned UIDs %v, want %v", i, uids(got), wantUIDs)
		}
		stored := e.messages(inbox.ID)
		for _, m := range got {
			if d := sameMessage(m, stored[m.UID-1]); d != "" {
				t.Fatalf("step %d: SetFlags result differs from the stored message: %s", i, d)
			}
		}
		for u := range 3 {
			if f := stored[u].Flags; !slices.Equal(f, st.want[u]) {
				t.Fatalf("step %d: UID %d has flags %q, want %q", i, u+1, f, st.want[u])
			}
		}
	}

	got, err := e.s.SetFlags(ctx, inbox.ID, []sealpost.UID{50, 60}, sealpost.FlagsAdd, []sealpost.Flag{`\Seen`})
	if err != nil || len(got) != 0 {
		t.Fatalf("SetFlags on unknown UIDs = %+v, %v", got, err)
	}
	_, err = e.s.SetFlags(ctx, inbox.ID, []sealpost.UID{1}, sealpost.FlagsAdd, []sealpost.Flag{"bad flag"})
	wantKind(t, err, errors.Invalid, "SetFlags with a flag holding a space")
	_, err = e.s.SetFlags(ctx, e.goneMailbox(a.ID), []sealpost.UID{1}, sealpost.FlagsAdd, []sealpost.Flag{`\Seen`})
	wantKind(t, err, errors.NotExist, "SetFlags in a deleted mailbox")
}

func testSetFlagsModSeq(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	out := e.add(newMsg(inbox.ID), newMsg(inbox.ID))
	highest := e.mailbox(a.ID, "INBOX").HighestModSeq

	got, err := e.s.SetFlags(ctx, inbox.ID, []sealpost.UID{1}, sealpost.FlagsAdd, []sealpost.Flag{`\Seen`})
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7162 3.1: a change gives the message a MODSEQ above every earlier
	// one in the mailbox, and HIGHESTMODSEQ follows.
	if got[0].ModSeq <= highest {
		t.Fatalf("changed message has ModSeq %d, HIGHESTMODSEQ was %d", got[0].ModSeq, highest)
	}
	mb := e.mailbox(a.ID, "INBOX")
	if mb.HighestModSeq < got[0].ModSeq {
		t.Fatalf("HIGHESTMODSEQ %d below a message's %d", mb.HighestModSeq, got[0].ModSeq)
	}
	stored := e.messages(inbox.ID)
	if stored[1].ModSeq != out[1].ModSeq {
		t.Fatalf("untouched message's ModSeq moved from %d to %d", out[1].ModSeq, stored[1].ModSeq)
	}
	// A second change moves it again.
	again, err := e.s.SetFlags(ctx, inbox.ID, []sealpost.UID{1}, sealpost.FlagsRemove, []sealpost.Flag{`\Seen`})
	if err != nil {
		t.Fatal(err)
	}
	if again[0].ModSeq <= got[0].ModSeq || e.mailbox(a.ID, "INBOX").HighestModSeq < again[0].ModSeq {
		t.Fatalf("second change: ModSeq %d after %d", again[0].ModSeq, got[0].ModSeq)
	}
	// A message added later is above both.
	later := e.add(newMsg(inbox.ID))
	if later[0].ModSeq <= again[0].ModSeq {
		t.Fatalf("new message ModSeq %d not above %d", later[0].ModSeq, again[0].ModSeq)
	}
}

func testExpunge(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	out := e.add(newMsg(inbox.ID), newMsg(inbox.ID), newMsg(inbox.ID), newMsg(inbox.ID))
	before := e.mailbox(a.ID, "INBOX")

	x, err := e.s.Expunge(ctx, inbox.ID, []sealpost.UID{3, 1, 99, 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.UIDs, []sealpost.UID{1, 3}) {
		t.Fatalf("Expunge removed %v, want [1 3]", x.UIDs)
	}
	wantRefs(t, x.Blobs, "Expunge", out[0].Blob, out[2].Blob)
	wantMessages(t, e.messages(inbox.ID), []sealpost.Message{out[1], out[3]}, "Messages after Expunge")
	after := e.mailbox(a.ID, "INBOX")
	if after.UIDNext != before.UIDNext {
		t.Fatalf("Expunge moved UIDNEXT from %d to %d", before.UIDNext, after.UIDNext)
	}
	// RFC 7162 3.2.10: the expunge has a MODSEQ of its own, above every
	// message's, and it is the mailbox's HIGHESTMODSEQ now.
	if x.ModSeq <= before.HighestModSeq || x.ModSeq != after.HighestModSeq {
		t.Fatalf("Expunge ModSeq %d; HIGHESTMODSEQ %d before, %d after", x.ModSeq, before.HighestModSeq, after.HighestModSeq)
	}

	x, err = e.s.Expunge(ctx, inbox.ID, []sealpost.UID{1, 3})
	if err != nil || len(x.UIDs) != 0 || len(x.Blobs) != 0 || x.ModSeq != 0 {
		t.Fatalf("Expunge of gone UIDs = %+v, %v", x, err)
	}
	if again := e.mailbox(a.ID, "INBOX"); again.HighestModSeq != after.HighestModSeq {
		t.Fatalf("Expunge of gone UIDs moved HIGHESTMODSEQ from %d to %d", after.HighestModSeq, again.HighestModSeq)
	}
	_, err = e.s.Expunge(ctx, e.goneMailbox(a.ID), []sealpost.UID{1})
	wantKind(t, err, errors.NotExist, "Expunge in a deleted mailbox")
}

func testCopy(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox, archive := e.mailbox(a.ID, "INBOX"), e.mailbox(a.ID, "Archive")
	in := []sealpost.NewMessage{newMsg(inbox.ID, `\Seen`), newMsg(inbox.ID, `$X`)}
	in[1].SessionKey = []byte("sk")
	in[1].InternalDate = date.Add(time.Hour)
	src := e.add(in...)
	e.add(newMsg(archive.ID)) // archive's next UID is 2

	copies, err := e.s.CopyMessages(ctx, inbox.ID, []sealpost.UID{2, 77, 1}, archive.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != 2 {
		t.Fatalf("CopyMessages returned %d copies, want 2", len(copies))
	}
	for i, from := range []sealpost.Message{src[1], src[0]} {
		c := copies[i]
		if c.Mailbox != archive.ID || c.UID != sealpost.UID(i+2) || c.ID == from.ID ||
			c.Blob != from.Blob || c.Key != from.Key || c.Size != from.Size ||
			!c.InternalDate.Equal(from.InternalDate) || !slices.Equal(c.Flags, from.Flags) ||
			!bytes.Equal(c.SessionKey, from.SessionKey) || c.ModSeq == 0 {
			t.Fatalf("copy %d = %+v, of %+v", i, c, from)
		}
	}
	stored := e.messages(archive.ID)
	wantMessages(t, stored[1:], copies, "Archive after CopyMessages")
	if mb := e.mailbox(a.ID, "Archive"); mb.UIDNext != 4 || mb.HighestModSeq < copies[1].ModSeq {
		t.Fatalf("Archive after copy: %+v", mb)
	}
	// The source is unchanged.
	wantMessages(t, e.messages(inbox.ID), src, "INBOX after CopyMessages")

	// Not across accounts.
	b := e.account("bob@demo.example")
	bi := e.mailbox(b.ID, "INBOX")
	if _, err := e.s.CopyMessages(ctx, inbox.ID, []sealpost.UID{1}, bi.ID, 0); err == nil {
		t.Fatal("CopyMessages into another account's mailbox succeeded")
	}
	if got := e.messages(bi.ID); len(got) != 0 {
		t.Fatalf("a refused cross-account copy left %d messages", len(got))
	}
	_, err = e.s.CopyMessages(ctx, inbox.ID, []sealpost.UID{1}, e.goneMailbox(a.ID), 0)
	wantKind(t, err, errors.NotExist, "CopyMessages into a deleted mailbox")
	_, err = e.s.CopyMessages(ctx, e.goneMailbox(a.ID), []sealpost.UID{1}, archive.ID, 0)
	wantKind(t, err, errors.NotExist, "CopyMessages from a deleted mailbox")
}

func testCopySharesBlob(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox, archive, trash := e.mailbox(a.ID, "INBOX"), e.mailbox(a.ID, "Archive"), e.mailbox(a.ID, "Trash")
	m := e.add(newMsg(inbox.ID))[0]
	c1, err := e.s.CopyMessages(ctx, inbox.ID, []sealpost.UID{m.UID}, archive.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := e.s.CopyMessages(ctx, archive.ID, []sealpost.UID{c1[0].UID}, trash.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		mb   sealpost.MailboxID
		uid  sealpost.UID
		free bool
	}{
		{inbox.ID, m.UID, false},
		{trash.ID, c2[0].UID, false},
		{archive.ID, c1[0].UID, true}, // the last reference
	}
	for i, st := range steps {
		x, err := e.s.Expunge(ctx, st.mb, []sealpost.UID{st.uid})
		if err != nil || len(x.UIDs) != 1 {
			t.Fatalf("step %d: Expunge = %v, %v", i, x.UIDs, err)
		}
		if st.free {
			wantRefs(t, x.Blobs, "Expunge of the last copy", m.Blob)
		} else if len(x.Blobs) != 0 {
			t.Fatalf("step %d: Expunge freed %q while a copy remains", i, x.Blobs)
		}
	}
}

func testSessionKeys(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	out := e.add(newMsg(inbox.ID), newMsg(inbox.ID), newMsg(inbox.ID))
	gone := e.add(newMsg(inbox.ID))[0]
	if _, err := e.s.Expunge(ctx, inbox.ID, []sealpost.UID{gone.UID}); err != nil {
		t.Fatal(err)
	}
	err := e.s.SetSessionKeys(ctx, map[sealpost.MessageID][]byte{
		out[0].ID: []byte("key zero"),
		out[2].ID: []byte("key two"),
		gone.ID:   []byte("skipped"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := e.messages(inbox.ID)
	for i, want := range [][]byte{[]byte("key zero"), nil, []byte("key two")} {
		if !bytes.Equal(got[i].SessionKey, want) {
			t.Fatalf("message %d session key %q, want %q", i, got[i].SessionKey, want)
		}
		if got[i].ModSeq != out[i].ModSeq || !slices.Equal(got[i].Flags, out[i].Flags) {
			t.Fatalf("SetSessionKeys changed message %d: %+v", i, got[i])
		}
	}
	if err := e.s.SetSessionKeys(ctx, nil); err != nil {
		t.Fatalf("SetSessionKeys(nil): %v", err)
	}
}
