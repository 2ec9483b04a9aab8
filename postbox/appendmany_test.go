package postbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/postbox"
)

// TestAppendMany: all or nothing (MULTIAPPEND, RFC 3502). Three 100-byte
// messages under a 250-byte quota: the store refuses the third, and neither
// the first two nor any blob remains; two fit, with consecutive UIDs.
func TestAppendMany(t *testing.T) {
	ctx := context.Background()
	e := newEnvOpts(t, postbox.Options{Quota: sealpost.Quota{Storage: 250}})
	if _, err := e.svc.CreateAccount(ctx, "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	sess, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	item := postbox.AppendItem{Msg: postbox.Bytes(quotaMsg), Flags: []sealpost.Flag{sealpost.FlagSeen}}
	blobs := e.blobCount(t)

	_, _, err = sess.AppendMany(ctx, "INBOX", []postbox.AppendItem{item, item, item})
	testkit.WantKind(t, "AppendMany over quota", err, errors.OverQuota)
	if n := e.blobCount(t); n != blobs {
		t.Errorf("%d blobs left behind", n-blobs)
	}
	if u := e.usage(t, "ann@example.org"); u.Storage != 0 {
		t.Errorf("usage after a refused AppendMany: %+v", u)
	}
	_, _, err = sess.AppendMany(ctx, "Nowhere", []postbox.AppendItem{item})
	testkit.WantKind(t, "AppendMany to no mailbox", err, errors.NotExist)

	dated := item
	dated.Date = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mbox, msgs, err := sess.AppendMany(ctx, "INBOX", []postbox.AppendItem{item, dated})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].UID != 1 || msgs[1].UID != 2 || mbox.Name != "INBOX" {
		t.Fatalf("AppendMany: %+v %+v", mbox, msgs)
	}
	if !msgs[1].InternalDate.Equal(dated.Date) || !sealpost.HasFlag(msgs[0].Flags, sealpost.FlagSeen) {
		t.Errorf("dates and flags: %+v", msgs)
	}
	if u := e.usage(t, "ann@example.org"); u.Storage != 200 || u.Messages != 2 {
		t.Errorf("usage: %+v", u)
	}
}
