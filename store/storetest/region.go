package storetest

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// The RegionStore tests. Moving an account is Export from one store and
// Import into another, so several of them open a second store
// (env.another), as a second region would have.
var regionTests = []test{
	{"Claim", testClaim},
	{"ClaimConcurrent", testClaimConcurrent},
	{"ExportUnknown", testExportUnknown},
	{"ExportImport", testExportImport},
	{"AfterImport", testAfterImport},
	{"ImportBlobs", testImportBlobs},
	{"ImportExisting", testImportExisting},
	{"ImportInvalid", testImportInvalid},
	{"ImportRaisesUIDValidity", testImportRaisesUIDValidity},
	{"Inventory", testInventory},
}

func testClaim(t *testing.T, e *env) {
	wantKind(t, e.s.Claim(ctx, ""), errors.Invalid, "Claim of an empty region")
	if err := e.s.Claim(ctx, "ie"); err != nil {
		t.Fatalf("first Claim: %v", err)
	}
	if err := e.s.Claim(ctx, "ie"); err != nil {
		t.Fatalf("Claim of the same region again: %v", err)
	}
	err := e.s.Claim(ctx, "us")
	wantKind(t, err, errors.WrongRegion, "Claim of another region")
	if msg := err.Error(); !strings.Contains(msg, `ie`) || !strings.Contains(msg, `us`) {
		t.Fatalf("WrongRegion error %q does not name both regions", msg)
	}
	if err := e.s.Claim(ctx, "ie"); err != nil {
		t.Fatalf("Claim of the same region after a refused one: %v", err)
	}
}

