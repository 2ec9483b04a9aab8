package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

var quotaTests = []test{
	{"UsageFollowsEveryChange", testUsageFollowsChanges},
	{"HoldNotCounted", testUsageHold},
	{"StorageLimitOnAdd", testStorageLimitAdd},
	{"StorageLimitOnCopy", testStorageLimitCopy},
	{"MailboxLimit", testMailboxLimit},
	{"Override", testQuotaOverride},
	{"ConcurrentDeliveriesStopAtLimit", testQuotaConcurrent},
	{"MoveKeepsUsageAndOverride", testQuotaMove},
}

func (e *env) usage(acct sealpost.AccountID) sealpost.Usage {
	e.t.Helper()
	u, err := e.s.Usage(ctx, acct)
	if err != nil {
		e.t.Fatalf("Usage(%d): %v", acct, err)
	}
	return u
}

func (e *env) wantUsage(acct sealpost.AccountID, storage, messages int64, what string) {
	e.t.Helper()
	u := e.usage(acct)
	if u.Storage != storage || u.Messages != messages {
		e.t.Fatalf("%s: usage %d bytes in %d messages, want %d in %d", what, u.Storage, u.Messages, storage, messages)
	}
}

// sized is newMsg with a size and a storage limit.
func sized(mb sealpost.MailboxID, size, limit int64) sealpost.NewMessage {
	m := newMsg(mb)
	m.Size, m.Limit = size, limit
	return m
}

func testUsageFollowsChanges(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	b := e.account("bob@demo.example")
	e.wantUsage(a.ID, 0, 0, "new account")
	if n := e.usage(a.ID).Mailboxes; n != int64(len(sealpost.DefaultMailboxes)) {
		t.Fatalf("new account has %d mailboxes, want %d", n, len(sealpost.DefaultMailboxes))
	}
	inbox, archive := e.mailbox(a.ID, "INBOX").ID, e.mailbox(a.ID, "Archive").ID
	// One call across two accounts charges each its own.
	e.add(sized(inbox, 100, 0), sized(inbox, 200, 0), sized(e.mailbox(b.ID, "INBOX").ID, 5000, 0))
	e.wantUsage(a.ID, 300, 2, "after two deliveries")
	e.wantUsage(b.ID, 5000, 1, "the other account")

	msgs := e.messages(inbox)
	if _, err := e.s.CopyMessages(ctx, inbox, uids(msgs), archive, 0); err != nil {
		t.Fatal(err)
	}
	e.wantUsage(a.ID, 600, 4, "after COPY (each copy counts, RFC 9208 STORAGE)")

	if _, err := e.s.Expunge(ctx, inbox, []sealpost.UID{msgs[0].UID, 999}); err != nil {
		t.Fatal(err)
	}
	e.wantUsage(a.ID, 500, 3, "after EXPUNGE of one message and an unknown UID")
	if _, err := e.s.Expunge(ctx, inbox, []sealpost.UID{msgs[0].UID}); err != nil {
		t.Fatal(err)
	}
	e.wantUsage(a.ID, 500, 3, "after a repeated EXPUNGE")

	if _, err := e.s.DeleteMailbox(ctx, archive); err != nil {
		t.Fatal(err)
	}
	e.wantUsage(a.ID, 200, 1, "after DELETE of a mailbox")
	if n := e.usage(a.ID).Mailboxes; n != int64(len(sealpost.DefaultMailboxes)-1) {
		t.Fatalf("after DELETE: %d mailboxes, want %d", n, len(sealpost.DefaultMailboxes)-1)
	}
	e.wantUsage(b.ID, 5000, 1, "the other account, untouched")

	if _, err := e.s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.Usage(ctx, a.ID)
	wantKind(t, err, errors.NotExist, "Usage of a deleted account")
}

