package storetest

import (
	"bytes"
	"slices"
	"sort"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

var accountTests = []test{
	{"Domains", testDomains},
	{"CreateAccount", testCreateAccount},
	{"DefaultMailboxes", testDefaultMailboxes},
	{"Accounts", testAccounts},
	{"PasswordVerifier", testPasswordVerifier},
	{"Settings", testSettings},
	{"Keys", testKeys},
	{"DeleteAccount", testDeleteAccount},
}

func testDomains(t *testing.T, e *env) {
	ds, err := e.s.Domains(ctx)
	if err != nil || len(ds) != 0 {
		t.Fatalf("Domains on an empty store: %q, %v", ds, err)
	}
	for _, d := range []string{"b.example", "a.example", "c.example"} {
		if err := e.s.AddDomain(ctx, d); err != nil {
			t.Fatalf("AddDomain(%s): %v", d, err)
		}
	}
	wantKind(t, e.s.AddDomain(ctx, "a.example"), errors.Exist, "AddDomain twice")
	ds, err = e.s.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.example", "b.example", "c.example"}; !slices.Equal(ds, want) {
		t.Fatalf("Domains = %q, want %q", ds, want)
	}
}

func testCreateAccount(t *testing.T, e *env) {
	_, err := e.s.CreateAccount(ctx, sealpost.Account{Address: "alice@unhosted.example"}, testKey("x"))
	wantKind(t, err, errors.NotExist, "CreateAccount in an unhosted domain")

	e.domain("demo.example")
	in := sealpost.Account{Address: "alice@demo.example", PasswordVerifier: []byte("verifier"), OwnKey: true}
	a, err := e.s.CreateAccount(ctx, in, testKey("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.Created.IsZero() || a.Address != in.Address {
		t.Fatalf("CreateAccount returned %+v", a)
	}
	_, err = e.s.CreateAccount(ctx, in, testKey("alice"))
	wantKind(t, err, errors.Exist, "CreateAccount twice")

	got, err := e.s.Account(ctx, "alice@demo.example")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Address != a.Address || !got.Created.Equal(a.Created) ||
		!bytes.Equal(got.PasswordVerifier, in.PasswordVerifier) || !got.OwnKey {
		t.Fatalf("Account = %+v, want %+v", got, a)
	}
	_, err = e.s.Account(ctx, "bob@demo.example")
	wantKind(t, err, errors.NotExist, "Account of an unknown address")

	b, err := e.s.CreateAccount(ctx, sealpost.Account{Address: "bob@demo.example"}, testKey("bob"))
	if err != nil {
		t.Fatal(err)
	}
	if b.ID == a.ID {
		t.Fatalf("two accounts share ID %d", a.ID)
	}
	if got, err := e.s.Account(ctx, "bob@demo.example"); err != nil || got.OwnKey || len(got.PasswordVerifier) != 0 {
		t.Fatalf("Account(bob) = %+v, %v", got, err)
	}

	keys, err := e.s.Keys(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := testKey("alice")
	if len(keys) != 1 {
		t.Fatalf("a new account has %d keys, want 1", len(keys))
	}
	k := keys[0]
	if k.ID == 0 || k.Account != a.ID || !k.Active || k.Created.IsZero() ||
		!bytes.Equal(k.PublicKey, want.PublicKey) ||
		!bytes.Equal(k.WrappedByPassword, want.WrappedByPassword) ||
		!bytes.Equal(k.WrappedByRecovery, want.WrappedByRecovery) {
		t.Fatalf("first key = %+v", k)
	}
}

func testDefaultMailboxes(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	mbs, err := e.s.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mbs) != len(sealpost.DefaultMailboxes) {
		t.Fatalf("a new account has %d mailboxes, want %d", len(mbs), len(sealpost.DefaultMailboxes))
	}
	byName := map[string]sealpost.Mailbox{}
	for _, m := range mbs {
		byName[m.Name] = m
	}
	for _, d := range sealpost.DefaultMailboxes {
		m, ok := byName[d.Name]
		switch {
		case !ok:
			t.Fatalf("no default mailbox %q", d.Name)
		case m.Use != d.Use || m.Account != a.ID || !m.Subscribed || m.UIDNext != 1 || m.UIDValidity == 0 || m.ID == 0:
			t.Fatalf("default mailbox %q = %+v", d.Name, m)
		}
		byUse, err := e.s.MailboxByUse(ctx, a.ID, d.Use)
		if err != nil || byUse.ID != m.ID {
			t.Fatalf("MailboxByUse(%s) = %+v, %v; want %q", d.Use, byUse, err, d.Name)
		}
	}
}

func testAccounts(t *testing.T, e *env) {
	if as, err := e.s.Accounts(ctx); err != nil || len(as) != 0 {
		t.Fatalf("Accounts on an empty store: %v, %v", as, err)
	}
	for _, addr := range []string{"carol@b.example", "alice@b.example", "bob@a.example"} {
		e.account(addr)
	}
	as, err := e.s.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range as {
		got = append(got, a.Address)
	}
	want := []string{"alice@b.example", "bob@a.example", "carol@b.example"}
	if !slices.Equal(got, want) {
		t.Fatalf("Accounts = %q, want %q", got, want)
	}
}

func testPasswordVerifier(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	if err := e.s.SetPasswordVerifier(ctx, a.ID, []byte("new verifier")); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.Account(ctx, a.Address)
	if err != nil || !bytes.Equal(got.PasswordVerifier, []byte("new verifier")) {
		t.Fatalf("after SetPasswordVerifier: %+v, %v", got, err)
	}
	if _, err := e.s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	wantKind(t, e.s.SetPasswordVerifier(ctx, a.ID, []byte("x")), errors.NotExist, "SetPasswordVerifier of a deleted account")
}

// testSettings: a new account has the default settings; SetSettings
// changes them for that account only, as Account and Accounts read them.
func testSettings(t *testing.T, e *env) {
	a, b := e.account("alice@demo.example"), e.account("bob@demo.example")
	if a.Settings != (sealpost.AccountSettings{}) {
		t.Fatalf("a new account's settings: %+v", a.Settings)
	}
	on := sealpost.AccountSettings{SaveSent: true}
	if err := e.s.SetSettings(ctx, a.ID, on); err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.Account(ctx, a.Address); err != nil || got.Settings != on {
		t.Fatalf("Account after SetSettings: %+v, %v", got, err)
	}
	if as, err := e.s.Accounts(ctx); err != nil || len(as) != 2 || as[0].Settings != on || as[1].Settings != (sealpost.AccountSettings{}) {
		t.Fatalf("Accounts after SetSettings of alice: %+v, %v", as, err)
	}
	if err := e.s.SetSettings(ctx, a.ID, sealpost.AccountSettings{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.Account(ctx, a.Address); got.Settings.SaveSent {
		t.Fatal("SetSettings back to the default did not take")
	}
	if _, err := e.s.DeleteAccount(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	wantKind(t, e.s.SetSettings(ctx, b.ID, on), errors.NotExist, "SetSettings of a deleted account")
}

// activeKeys returns the IDs of the active generations.
func activeKeys(keys []sealpost.Key) []sealpost.KeyID {
	var out []sealpost.KeyID
	for _, k := range keys {
		if k.Active {
			out = append(out, k.ID)
		}
	}
	return out
}

func testKeys(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	other := e.account("bob@demo.example")
	keys := func() []sealpost.Key {
		t.Helper()
		ks, err := e.s.Keys(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sort.SliceIsSorted(ks, func(i, j int) bool { return ks[i].ID < ks[j].ID }) {
			t.Fatalf("Keys not oldest first: %+v", ks)
		}
		return ks
	}
	first := keys()[0].ID

	// A new inactive generation leaves the first active.
	k2 := testKey("second")
	k2.Account, k2.Active = a.ID, false
	id2, err := e.s.PutKey(ctx, k2)
	if err != nil || id2 == 0 || id2 == first {
		t.Fatalf("PutKey(new inactive) = %d, %v", id2, err)
	}
	ks := keys()
	if len(ks) != 2 || ks[0].ID != first || ks[1].ID != id2 {
		t.Fatalf("Keys after a second generation: %+v", ks)
	}
	if got := activeKeys(ks); !slices.Equal(got, []sealpost.KeyID{first}) {
		t.Fatalf("active keys %v, want [%d]", got, first)
	}
	if !bytes.Equal(ks[1].PublicKey, k2.PublicKey) || ks[1].Account != a.ID {
		t.Fatalf("second key = %+v", ks[1])
	}

	// A new active generation deactivates every other.
	k3 := testKey("third")
	k3.Account = a.ID
	id3, err := e.s.PutKey(ctx, k3)
	if err != nil {
		t.Fatal(err)
	}
	if got := activeKeys(keys()); !slices.Equal(got, []sealpost.KeyID{id3}) {
		t.Fatalf("active keys %v, want [%d]", got, id3)
	}

	// Updating the first: drop its password wrap and make it active again.
	k1 := keys()[0]
	k1.WrappedByPassword = nil
	k1.WrappedByRecovery = []byte("new recovery wrap")
	k1.Active = true
	if id, err := e.s.PutKey(ctx, k1); err != nil || id != first {
		t.Fatalf("PutKey(update) = %d, %v; want %d", id, err, first)
	}
	ks = keys()
	if len(ks) != 3 {
		t.Fatalf("update added a key: %+v", ks)
	}
	if got := activeKeys(ks); !slices.Equal(got, []sealpost.KeyID{first}) {
		t.Fatalf("active keys %v, want [%d]", got, first)
	}
	if len(ks[0].WrappedByPassword) != 0 || !bytes.Equal(ks[0].WrappedByRecovery, []byte("new recovery wrap")) ||
		!bytes.Equal(ks[0].PublicKey, testKey("alice@demo.example").PublicKey) {
		t.Fatalf("updated key = %+v", ks[0])
	}

	// The other account's key is untouched by all this.
	oks, err := e.s.Keys(ctx, other.ID)
	if err != nil || len(oks) != 1 || !oks[0].Active {
		t.Fatalf("other account's keys: %+v, %v", oks, err)
	}

	// Unknown key, unknown account.
	bad := testKey("bad")
	bad.ID, bad.Account = id3+1000, a.ID
	_, err = e.s.PutKey(ctx, bad)
	wantKind(t, err, errors.NotExist, "PutKey of an unknown key")
	if _, err := e.s.DeleteAccount(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	bad.ID, bad.Account = 0, other.ID
	_, err = e.s.PutKey(ctx, bad)
	wantKind(t, err, errors.NotExist, "PutKey for a deleted account")
	oks, err = e.s.Keys(ctx, other.ID)
	wantNotExistOrEmpty(t, oks, err, "Keys of a deleted account")
}

func testDeleteAccount(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	b := e.account("bob@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	archive := e.mailbox(a.ID, "Archive")
	custom := e.create(a.ID, "Projects")

	ms := e.add(newMsg(inbox.ID), newMsg(inbox.ID), newMsg(custom.ID))
	// A copy shares the first message's blob.
	if _, err := e.s.CopyMessages(ctx, inbox.ID, []sealpost.UID{ms[0].UID}, archive.ID, 0); err != nil {
		t.Fatal(err)
	}
	// A queued message refers to the same blob as one of alice's messages.
	shared := newMsg(inbox.ID)
	e.add(shared)
	qid := e.enqueue(sealpost.QueuedMessage{From: a.Address, Recipients: []string{"x@elsewhere.example"}, Blob: shared.Blob, Size: 1})
	bobsInbox := e.mailbox(b.ID, "INBOX")
	bobs := e.add(newMsg(bobsInbox.ID))

	blobs, err := e.s.DeleteAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, blobs, "DeleteAccount", ms[0].Blob, ms[1].Blob, ms[2].Blob)

	_, err = e.s.Account(ctx, a.Address)
	wantKind(t, err, errors.NotExist, "Account after DeleteAccount")
	_, err = e.s.MailboxByName(ctx, a.ID, "INBOX")
	wantKind(t, err, errors.NotExist, "MailboxByName after DeleteAccount")
	mbs, err := e.s.Mailboxes(ctx, a.ID)
	wantNotExistOrEmpty(t, mbs, err, "Mailboxes after DeleteAccount")
	ks, err := e.s.Keys(ctx, a.ID)
	wantNotExistOrEmpty(t, ks, err, "Keys after DeleteAccount")
	_, err = e.s.Messages(ctx, inbox.ID, 0)
	wantKind(t, err, errors.NotExist, "Messages of a deleted account's mailbox")
	_, err = e.s.DeleteAccount(ctx, a.ID)
	wantKind(t, err, errors.NotExist, "DeleteAccount twice")

	// Bob is untouched.
	wantMessages(t, e.messages(bobsInbox.ID), bobs, "bob's INBOX")
	if as, err := e.s.Accounts(ctx); err != nil || len(as) != 1 || as[0].ID != b.ID {
		t.Fatalf("Accounts after DeleteAccount: %+v, %v", as, err)
	}

	// The queue still held the shared blob; dequeuing frees it.
	blobs, err = e.s.Dequeue(ctx, qid)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, blobs, "Dequeue", shared.Blob)

	// The address is free again, under a new ID.
	a2 := e.account(a.Address)
	if a2.ID == a.ID {
		t.Fatalf("account ID %d reused", a.ID)
	}
	if got := e.messages(e.mailbox(a2.ID, "INBOX").ID); len(got) != 0 {
		t.Fatalf("a re-created account sees %d old messages", len(got))
	}
}