// testClaimConcurrent races first claims of two regions: exactly one region
// wins, every claim of it succeeds, and every claim of the other fails.
func testClaimConcurrent(t *testing.T, e *env) {
	const n = 8
	regions := []sealpost.RegionID{"ie", "us"}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = e.s.Claim(ctx, regions[i%2]) })
	}
	wg.Wait()
	won := map[sealpost.RegionID]bool{}
	for i, err := range errs {
		switch {
		case err == nil:
			won[regions[i%2]] = true
		case !errors.Is(errors.WrongRegion, err):
			t.Fatalf("concurrent Claim(%s): %v", regions[i%2], err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("concurrent first claims: regions %v won, want exactly one", slices.Collect(maps.Keys(won)))
	}
	for i, err := range errs {
		if won[regions[i%2]] != (err == nil) {
			t.Fatalf("concurrent Claim(%s) = %v, though the winning region is %v", regions[i%2], err, slices.Collect(maps.Keys(won)))
		}
	}
	for _, r := range regions {
		err := e.s.Claim(ctx, r)
		if won[r] && err != nil {
			t.Fatalf("Claim(%s) after winning: %v", r, err)
		}
		if !won[r] {
			wantKind(t, err, errors.WrongRegion, "Claim of the losing region")
		}
	}
}

func testExportUnknown(t *testing.T, e *env) {
	_, err := e.s.ExportAccount(ctx, "nobody@demo.example")
	wantKind(t, err, errors.NotExist, "ExportAccount of an unknown address")
	a := e.account("alice@demo.example")
	if _, err := e.s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.ExportAccount(ctx, a.Address)
	wantKind(t, err, errors.NotExist, "ExportAccount of a deleted account")
}

// populate gives alice@demo.example (created here) what a lived-in account
// has: three key generations (the first inactive and without a password
// wrap, the last active), extra and unsubscribed mailboxes, messages under
// each key and under her own key (0), flags, session keys, a UID gap from
// an expunge, MODSEQs moved by STORE and copies sharing blobs. Bob, in the
// same store, has a message of his own. It returns alice and the blobs her
// messages reference.
func populate(e *env) (sealpost.Account, []sealpost.BlobRef) {
	t := e.t
	t.Helper()
	a := e.account("alice@demo.example")
	// Settings other than the defaults travel with the account, and so
	// do its objects.
	a.Settings = sealpost.AccountSettings{SaveSent: true, NoServerFilter: true}
	if err := e.s.SetSettings(ctx, a.ID, a.Settings); err != nil {
		t.Fatal(err)
	}
	e.putObjects(a.ID)
	k2 := testKey("second")
	k2.Account, k2.Active, k2.WrappedByPassword = a.ID, false, nil
	if _, err := e.s.PutKey(ctx, k2); err != nil {
		t.Fatal(err)
	}
	k3 := testKey("third")
	k3.Account = a.ID
	if _, err := e.s.PutKey(ctx, k3); err != nil {
		t.Fatal(err)
	}
	keys, err := e.s.Keys(ctx, a.ID)
	if err != nil || len(keys) != 3 {
		t.Fatalf("Keys: %+v, %v", keys, err)
	}
	k1 := keys[0]
	k1.WrappedByPassword = nil
	if _, err := e.s.PutKey(ctx, k1); err != nil {
		t.Fatal(err)
	}

	inbox := e.mailbox(a.ID, "INBOX")
	work := e.create(a.ID, "Work")
	sub := e.create(a.ID, "Work/2025 Ünïcode")
	if err := e.s.SetSubscribed(ctx, sub.ID, false); err != nil {
		t.Fatal(err)
	}
	msgs := []sealpost.NewMessage{
		newMsg(inbox.ID, `\Seen`),
		newMsg(inbox.ID),
		newMsg(inbox.ID, `$Work`, `\Answered`),
		newMsg(inbox.ID, `\Seen`),
		newMsg(inbox.ID),
		newMsg(sub.ID, `\Draft`),
	}
	for i := range msgs {
		msgs[i].Key = keys[i%3].ID
		msgs[i].Size = int64(1000 + i)
		msgs[i].InternalDate = date.Add(time.Duration(i) * time.Hour)
	}
	msgs[4].Key = 0
	msgs[0].SessionKey = []byte("session key 0")
	added := e.add(msgs...)
	if err := e.s.SetSessionKeys(ctx, map[sealpost.MessageID][]byte{added[2].ID: []byte("session key 2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Expunge(ctx, inbox.ID, []sealpost.UID{added[1].UID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SetFlags(ctx, inbox.ID, []sealpost.UID{added[3].UID}, sealpost.FlagsAdd, []sealpost.Flag{`\Flagged`}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CopyMessages(ctx, inbox.ID, []sealpost.UID{added[0].UID, added[4].UID}, work.ID, 0); err != nil {
		t.Fatal(err)
	}

	bob := e.account("bob@demo.example")
	e.add(newMsg(e.mailbox(bob.ID, "INBOX").ID))

	var blobs []sealpost.BlobRef
	for i, m := range added {
		if i != 1 {
			blobs = append(blobs, m.Blob)
		}
	}
	a, err = e.s.Account(ctx, a.Address)
	if err != nil {
		t.Fatal(err)
	}
	return a, blobs
}

// wantImageOf checks an exported image against what the store's other
// methods say about the account.
func wantImageOf(t *testing.T, e *env, img sealpost.AccountImage, a sealpost.Account) {
	t.Helper()
	if d := sameAccount(img.Account, a); d != "" || img.Account.ID != a.ID {
		t.Fatalf("exported account: %s (ID %d, want %d)", d, img.Account.ID, a.ID)
	}
	keys, err := e.s.Keys(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Keys) != len(keys) {
		t.Fatalf("exported %d keys, the store has %d", len(img.Keys), len(keys))
	}
	for i := range keys {
		if d := sameKey(img.Keys[i], keys[i]); d != "" || img.Keys[i].ID != keys[i].ID || img.Keys[i].Account != a.ID {
			t.Fatalf("exported key %d = %+v, want %+v (%s)", i, img.Keys[i], keys[i], d)
		}
	}
	mbs, err := e.s.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Mailboxes) != len(mbs) {
		t.Fatalf("exported %d mailboxes, the store has %d", len(img.Mailboxes), len(mbs))
	}
	for i, mb := range mbs {
		if got := img.Mailboxes[i].Mailbox; got != mb {
			t.Fatalf("exported mailbox %d = %+v, want %+v", i, got, mb)
		}
		wantMessages(t, img.Mailboxes[i].Messages, e.messages(mb.ID), "exported "+mb.Name)
	}
	wantObjects(t, img.Objects, e.allObjects(a.ID), "exported objects")
}

func sameAccount(got, want sealpost.Account) string {
	switch {
	case got.Address != want.Address:
		return fmt.Sprintf("Address %q, want %q", got.Address, want.Address)
	case !got.Created.Equal(want.Created):
		return fmt.Sprintf("Created %v, want %v", got.Created, want.Created)
	case !bytes.Equal(got.PasswordVerifier, want.PasswordVerifier):
		return fmt.Sprintf("PasswordVerifier %q, want %q", got.PasswordVerifier, want.PasswordVerifier)
	case got.OwnKey != want.OwnKey:
		return fmt.Sprintf("OwnKey %v, want %v", got.OwnKey, want.OwnKey)
	case got.Settings != want.Settings:
		return fmt.Sprintf("Settings %+v, want %+v", got.Settings, want.Settings)
	}
	return ""
}

// sameKey compares key generations but for their IDs and accounts.
func sameKey(got, want sealpost.Key) string {
	switch {
	case !got.Created.Equal(want.Created):
		return fmt.Sprintf("Created %v, want %v", got.Created, want.Created)
	case !bytes.Equal(got.PublicKey, want.PublicKey):
		return fmt.Sprintf("PublicKey %q, want %q", got.PublicKey, want.PublicKey)
	case !bytes.Equal(got.WrappedByPassword, want.WrappedByPassword):
		return fmt.Sprintf("WrappedByPassword %q, want %q", got.WrappedByPassword, want.WrappedByPassword)
	case !bytes.Equal(got.WrappedByRecovery, want.WrappedByRecovery):
		return fmt.Sprintf("WrappedByRecovery %q, want %q", got.WrappedByRecovery, want.WrappedByRecovery)
	case got.Active != want.Active:
		return fmt.Sprintf("Active %v, want %v", got.Active, want.Active)
	}
	return ""
}

// wantSameImage checks that got, exported from the store an image was
// imported into, holds exactly what want did: everything equal but the IDs,
// which are the importing store's, and messages' keys, re-pointed from
// want's generations to the same generations in got.
func wantSameImage(t *testing.T, got, want sealpost.AccountImage) {
	t.Helper()
	if d := sameAccount(got.Account, want.Account); d != "" {
		t.Fatalf("imported account: %s", d)
	}
	if len(got.Keys) != len(want.Keys) {
		t.Fatalf("imported %d keys, want %d", len(got.Keys), len(want.Keys))
	}
	keyIDs := map[sealpost.KeyID]sealpost.KeyID{0: 0}
	for i := range got.Keys {
		if d := sameKey(got.Keys[i], want.Keys[i]); d != "" {
			t.Fatalf("imported key %d: %s", i, d)
		}
		if got.Keys[i].Account != got.Account.ID || got.Keys[i].ID == 0 {
			t.Fatalf("imported key %d = %+v, in account %d", i, got.Keys[i], got.Account.ID)
		}
		keyIDs[want.Keys[i].ID] = got.Keys[i].ID
	}
	if len(got.Mailboxes) != len(want.Mailboxes) {
		t.Fatalf("imported %d mailboxes, want %d", len(got.Mailboxes), len(want.Mailboxes))
	}
	for i := range got.Mailboxes {
		g, w := got.Mailboxes[i].Mailbox, want.Mailboxes[i].Mailbox
		if g.Account != got.Account.ID || g.ID == 0 {
			t.Fatalf("imported mailbox %q = %+v, in account %d", g.Name, g, got.Account.ID)
		}
		w.ID, w.Account = g.ID, g.Account
		if g != w {
			t.Fatalf("imported mailbox %d = %+v, want %+v", i, g, w)
		}
		var wantMsgs []sealpost.Message
		for j, m := range want.Mailboxes[i].Messages {
			if j < len(got.Mailboxes[i].Messages) {
				m.ID = got.Mailboxes[i].Messages[j].ID
			}
			m.Mailbox = g.ID
			m.Key = keyIDs[m.Key]
			wantMsgs = append(wantMsgs, m)
		}
		wantMessages(t, got.Mailboxes[i].Messages, wantMsgs, "imported "+g.Name)
	}
	wantObjects(t, got.Objects, withAccount(want.Objects, got.Account.ID), "imported objects")
}

// cloneImage copies an image deeply enough for a test to change it.
func cloneImage(img sealpost.AccountImage) sealpost.AccountImage {
	out := img
	out.Keys = slices.Clone(img.Keys)
	out.Objects = slices.Clone(img.Objects)
	out.Mailboxes = slices.Clone(img.Mailboxes)
	for i := range out.Mailboxes {
		out.Mailboxes[i].Messages = slices.Clone(out.Mailboxes[i].Messages)
		for j := range out.Mailboxes[i].Messages {
			m := &out.Mailboxes[i].Messages[j]
			m.Flags = slices.Clone(m.Flags)
		}
	}
	return out
}

func (e *env) export(addr string) sealpost.AccountImage {
	e.t.Helper()
	img, err := e.s.ExportAccount(ctx, addr)
	if err != nil {
		e.t.Fatalf("ExportAccount(%s): %v", addr, err)
	}
	return img
}

func (e *env) importImage(img sealpost.AccountImage) sealpost.Account {
	e.t.Helper()
	a, err := e.s.ImportAccount(ctx, img)
	if err != nil {
		e.t.Fatalf("ImportAccount(%s): %v", img.Account.Address, err)
	}
	return a
}

func testExportImport(t *testing.T, e *env) {
	a, blobs := populate(e)
	img := e.export(a.Address)
	wantImageOf(t, e, img, a)
	if img2 := e.export(strings.ToUpper(a.Address)); len(img2.Mailboxes) != len(img.Mailboxes) {
		t.Fatalf("ExportAccount of the address in upper case: %d mailboxes, want %d", len(img2.Mailboxes), len(img.Mailboxes))
	}
	keep := cloneImage(img)

	// The second store already holds other rows, so that its IDs differ.
	dst := e.another()
	carol := dst.account("carol@demo.example")
	dst.add(newMsg(dst.mailbox(carol.ID, "INBOX").ID))
	dst.goneMailbox(carol.ID)
	got := dst.importImage(img)
	if d := sameAccount(got, a); d != "" || got.ID == 0 || got.ID == carol.ID {
		t.Fatalf("ImportAccount returned %+v: %s", got, d)
	}
	if stored, err := dst.s.Account(ctx, a.Address); err != nil || stored.ID != got.ID || sameAccount(stored, got) != "" {
		t.Fatalf("Account after import = %+v, %v; want %+v", stored, err, got)
	}
	back := dst.export(a.Address)
	wantImageOf(t, dst, back, got)
	wantSameImage(t, back, keep)
	for _, u := range []sealpost.SpecialUse{sealpost.UseInbox, sealpost.UseSent, sealpost.UseTrash} {
		if mb, err := dst.s.MailboxByUse(ctx, got.ID, u); err != nil || mb.Account != got.ID {
			t.Fatalf("MailboxByUse(%s) after import: %+v, %v", u, mb, err)
		}
	}
	// Carol is untouched, and the image passed in was not changed.
	if ms := dst.messages(dst.mailbox(carol.ID, "INBOX").ID); len(ms) != 1 {
		t.Fatalf("carol has %d messages after the import, want 1", len(ms))
	}
	wantSameImage(t, img, keep)

	// The second store's inventory knows the imported account and its blobs.
	inv, err := dst.s.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if inv.Blobs[b] != a.Address {
			t.Fatalf("Inventory.Blobs[%s] = %q after import, want %q", b, inv.Blobs[b], a.Address)
		}
	}
	if len(inv.Accounts) != 2 || inv.Accounts[0].Address != a.Address || inv.Accounts[1].Address != carol.Address {
		t.Fatalf("Inventory.Accounts after import: %+v", inv.Accounts)
	}
}

// testAfterImport checks that an imported account keeps working: new mail
// continues its mailboxes' UIDs and MODSEQs, and new mailboxes get
// UIDVALIDITY values none of the imported mailboxes has, greater than the
// old one for a mailbox re-created under an imported name. The imported
// values are chosen just above what the importing store would hand out
// next, as when the region the account comes from has a counter ahead of
// this one's. (The account moves out of the store and back, which saves
// opening a second one: the store cannot tell.)
func testAfterImport(t *testing.T, e *env) {
	a, _ := populate(e)
	img := e.export(a.Address)
	if _, err := e.s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	dst := e
	carol := dst.account("carol@demo.example")
	probe := dst.create(carol.ID, "probe")
	imported := map[uint32]string{}
	for i := range img.Mailboxes {
		mb := &img.Mailboxes[i].Mailbox
		mb.UIDValidity = probe.UIDValidity + 1 + uint32(i)
		imported[mb.UIDValidity] = mb.Name
	}
	got := dst.importImage(img)

	for _, mi := range img.Mailboxes {
		mb := dst.mailbox(got.ID, mi.Mailbox.Name)
		added := dst.add(sealpost.NewMessage{Mailbox: mb.ID, InternalDate: date, Size: 1, Blob: newBlob()})[0]
		if added.UID != mi.Mailbox.UIDNext || added.ModSeq <= mi.Mailbox.HighestModSeq {
			t.Fatalf("%s: new message has UID %d, MODSEQ %d; imported UIDNEXT %d, HIGHESTMODSEQ %d",
				mb.Name, added.UID, added.ModSeq, mi.Mailbox.UIDNext, mi.Mailbox.HighestModSeq)
		}
		after := dst.mailbox(got.ID, mi.Mailbox.Name)
		if after.UIDNext != added.UID+1 || after.HighestModSeq < added.ModSeq || after.UIDValidity != mi.Mailbox.UIDValidity {
			t.Fatalf("%s after a delivery: %+v", mb.Name, after)
		}
	}
	// STORE on an imported message moves MODSEQ past everything.
	inbox := dst.mailbox(got.ID, "INBOX")
	first := dst.messages(inbox.ID)[0]
	changed, err := dst.s.SetFlags(ctx, inbox.ID, []sealpost.UID{first.UID}, sealpost.FlagsAdd, []sealpost.Flag{`$Moved`})
	if err != nil || len(changed) != 1 || changed[0].ModSeq <= inbox.HighestModSeq {
		t.Fatalf("SetFlags after import: %+v, %v (HIGHESTMODSEQ was %d)", changed, err, inbox.HighestModSeq)
	}

	for i := range 3 {
		mb := dst.create(got.ID, fmt.Sprintf("New %d", i))
		if name, ok := imported[mb.UIDValidity]; ok {
			t.Fatalf("new mailbox %q got UIDVALIDITY %d, which imported %q has", mb.Name, mb.UIDValidity, name)
		}
	}
	work := dst.mailbox(got.ID, "Work")
	if _, err := dst.s.DeleteMailbox(ctx, work.ID); err != nil {
		t.Fatal(err)
	}
	again := dst.create(got.ID, "Work")
	if again.UIDValidity <= work.UIDValidity {
		t.Fatalf("Work re-created after import with UIDVALIDITY %d, not above the imported %d (RFC 9051 2.3.1.1)",
			again.UIDValidity, work.UIDValidity)
	}
}

// testImportBlobs checks blob references after an import: a blob two
// imported messages share (a copy) is freed with the second, and one the
// importing store's queue also holds is not freed by the account's
// deletion. (The account moves out of the store and back.)
func testImportBlobs(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX")
	keys, err := e.s.Keys(ctx, a.ID)
	if err != nil || len(keys) == 0 {
		t.Fatalf("Keys: %+v, %v", keys, err)
	}
	var nms []sealpost.NewMessage
	for range 4 {
		m := newMsg(inbox.ID)
		m.Key = keys[0].ID
		nms = append(nms, m)
	}
	ms := e.add(nms...)
	if _, err := e.s.CopyMessages(ctx, inbox.ID, []sealpost.UID{ms[0].UID, ms[1].UID}, e.mailbox(a.ID, "Archive").ID, 0); err != nil {
		t.Fatal(err)
	}
	img := e.export(a.Address)
	blobs, err := e.s.DeleteAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, blobs, "DeleteAccount before the import", ms[0].Blob, ms[1].Blob, ms[2].Blob, ms[3].Blob)

	dst := e
	qid := dst.enqueue(sealpost.QueuedMessage{From: a.Address, Recipients: []string{"x@elsewhere.example"}, Blob: ms[3].Blob, Size: 1})
	got := dst.importImage(img)
	dinbox, darchive := dst.mailbox(got.ID, "INBOX"), dst.mailbox(got.ID, "Archive")

	// The first copy goes: its blob is still in INBOX.
	x, err := dst.s.Expunge(ctx, darchive.ID, []sealpost.UID{1})
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, x.Blobs, "Expunge of an imported copy")
	// Then the original: now the blob is free.
	x, err = dst.s.Expunge(ctx, dinbox.ID, []sealpost.UID{ms[0].UID})
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, x.Blobs, "Expunge of the last imported reference", ms[0].Blob)

	blobs, err = dst.s.DeleteAccount(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, blobs, "DeleteAccount after import", ms[1].Blob, ms[2].Blob)
	blobs, err = dst.s.Dequeue(ctx, qid)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, blobs, "Dequeue of the blob the imported account shared", ms[3].Blob)
}