// testUsageHold: the hidden legal-hold mailbox is neither counted nor
// limited (sealpost.Usage says why).
func testUsageHold(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	held, err := e.s.CreateMailbox(ctx, a.ID, sealpost.HeldMailbox, sealpost.UseHeld, 1)
	if err != nil {
		t.Fatalf("creating the hold mailbox beyond the mailbox limit: %v", err)
	}
	if n := e.usage(a.ID).Mailboxes; n != int64(len(sealpost.DefaultMailboxes)) {
		t.Fatalf("the hold mailbox is counted: %d mailboxes", n)
	}
	inbox := e.mailbox(a.ID, "INBOX").ID
	msgs := e.add(sized(inbox, 700, 0))
	if _, err := e.s.CopyMessages(ctx, inbox, uids(msgs), held.ID, 1); err != nil {
		t.Fatalf("retaining into the hold: %v", err)
	}
	if _, err := e.s.Expunge(ctx, inbox, uids(msgs)); err != nil {
		t.Fatal(err)
	}
	e.wantUsage(a.ID, 0, 0, "after a retained message's EXPUNGE")
	e.add(sized(held.ID, 50, 1))
	e.wantUsage(a.ID, 0, 0, "after a delivery into the hold")
	if _, err := e.s.DeleteMailbox(ctx, held.ID); err != nil {
		t.Fatal(err)
	}
	e.wantUsage(a.ID, 0, 0, "after the hold's release")
}

func testStorageLimitAdd(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox := e.mailbox(a.ID, "INBOX").ID
	e.add(sized(inbox, 600, 1000))
	_, err := e.s.AddMessages(ctx, []sealpost.NewMessage{sized(inbox, 401, 1000)})
	wantKind(t, err, errors.OverQuota, "a message one byte over the limit")
	if errors.IsErr(err, sealpost.ErrQuotaNeverFits) {
		t.Fatalf("a message that fits an empty account is said never to fit: %v", err)
	}
	_, err = e.s.AddMessages(ctx, []sealpost.NewMessage{sized(inbox, 1001, 1000)})
	wantKind(t, err, errors.OverQuota, "a message larger than the whole limit")
	if !errors.IsErr(err, sealpost.ErrQuotaNeverFits) {
		t.Fatalf("a message larger than the quota: %v, want ErrQuotaNeverFits", err)
	}
	// A call is all or nothing: the second message would not fit.
	_, err = e.s.AddMessages(ctx, []sealpost.NewMessage{sized(inbox, 300, 1000), sized(inbox, 300, 1000)})
	wantKind(t, err, errors.OverQuota, "two messages of which the second is over")
	if n := len(e.messages(inbox)); n != 1 {
		t.Fatalf("refused calls left %d messages, want 1", n)
	}
	e.wantUsage(a.ID, 600, 1, "after refused deliveries")
	e.add(sized(inbox, 400, 1000))
	e.wantUsage(a.ID, 1000, 2, "a message that fills the quota exactly")
	// Limit 0 is no check: what an unlimited account (and a move) uses.
	e.add(sized(inbox, 10, 0))
	e.wantUsage(a.ID, 1010, 3, "without a limit")
}

func testStorageLimitCopy(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	inbox, archive := e.mailbox(a.ID, "INBOX").ID, e.mailbox(a.ID, "Archive").ID
	msgs := e.add(sized(inbox, 300, 0), sized(inbox, 300, 0))
	_, err := e.s.CopyMessages(ctx, inbox, uids(msgs), archive, 1000)
	wantKind(t, err, errors.OverQuota, "COPY of 600 bytes onto 600 under a 1000-byte limit")
	if n := len(e.messages(archive)); n != 0 {
		t.Fatalf("a refused COPY copied %d messages", n)
	}
	e.wantUsage(a.ID, 600, 2, "after a refused COPY")
	if _, err := e.s.CopyMessages(ctx, inbox, uids(msgs[:1]), archive, 1000); err != nil {
		t.Fatalf("COPY that fits: %v", err)
	}
	e.wantUsage(a.ID, 900, 3, "after a COPY that fits")
}

