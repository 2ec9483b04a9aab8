package postbox_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/postbox"
)

// quotaMsg is a message of exactly 100 bytes.
var quotaMsg = []byte("Subject: q\r\n\r\n" + strings.Repeat("x", 84) + "\r\n")

func (e *env) usage(t *testing.T, addr string) sealpost.Usage {
	t.Helper()
	_, _, u, err := e.svc.AccountQuota(context.Background(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) blobCount(t *testing.T) int {
	t.Helper()
	n := 0
	if err := e.blobs.List(context.Background(), func(sealpost.BlobRef) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func deliverTo(e *env, raw []byte, rcpts ...string) error {
	return e.svc.Deliver(context.Background(), postbox.Envelope{From: "x@remote.example", Recipients: rcpts}, postbox.Bytes(raw))
}

func TestQuotaDelivery(t *testing.T) {
	if len(quotaMsg) != 100 {
		t.Fatalf("quotaMsg is %d bytes", len(quotaMsg))
	}
	ctx := context.Background()
	e := newEnvOpts(t, postbox.Options{Quota: sealpost.Quota{Storage: 250}})
	for _, a := range []string{"ann@example.org", "bob@example.org"} {
		if _, err := e.svc.CreateAccount(ctx, a, "password-"+a); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if err := deliverTo(e, quotaMsg, "ann@example.org"); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if err := e.svc.CheckQuota(ctx, "ann@example.org", 0); err != nil {
		t.Fatalf("CheckQuota with 50 bytes left: %v", err)
	}
	if err := e.svc.CheckQuota(ctx, "ann@example.org", 100); !errors.Is(errors.OverQuota, err) || errors.IsErr(err, sealpost.ErrQuotaNeverFits) {
		t.Fatalf("CheckQuota of 100 bytes with 50 left: %v, want OverQuota", err)
	}
	if err := e.svc.CheckQuota(ctx, "ann@example.org", 251); !errors.IsErr(err, sealpost.ErrQuotaNeverFits) {
		t.Fatalf("CheckQuota of more than the quota: %v, want ErrQuotaNeverFits", err)
	}
	blobs := e.blobCount(t)
	err := deliverTo(e, quotaMsg, "ann@example.org")
	if !errors.Is(errors.OverQuota, err) || errors.IsErr(err, sealpost.ErrQuotaNeverFits) {
		t.Fatalf("third delivery: %v, want OverQuota (transient)", err)
	}
	if n := e.blobCount(t); n != blobs {
		t.Fatalf("a refused delivery left %d blobs behind", n-blobs)
	}
	// With two recipients, the full one refuses the whole delivery (one
	// reply to DATA), and never permanently for the other.
	big := append([]byte("Subject: big\r\n\r\n"), make([]byte, 300)...)
	err = deliverTo(e, big, "bob@example.org", "ann@example.org")
	if !errors.Is(errors.OverQuota, err) || errors.IsErr(err, sealpost.ErrQuotaNeverFits) {
		t.Fatalf("delivery to two: %v, want transient OverQuota", err)
	}
	err = deliverTo(e, big, "bob@example.org")
	if !errors.IsErr(err, sealpost.ErrQuotaNeverFits) {
		t.Fatalf("a message larger than the quota: %v, want ErrQuotaNeverFits", err)
	}
	if u := e.usage(t, "bob@example.org"); u.Storage != 0 {
		t.Fatalf("bob's usage after refusals: %+v", u)
	}
	// The server's own notice is filed over quota.
	if err := e.svc.Deliver(ctx, postbox.Envelope{Recipients: []string{"ann@example.org"}, Notice: true}, postbox.Bytes(quotaMsg)); err != nil {
		t.Fatalf("notice to a full INBOX: %v", err)
	}
	if u := e.usage(t, "ann@example.org"); u.Storage != 300 || u.Messages != 3 {
		t.Fatalf("ann's usage: %+v, want 300 bytes in 3", u)
	}
	// An override lifts the default; the cache is forgotten at once.
	own, eff, _, err := e.svc.AccountQuota(ctx, "ann@example.org", &sealpost.Quota{Storage: sealpost.NoLimit})
	if err != nil || own.Storage != sealpost.NoLimit || eff.Storage != 0 {
		t.Fatalf("AccountQuota(NoLimit) = %+v %+v, %v", own, eff, err)
	}
	if err := deliverTo(e, quotaMsg, "ann@example.org"); err != nil {
		t.Fatalf("delivery without a limit: %v", err)
	}
}

func TestQuotaSession(t *testing.T) {
	ctx := context.Background()
	e := newEnvOpts(t, postbox.Options{Quota: sealpost.Quota{Storage: 250, Mailboxes: int64(len(sealpost.DefaultMailboxes)) + 2}})
	if _, err := e.svc.CreateAccount(ctx, "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	sess, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for range 2 {
		if _, _, err := sess.Append(ctx, "INBOX", postbox.Bytes(quotaMsg), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = sess.Append(ctx, "Drafts", postbox.Bytes(quotaMsg), nil, time.Time{})
	testkit.WantKind(t, "APPEND over quota", err, errors.OverQuota)

	inbox, err := sess.Select(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Release(inbox)
	_, _, err = sess.Copy(ctx, inbox, []sealpost.UID{1}, "Archive")
	testkit.WantKind(t, "COPY over quota", err, errors.OverQuota)
	// MOVE adds nothing to the account: allowed even at the limit.
	if _, _, err := sess.Move(ctx, inbox, []sealpost.UID{1, 2}, "Archive"); err != nil {
		t.Fatalf("MOVE at the limit: %v", err)
	}
	q, u, err := sess.Quota(ctx)
	if err != nil || q.Storage != 250 || u.Storage != 200 || u.Messages != 2 {
		t.Fatalf("Quota() = %+v %+v, %v", q, u, err)
	}

	// Two mailboxes left: a/b takes both (the parent counts), then no more.
	if err := sess.CreateMailbox(ctx, "a/b", sealpost.UseNone); err != nil {
		t.Fatal(err)
	}
	testkit.WantKind(t, "CREATE beyond the mailbox limit", sess.CreateMailbox(ctx, "c", sealpost.UseNone), errors.OverQuota)
	if err := sess.DeleteMailbox(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if err := sess.CreateMailbox(ctx, "c", sealpost.UseNone); err != nil {
		t.Fatalf("CREATE after a DELETE: %v", err)
	}
	// A legal hold's mailbox is neither refused nor counted.
	if err := e.svc.PlaceHold(ctx, "ann@example.org"); err != nil {
		t.Fatalf("hold at the mailbox limit: %v", err)
	}
}

// TestQuotaConcurrentDeliveries: 24 deliveries race for room for 5;
// exactly 5 are stored, and only their blobs remain.
func TestQuotaConcurrentDeliveries(t *testing.T) {
	const workers, room = 24, 5
	ctx := context.Background()
	e := newEnvOpts(t, postbox.Options{Quota: sealpost.Quota{Storage: room * 100}})
	if _, err := e.svc.CreateAccount(ctx, "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	base := e.blobCount(t)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := deliverTo(e, quotaMsg, "ann@example.org"); {
			case err == nil:
				ok.Add(1)
			case !errors.Is(errors.OverQuota, err):
				t.Errorf("delivery: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != room {
		t.Fatalf("%d deliveries accepted, want %d", ok.Load(), room)
	}
	if u := e.usage(t, "ann@example.org"); u.Storage != room*100 || u.Messages != room {
		t.Fatalf("usage %+v", u)
	}
	if n := e.blobCount(t) - base; n != room {
		t.Fatalf("%d blobs stored, want %d", n, room)
	}
}