func testImportExisting(t *testing.T, e *env) {
	a, _ := populate(e)
	img := e.export(a.Address)

	// An account created here first.
	dst := e.another()
	here := dst.account(a.Address)
	_, err := dst.s.ImportAccount(ctx, img)
	wantKind(t, err, errors.Exist, "ImportAccount of an address with an account")
	if keys, err := dst.s.Keys(ctx, here.ID); err != nil || len(keys) != 1 {
		t.Fatalf("the existing account's keys after a refused import: %+v, %v", keys, err)
	}
	if mbs, err := dst.s.Mailboxes(ctx, here.ID); err != nil || len(mbs) != len(sealpost.DefaultMailboxes) {
		t.Fatalf("the existing account's mailboxes after a refused import: %d, %v", len(mbs), err)
	}

	// A domain not hosted here.
	unhosted := cloneImage(img)
	unhosted.Account.Address = "alice@unhosted.example"
	_, err = dst.s.ImportAccount(ctx, unhosted)
	wantKind(t, err, errors.NotExist, "ImportAccount in an unhosted domain")
	if as, err := dst.s.Accounts(ctx); err != nil || len(as) != 1 || as[0].ID != here.ID {
		t.Fatalf("Accounts after a refused import: %+v, %v", as, err)
	}

	// The same image twice, the second time under another spelling.
	twice := cloneImage(img)
	twice.Account.Address = "zed@demo.example"
	got := dst.importImage(twice)
	twice.Account.Address = "ZED@demo.example"
	_, err = dst.s.ImportAccount(ctx, twice)
	wantKind(t, err, errors.Exist, "ImportAccount twice")
	if mbs, err := dst.s.Mailboxes(ctx, got.ID); err != nil || len(mbs) != len(img.Mailboxes) {
		t.Fatalf("mailboxes after a second import: %d, %v; want %d", len(mbs), err, len(img.Mailboxes))
	}
	if as, err := dst.s.Accounts(ctx); err != nil || len(as) != 2 {
		t.Fatalf("Accounts after a second import: %+v, %v", as, err)
	}
}

