package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// persistenceTests are what a store keeps across a restart, and what it
// says of rows it did not write: those of them whose hooks h has.
func persistenceTests(h Harness) []test {
	var out []test
	if h.Reopen != nil {
		out = append(out, test{"Reopen", testReopen}, test{"ClaimPersists", testClaimPersists})
	}
	if h.Orphan != nil {
		out = append(out, test{"Orphans", testOrphans})
	}
	return out
}

// testReopen closes a store with data in it and opens it again: calls on
// the closed store fail as Unavailable (the caller may retry elsewhere),
// and the reopened store has every row, with UIDVALIDITY still growing.
func testReopen(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	added := e.add(sealpost.NewMessage{Mailbox: inbox.ID, Blob: newBlob(), Size: 3, InternalDate: date, Flags: []sealpost.Flag{sealpost.FlagSeen}})
	s2 := e.h.Reopen(t, e.s)
	_, err := e.s.AddMessages(ctx, []sealpost.NewMessage{{Mailbox: inbox.ID, Blob: newBlob(), InternalDate: date}})
	wantKind(t, err, errors.Unavailable, "AddMessages after Close")

	got, err := s2.MailboxByName(ctx, a.ID, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	if got.UIDValidity != inbox.UIDValidity || got.UIDNext != 2 || got.ID != inbox.ID {
		t.Fatalf("INBOX after reopen = %+v, was %+v", got, inbox)
	}
	msgs, err := s2.Messages(ctx, inbox.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantMessages(t, msgs, added, "Messages after reopen")
	if acct, err := s2.Account(ctx, a.Address); err != nil || sameAccount(acct, a) != "" {
		t.Fatalf("Account after reopen = %+v, %v", acct, err)
	}
	mb, err := s2.CreateMailbox(ctx, a.ID, "New", sealpost.UseNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	if mb.UIDValidity <= inbox.UIDValidity {
		t.Fatalf("UIDVALIDITY %d after reopen, not above %d", mb.UIDValidity, inbox.UIDValidity)
	}
}

// testClaimPersists checks that a claim outlives the process that made it:
// a store reopened under another region refuses it.
func testClaimPersists(t *testing.T, e *env) {
	if err := e.s.Claim(ctx, "ie"); err != nil {
		t.Fatal(err)
	}
	s2 := e.h.Reopen(t, e.s)
	err := s2.Claim(ctx, "us")
	wantKind(t, err, errors.WrongRegion, "Claim(us) of a reopened store claimed by ie")
	if !strings.Contains(err.Error(), "ie") {
		t.Fatalf("WrongRegion error %q does not name the region that claimed the store", err)
	}
	if err := s2.Claim(ctx, "ie"); err != nil {
		t.Fatalf("Claim(ie) of a reopened store claimed by ie: %v", err)
	}
}

// testOrphans has the harness write rows no account owns and checks that
// Inventory names each (mailboxes, keys, objects, messages in an orphaned
// mailbox, then messages in a missing one) and keeps their blobs out of
// Blobs: the residency audit reports both.
func testOrphans(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	held := e.add(newMsg(e.mailbox(a.ID, "INBOX").ID))[0]
	e.h.Orphan(t, e.s)
	inv, err := e.s.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`mailbox 700 ("INBOX") of missing account 3`,
		`key 400 of missing account 3`,
		`sieve-script object "lost" of missing account 3`,
		`message 901 (blob "stray-blob") in mailbox 700 of missing account 3`,
		`message 900 (blob "lost-blob") in missing mailbox 2000`,
	}
	if !slices.Equal(inv.Orphans, want) {
		t.Fatalf("Orphans = %q, want %q", inv.Orphans, want)
	}
	if len(inv.Blobs) != 1 || inv.Blobs[held.Blob] != a.Address {
		t.Fatalf("Blobs = %q, want alice's one blob only", inv.Blobs)
	}
	if len(inv.Accounts) != 1 || inv.Accounts[0].ID != a.ID {
		t.Fatalf("Accounts = %+v", inv.Accounts)
	}
}