func testMailboxLimit(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	n := int64(len(sealpost.DefaultMailboxes))
	if _, err := e.s.CreateMailbox(ctx, a.ID, "One", sealpost.UseNone, n+1); err != nil {
		t.Fatalf("creating the last mailbox the limit allows: %v", err)
	}
	_, err := e.s.CreateMailbox(ctx, a.ID, "Two", sealpost.UseNone, n+1)
	wantKind(t, err, errors.OverQuota, "a mailbox beyond the limit")
	if _, err := e.s.MailboxByName(ctx, a.ID, "Two"); !errors.Is(errors.NotExist, err) {
		t.Fatalf("the refused mailbox exists: %v", err)
	}
	_, err = e.s.CreateMailbox(ctx, a.ID, "One", sealpost.UseNone, n+1)
	wantKind(t, err, errors.Exist, "an existing name at the limit")
	if _, err := e.s.CreateMailbox(ctx, a.ID, "Two", sealpost.UseNone, 0); err != nil {
		t.Fatalf("limit 0 is no limit: %v", err)
	}
	// Concurrent creations cannot both take the last place.
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.s.CreateMailbox(ctx, a.ID, fmt.Sprintf("race-%d", i), sealpost.UseNone, n+3)
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(errors.OverQuota, err):
				t.Errorf("concurrent CreateMailbox: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || e.usage(a.ID).Mailboxes != n+3 {
		t.Fatalf("%d concurrent creations took the one place left; %d mailboxes", ok.Load(), e.usage(a.ID).Mailboxes)
	}
}

func testQuotaOverride(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	if a.Quota != (sealpost.Quota{}) {
		t.Fatalf("new account has override %+v", a.Quota)
	}
	q := sealpost.Quota{Storage: 5 << 30, Mailboxes: sealpost.NoLimit}
	if err := e.s.SetQuota(ctx, a.ID, q); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.Account(ctx, a.Address)
	if err != nil {
		t.Fatal(err)
	}
	if got.Quota != q {
		t.Fatalf("Account().Quota = %+v, want %+v", got.Quota, q)
	}
	list, err := e.s.Accounts(ctx)
	if err != nil || len(list) != 1 || list[0].Quota != q {
		t.Fatalf("Accounts() = %+v, %v; want the override", list, err)
	}
	wantKind(t, e.s.SetQuota(ctx, a.ID, sealpost.Quota{Storage: -2}), errors.Invalid, "a quota below -1")
	b := e.account("bob@demo.example")
	if _, err := e.s.DeleteAccount(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	wantKind(t, e.s.SetQuota(ctx, b.ID, q), errors.NotExist, "SetQuota of a deleted account")
	_, err = e.s.Usage(ctx, b.ID)
	wantKind(t, err, errors.NotExist, "Usage of a deleted account")
}

// testQuotaConcurrent: 32 deliveries race for room for 10; exactly 10 get
// in, and the usage says so.
func testQuotaConcurrent(t *testing.T, e *env) {
	const workers, size, room = 32, 100, 10
	a := e.account("alice@demo.example")
	boxes := []sealpost.MailboxID{e.mailbox(a.ID, "INBOX").ID, e.mailbox(a.ID, "Junk").ID}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.s.AddMessages(ctx, []sealpost.NewMessage{sized(boxes[w%2], size, room*size)})
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(errors.OverQuota, err):
				t.Errorf("worker %d: %v", w, err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != room {
		t.Fatalf("%d deliveries accepted, want %d", ok.Load(), room)
	}
	e.wantUsage(a.ID, room*size, room, "after the race")
	if n := len(e.messages(boxes[0])) + len(e.messages(boxes[1])); n != room {
		t.Fatalf("%d messages stored, want %d", n, room)
	}
}

func testQuotaMove(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	q := sealpost.Quota{Storage: 123456, Mailboxes: 50}
	if err := e.s.SetQuota(ctx, a.ID, q); err != nil {
		t.Fatal(err)
	}
	inbox := e.mailbox(a.ID, "INBOX").ID
	e.add(sized(inbox, 100, 0), sized(inbox, 250, 0))
	held, err := e.s.CreateMailbox(ctx, a.ID, sealpost.HeldMailbox, sealpost.UseHeld, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.add(sized(held.ID, 999, 0))

	dst := e.another()
	dst.domain("demo.example")
	b := dst.importImage(e.export(a.Address))
	if b.Quota != q {
		t.Fatalf("imported override %+v, want %+v", b.Quota, q)
	}
	dst.wantUsage(b.ID, 350, 2, "imported account")
}