// handmadeImage is a valid image built by hand, as another implementation
// (or an older version) might export it.
func handmadeImage() sealpost.AccountImage {
	msg := func(uid sealpost.UID, modseq uint64, key sealpost.KeyID, flags ...sealpost.Flag) sealpost.Message {
		return sealpost.Message{UID: uid, Flags: flags, InternalDate: date.Add(time.Duration(uid) * time.Minute),
			Size: int64(100 * uid), ModSeq: modseq, Blob: newBlob(), Key: key}
	}
	inbox := []sealpost.Message{msg(3, 5, 7, `\Seen`), msg(7, 20, 9, `$Work`, `\Flagged`), msg(8, 12, 0)}
	inbox[1].SessionKey = []byte("wrapped session key")
	return sealpost.AccountImage{
		Account: sealpost.Account{ID: 41, Address: "dave@demo.example", Created: date.Add(-time.Hour),
			PasswordVerifier: []byte("verifier")},
		Keys: []sealpost.Key{
			{ID: 7, Account: 41, Created: date.Add(-time.Hour), PublicKey: []byte("pk 7"), WrappedByRecovery: []byte("rec 7")},
			{ID: 9, Account: 41, Created: date, PublicKey: []byte("pk 9"), WrappedByPassword: []byte("pw 9"),
				WrappedByRecovery: []byte("rec 9"), Active: true},
		},
		Mailboxes: []sealpost.MailboxImage{
			{Mailbox: sealpost.Mailbox{ID: 5, Account: 41, Name: "INBOX", Use: sealpost.UseInbox, Subscribed: true,
				UIDValidity: 1000, UIDNext: 10, HighestModSeq: 20}, Messages: inbox},
			{Mailbox: sealpost.Mailbox{ID: 6, Account: 41, Name: "Work", UIDValidity: 1001, UIDNext: 1, HighestModSeq: 1}},
		},
	}
}

