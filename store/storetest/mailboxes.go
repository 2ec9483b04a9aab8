package storetest

import (
	"sort"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

var mailboxTests = []test{
	{"Create", testCreateMailbox},
	{"InboxCaseInsensitive", testInboxCase},
	{"SortedByName", testMailboxesSorted},
	{"ByUse", testMailboxByUse},
	{"UIDValidityFresh", testUIDValidityFresh},
	{"Rename", testRenameMailbox},
	{"Subscribe", testSubscribe},
	{"Delete", testDeleteMailbox},
}

func testCreateMailbox(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	m, err := e.s.CreateMailbox(ctx, a.ID, "Projects", sealpost.UseNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID == 0 || m.Account != a.ID || m.Name != "Projects" || m.Use != sealpost.UseNone ||
		m.UIDNext != 1 || m.UIDValidity == 0 {
		t.Fatalf("CreateMailbox returned %+v", m)
	}
	got := e.mailbox(a.ID, "Projects")
	if got != m {
		t.Fatalf("MailboxByName = %+v, want %+v", got, m)
	}
	_, err = e.s.CreateMailbox(ctx, a.ID, "Projects", sealpost.UseNone, 0)
	wantKind(t, err, errors.Exist, "CreateMailbox twice")

	// A child is a mailbox of its own.
	child := e.create(a.ID, "Projects/2025")
	if child.ID == m.ID {
		t.Fatal("child shares its parent's ID")
	}

	// The same name in another account is another mailbox.
	b := e.account("bob@demo.example")
	bm := e.create(b.ID, "Projects")
	if bm.ID == m.ID || bm.Account != b.ID {
		t.Fatalf("bob's Projects = %+v", bm)
	}

	// With a special use.
	flagged, err := e.s.CreateMailbox(ctx, a.ID, "Starred", `\Flagged`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flagged.Use != `\Flagged` {
		t.Fatalf("CreateMailbox with a use: %+v", flagged)
	}

	gone := e.account("gone@demo.example")
	if _, err := e.s.DeleteAccount(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.CreateMailbox(ctx, gone.ID, "Projects", sealpost.UseNone, 0)
	wantKind(t, err, errors.NotExist, "CreateMailbox in a deleted account")
}

func testInboxCase(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	if inbox.Use != sealpost.UseInbox || inbox.Name != "INBOX" {
		t.Fatalf("INBOX = %+v", inbox)
	}
	for _, name := range []string{"inbox", "Inbox", "iNbOx"} {
		if got := e.mailbox(a.ID, name); got.ID != inbox.ID {
			t.Fatalf("MailboxByName(%q) = %+v, want INBOX", name, got)
		}
		_, err := e.s.CreateMailbox(ctx, a.ID, name, sealpost.UseNone, 0)
		wantKind(t, err, errors.Exist, "CreateMailbox("+name+")")
	}
	// Other names are case-sensitive.
	work := e.create(a.ID, "Work")
	_, err := e.s.MailboxByName(ctx, a.ID, "work")
	wantKind(t, err, errors.NotExist, `MailboxByName("work") with only "Work"`)
	lower := e.create(a.ID, "work")
	if lower.ID == work.ID {
		t.Fatal(`"work" and "Work" are the same mailbox`)
	}
	if got := e.mailbox(a.ID, "Work"); got.ID != work.ID {
		t.Fatalf(`MailboxByName("Work") = %+v`, got)
	}
	// So is a missing name.
	_, err = e.s.MailboxByName(ctx, a.ID, "Nowhere")
	wantKind(t, err, errors.NotExist, "MailboxByName of a missing name")
}

func testMailboxesSorted(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	for _, name := range []string{"b", "a/b", "B", "a", "Zeta", "a b", "Ärger", "a/B"} {
		e.create(a.ID, name)
	}
	mbs, err := e.s.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mbs {
		names = append(names, m.Name)
	}
	if !sort.StringsAreSorted(names) {
		t.Fatalf("Mailboxes not sorted by name: %q", names)
	}
	if len(names) != 8+len(sealpost.DefaultMailboxes) {
		t.Fatalf("Mailboxes = %q", names)
	}
}

func testMailboxByUse(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	junk, err := e.s.MailboxByUse(ctx, a.ID, sealpost.UseJunk)
	if err != nil || junk.Name != "Junk" {
		t.Fatalf("MailboxByUse(Junk) = %+v, %v", junk, err)
	}
	if _, err := e.s.DeleteMailbox(ctx, junk.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.MailboxByUse(ctx, a.ID, sealpost.UseJunk)
	wantKind(t, err, errors.NotExist, "MailboxByUse after deleting it")
	spam, err := e.s.CreateMailbox(ctx, a.ID, "Spam", sealpost.UseJunk, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.MailboxByUse(ctx, a.ID, sealpost.UseJunk); err != nil || got.ID != spam.ID {
		t.Fatalf("MailboxByUse(Junk) = %+v, %v; want Spam", got, err)
	}
	// Another account's mailboxes are not found.
	b := e.account("bob@demo.example")
	if got, err := e.s.MailboxByUse(ctx, b.ID, sealpost.UseJunk); err != nil || got.Account != b.ID {
		t.Fatalf("bob's MailboxByUse(Junk) = %+v, %v", got, err)
	}
}

func testUIDValidityFresh(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	prev := e.create(a.ID, "Again")
	for range 3 {
		if _, err := e.s.DeleteMailbox(ctx, prev.ID); err != nil {
			t.Fatal(err)
		}
		next := e.create(a.ID, "Again")
		// RFC 9051 2.3.1.1: a re-created name must not reuse UIDVALIDITY;
		// a strictly greater value is how clients detect it.
		if next.UIDValidity <= prev.UIDValidity {
			t.Fatalf("re-created mailbox has UIDVALIDITY %d, previous %d", next.UIDValidity, prev.UIDValidity)
		}
		if next.UIDNext != 1 {
			t.Fatalf("re-created mailbox starts at UIDNEXT %d", next.UIDNext)
		}
		prev = next
	}
}

func testRenameMailbox(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	before := map[string]sealpost.Mailbox{}
	for _, name := range []string{"a", "a/b", "a/b/c", "ab", "b"} {
		before[name] = e.create(a.ID, name)
	}
	msgs := e.add(newMsg(before["a/b"].ID))
	before["a/b"] = e.mailbox(a.ID, "a/b")

	if err := e.s.RenameMailbox(ctx, before["a"].ID, "x"); err != nil {
		t.Fatal(err)
	}
	for old, now := range map[string]string{"a": "x", "a/b": "x/b", "a/b/c": "x/b/c", "ab": "ab", "b": "b"} {
		got := e.mailbox(a.ID, now)
		want := before[old]
		if got.ID != want.ID || got.UIDValidity != want.UIDValidity || got.UIDNext != want.UIDNext || got.Use != want.Use {
			t.Fatalf("%q renamed to %q: %+v, was %+v", old, now, got, want)
		}
		if old != now {
			_, err := e.s.MailboxByName(ctx, a.ID, old)
			wantKind(t, err, errors.NotExist, "old name "+old+" after rename")
		}
	}
	wantMessages(t, e.messages(before["a/b"].ID), msgs, "messages of a renamed child")

	// Collisions.
	err := e.s.RenameMailbox(ctx, before["a"].ID, "b") // now named "x"
	wantKind(t, err, errors.Exist, "RenameMailbox onto an existing name")
	e.create(a.ID, "y/b")
	err = e.s.RenameMailbox(ctx, before["a"].ID, "y")
	wantKind(t, err, errors.Exist, "RenameMailbox whose child would collide")
	// Nothing moved in the failed attempt.
	if got := e.mailbox(a.ID, "x/b"); got.ID != before["a/b"].ID {
		t.Fatalf("a failed rename moved a child: %+v", got)
	}
	_, err = e.s.MailboxByName(ctx, a.ID, "y")
	wantKind(t, err, errors.NotExist, "target of a failed rename")

	// A renamed special-use mailbox keeps its use.
	sent := e.mailbox(a.ID, "Sent")
	if err := e.s.RenameMailbox(ctx, sent.ID, "Sent Items"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.MailboxByUse(ctx, a.ID, sealpost.UseSent); err != nil || got.ID != sent.ID || got.Name != "Sent Items" {
		t.Fatalf("MailboxByUse(Sent) after rename = %+v, %v", got, err)
	}

	gone := e.goneMailbox(a.ID)
	wantKind(t, e.s.RenameMailbox(ctx, gone, "z"), errors.NotExist, "RenameMailbox of a deleted mailbox")
}

func testSubscribe(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	m := e.mailbox(a.ID, "Archive")
	for _, sub := range []bool{false, true, false} {
		if err := e.s.SetSubscribed(ctx, m.ID, sub); err != nil {
			t.Fatal(err)
		}
		if got := e.mailbox(a.ID, "Archive"); got.Subscribed != sub {
			t.Fatalf("Subscribed = %v, want %v", got.Subscribed, sub)
		}
	}
	if got := e.mailbox(a.ID, "Sent"); !got.Subscribed {
		t.Fatal("SetSubscribed changed another mailbox")
	}
	wantKind(t, e.s.SetSubscribed(ctx, e.goneMailbox(a.ID), true), errors.NotExist, "SetSubscribed of a deleted mailbox")
}

func testDeleteMailbox(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	parent := e.create(a.ID, "p")
	child := e.create(a.ID, "p/c")
	archive := e.mailbox(a.ID, "Archive")
	ms := e.add(newMsg(parent.ID), newMsg(parent.ID), newMsg(child.ID))
	// The second message is also in Archive: its blob stays referenced.
	if _, err := e.s.CopyMessages(ctx, parent.ID, []sealpost.UID{ms[1].UID}, archive.ID, 0); err != nil {
		t.Fatal(err)
	}
	blobs, err := e.s.DeleteMailbox(ctx, parent.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, blobs, "DeleteMailbox", ms[0].Blob)
	_, err = e.s.MailboxByName(ctx, a.ID, "p")
	wantKind(t, err, errors.NotExist, "MailboxByName after DeleteMailbox")
	_, err = e.s.Messages(ctx, parent.ID, 0)
	wantKind(t, err, errors.NotExist, "Messages after DeleteMailbox")
	// The child is a mailbox of its own and stays.
	wantMessages(t, e.messages(e.mailbox(a.ID, "p/c").ID), ms[2:], "child after deleting its parent")
	if got := e.messages(archive.ID); len(got) != 1 || got[0].Blob != ms[1].Blob {
		t.Fatalf("Archive after deleting the copy's source: %+v", got)
	}
	_, err = e.s.DeleteMailbox(ctx, parent.ID)
	wantKind(t, err, errors.NotExist, "DeleteMailbox twice")

	// An empty mailbox frees nothing.
	empty := e.create(a.ID, "empty")
	if blobs, err := e.s.DeleteMailbox(ctx, empty.ID); err != nil || len(blobs) != 0 {
		t.Fatalf("DeleteMailbox(empty) = %q, %v", blobs, err)
	}
}
