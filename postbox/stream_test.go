package postbox_test

import (
	"bytes"
	"context"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/store/sqlite"
)

// fullDisk is a blob store whose writers fail, as on a full disk, once
// the store has taken budget bytes in all.
type fullDisk struct {
	*pack.Store
	budget int64
}

func (f *fullDisk) Create(ctx context.Context) (sealpost.BlobWriter, error) {
	w, err := f.Store.Create(ctx)
	return &fullWriter{BlobWriter: w, f: f}, err
}

type fullWriter struct {
	sealpost.BlobWriter
	f *fullDisk
}

func (w *fullWriter) Write(p []byte) (int, error) {
	if w.f.budget -= int64(len(p)); w.f.budget < 0 {
		return 0, errors.E("test.Write", errors.Unavailable, syscall.ENOSPC)
	}
	return w.BlobWriter.Write(p)
}

// A delivery to two accounts whose second copy hits a full disk fails
// with a temporary error and leaves no blob at all, the first copy's
// included; with room, both copies stream and read back whole.
func TestDeliverFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := pack.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	full := &fullDisk{Store: blobs}
	svc := postbox.New(store, full, postbox.Options{Params: pwhash.TestParams})
	t.Cleanup(func() { svc.Close(); store.Close(); blobs.Close() })
	svc.AddDomain(ctx, "example.org")
	for _, a := range []string{"ann@example.org", "bo@example.org"} {
		if _, err := svc.CreateAccount(ctx, a, "pw-"+a); err != nil {
			t.Fatal(err)
		}
	}
	raw := bytes.Repeat([]byte("0123456789abcdef\r\n"), 100<<10) // 1.8 MiB: spills
	raw = append([]byte("Subject: big\r\n\r\n"), raw...)
	env := postbox.Envelope{From: "x@y.example", Recipients: []string{"ann@example.org", "bo@example.org"}}

	full.budget = int64(len(raw)) * 3 / 2 // the first copy fits, the second does not
	err = svc.Deliver(ctx, env, postbox.Bytes(raw))
	if !errors.Is(errors.Unavailable, err) {
		t.Fatalf("Deliver on a full disk: %v, want Unavailable", err)
	}
	n := 0
	blobs.List(ctx, func(sealpost.BlobRef) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d blobs left after a failed delivery", n)
	}

	full.budget = 1 << 40
	if err := svc.Deliver(ctx, env, postbox.Bytes(raw)); err != nil {
		t.Fatal(err)
	}
	for _, a := range env.Recipients {
		sess, err := svc.Login(ctx, a, "pw-"+a)
		if err != nil {
			t.Fatal(err)
		}
		m, err := sess.Select(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		var msgs []sealpost.Message
		m.Read(func(_ sealpost.Mailbox, ms []sealpost.Message) { msgs = append(msgs, ms...) })
		sess.Release(m)
		if len(msgs) != 1 || msgs[0].Size != int64(len(raw)) {
			t.Fatalf("%s: %d messages", a, len(msgs))
		}
		got, err := sess.Body(ctx, msgs[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, raw) {
			t.Fatalf("%s: %d bytes back, want the %d delivered", a, len(got), len(raw))
		}
		sess.Close()
	}
}