func testImportInvalid(t *testing.T, e *env) {
	carol := e.account("carol@demo.example")
	base := handmadeImage()
	inbox := func(img *sealpost.AccountImage) []sealpost.Message { return img.Mailboxes[0].Messages }
	tests := []struct {
		name   string
		change func(img *sealpost.AccountImage)
	}{
		{"address without domain", func(img *sealpost.AccountImage) { img.Account.Address = "dave" }},
		{"address without local part", func(img *sealpost.AccountImage) { img.Account.Address = "@demo.example" }},
		{"empty mailbox name", func(img *sealpost.AccountImage) { img.Mailboxes[1].Mailbox.Name = "" }},
		{"empty hierarchy level", func(img *sealpost.AccountImage) { img.Mailboxes[1].Mailbox.Name = "Work//x" }},
		{"wildcard in name", func(img *sealpost.AccountImage) { img.Mailboxes[1].Mailbox.Name = "Work*" }},
		{"control character in name", func(img *sealpost.AccountImage) { img.Mailboxes[1].Mailbox.Name = "Wo\x01rk" }},
		{"mailbox twice", func(img *sealpost.AccountImage) { img.Mailboxes[1].Mailbox.Name = "INBOX" }},
		{"special use twice", func(img *sealpost.AccountImage) { img.Mailboxes[1].Mailbox.Use = sealpost.UseInbox }},
		{"UIDVALIDITY 0", func(img *sealpost.AccountImage) { img.Mailboxes[1].Mailbox.UIDValidity = 0 }},
		{"bad flag", func(img *sealpost.AccountImage) { inbox(img)[0].Flags = []sealpost.Flag{"(bad"} }},
		{"UIDs descending", func(img *sealpost.AccountImage) { m := inbox(img); m[0], m[1] = m[1], m[0] }},
		{"UID twice", func(img *sealpost.AccountImage) { inbox(img)[1].UID = inbox(img)[0].UID }},
		{"UID 0", func(img *sealpost.AccountImage) { inbox(img)[0].UID = 0 }},
		{"UID at UIDNEXT", func(img *sealpost.AccountImage) { inbox(img)[2].UID = 10 }},
		{"MODSEQ above HIGHESTMODSEQ", func(img *sealpost.AccountImage) { inbox(img)[0].ModSeq = 21 }},
		{"MODSEQ 0", func(img *sealpost.AccountImage) { inbox(img)[0].ModSeq = 0 }},
		{"unknown key", func(img *sealpost.AccountImage) { inbox(img)[0].Key = 8 }},
		{"no blob", func(img *sealpost.AccountImage) { inbox(img)[2].Blob = "" }},
		{"negative size", func(img *sealpost.AccountImage) { inbox(img)[2].Size = -1 }},
		{"key ID twice", func(img *sealpost.AccountImage) { img.Keys[1].ID = 7 }},
		{"key without ID", func(img *sealpost.AccountImage) { img.Keys[0].ID = 0 }},
		{"two active keys", func(img *sealpost.AccountImage) { img.Keys[0].Active = true }},
		// The bad part comes last: a store that checks as it inserts must
		// roll back what it inserted before.
		{"bad last message", func(img *sealpost.AccountImage) {
			img.Mailboxes[1].Messages = []sealpost.Message{inbox(img)[0], inbox(img)[0]}
			img.Mailboxes[1].Mailbox.UIDNext, img.Mailboxes[1].Mailbox.HighestModSeq = 100, 100
		}},
	}
	for _, tt := range tests {
		img := cloneImage(base)
		tt.change(&img)
		_, err := e.s.ImportAccount(ctx, img)
		wantKind(t, err, errors.Invalid, "ImportAccount with "+tt.name)
		_, err = e.s.Account(ctx, base.Account.Address)
		wantKind(t, err, errors.NotExist, "Account after a refused import ("+tt.name+")")
		if as, err := e.s.Accounts(ctx); err != nil || len(as) != 1 || as[0].ID != carol.ID {
			t.Fatalf("Accounts after a refused import (%s): %+v, %v", tt.name, as, err)
		}
		inv, err := e.s.Inventory(ctx)
		if err != nil || len(inv.Blobs) != 0 || len(inv.Orphans) != 0 {
			t.Fatalf("Inventory after a refused import (%s): %+v, %v", tt.name, inv, err)
		}
	}

	// The image they were all made from is valid, and round-trips.
	got := e.importImage(cloneImage(base))
	wantSameImage(t, e.export(got.Address), base)
}

func testInventory(t *testing.T, e *env) {
	inv, err := e.s.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Accounts) != 0 || len(inv.Blobs) != 0 || len(inv.Orphans) != 0 {
		t.Fatalf("Inventory of an empty store: %+v", inv)
	}
	a := e.account("alice@demo.example")
	b := e.account("bob@other.example")
	ainbox := e.mailbox(a.ID, "INBOX")
	as := e.add(newMsg(ainbox.ID), newMsg(ainbox.ID))
	if _, err := e.s.CopyMessages(ctx, ainbox.ID, []sealpost.UID{as[0].UID}, e.mailbox(a.ID, "Archive").ID, 0); err != nil {
		t.Fatal(err)
	}
	bs := e.add(newMsg(e.mailbox(b.ID, "INBOX").ID))
	queued := newBlob()
	for _, ref := range []sealpost.BlobRef{queued, as[1].Blob} {
		e.enqueue(sealpost.QueuedMessage{From: a.Address, Recipients: []string{"x@elsewhere.example"}, Blob: ref, Size: 1})
	}

	want := map[sealpost.BlobRef]string{
		as[0].Blob: a.Address,
		// A blob a message and the queue share is the message's account's:
		// the audit must keep it in that account's region.
		as[1].Blob: a.Address,
		bs[0].Blob: b.Address,
		queued:     "",
	}
	check := func(what string, accounts ...sealpost.Account) {
		t.Helper()
		inv, err := e.s.Inventory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Accounts) != len(accounts) {
			t.Fatalf("%s: Inventory.Accounts = %+v, want %+v", what, inv.Accounts, accounts)
		}
		for i := range accounts {
			if d := sameAccount(inv.Accounts[i], accounts[i]); d != "" || inv.Accounts[i].ID != accounts[i].ID {
				t.Fatalf("%s: Inventory.Accounts[%d]: %s", what, i, d)
			}
		}
		if !maps.Equal(inv.Blobs, want) {
			t.Fatalf("%s: Inventory.Blobs = %q, want %q", what, inv.Blobs, want)
		}
		if len(inv.Orphans) != 0 {
			t.Fatalf("%s: Inventory.Orphans = %q", what, inv.Orphans)
		}
	}
	check("two accounts", a, b)

	if _, err := e.s.DeleteAccount(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	delete(want, bs[0].Blob)
	check("after DeleteAccount", a)
}

// testImportRaisesUIDValidity checks that UIDVALIDITY values handed out
// after an import are above every imported one, and that importing a lower
// one does not bring them down (RFC 9051 2.3.1.1: a mailbox name never gets
// a UIDVALIDITY it had before).
func testImportRaisesUIDValidity(t *testing.T, e *env) {
	img := func(addr string, validity uint32) sealpost.AccountImage {
		return sealpost.AccountImage{
			Account: sealpost.Account{Address: addr},
			Mailboxes: []sealpost.MailboxImage{{Mailbox: sealpost.Mailbox{
				Name: "INBOX", Use: sealpost.UseInbox, UIDValidity: validity, UIDNext: 1, HighestModSeq: 1}}},
		}
	}
	e.domain("demo.example")
	a := e.importImage(img("a@demo.example", 4_000_000_000))
	first := e.create(a.ID, "First")
	if first.UIDValidity <= 4_000_000_000 {
		t.Fatalf("a mailbox created after importing UIDVALIDITY 4000000000 got %d", first.UIDValidity)
	}
	b := e.importImage(img("b@demo.example", 7))
	if second := e.create(b.ID, "Second"); second.UIDValidity <= first.UIDValidity {
		t.Fatalf("after importing UIDVALIDITY 7, a new mailbox got %d, not above %d", second.UIDValidity, first.UIDValidity)
	}
}
