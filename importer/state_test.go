package importer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/fs"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/store/sqlite"
)

func newPostbox(t *testing.T) (*postbox.Service, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	svc := postbox.New(store, blobs, postbox.Options{Params: pwhash.TestParams})
	t.Cleanup(func() { svc.Close(); store.Close() })
	ctx := context.Background()
	if err := svc.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAccount(ctx, "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	return svc, dir
}

func items(from, n int) []Item {
	var out []Item
	for i := from; i < from+n; i++ {
		out = append(out, Item{Pos: uint64(i), Date: time.Unix(1500000000+int64(i), 0),
			Body: fmt.Appendf(nil, "Subject: %d\r\n\r\nsecret body %d\r\n", i, i)})
	}
	return out
}

func count(t *testing.T, svc *postbox.Service, name string) int {
	t.Helper()
	acct, _ := svc.LookupAccount(context.Background(), "ann@example.org")
	mb, err := svc.Store().MailboxByName(context.Background(), acct.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := svc.Store().Messages(context.Background(), mb.ID, 0)
	return len(msgs)
}

// TestLocalCrashWindow files a batch as Put does but "crashes" between
// the steps (the state file is left with the batch pending): when the
// store filed it, reopening takes its folder state (no duplicate on the
// next run); when it did not, reopening keeps the old state (nothing
// skipped) and deletes the batch's blobs. The state file holds no text.
func TestLocalCrashWindow(t *testing.T) {
	ctx := context.Background()
	svc, dir := newPostbox(t)
	sd := filepath.Join(dir, "import")
	dest := Dest{Mailbox: "Old"}
	l, err := OpenLocal(ctx, svc, sd, "ann@example.org", "src")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, "Old", 7, dest, items(1, 5)); err != nil {
		t.Fatal(err)
	}
	// Crash after the store's commit, before the state's.
	batch := items(6, 5)
	after := l.st.Folders["Old"].after(batch)
	crash := func(filed bool) []sealpost.BlobRef {
		var refs []sealpost.BlobRef
		var pbatch []postbox.ImportItem
		for _, it := range batch {
			pbatch = append(pbatch, postbox.ImportItem{Msg: postbox.Bytes(it.Body), Date: it.Date})
		}
		_, err := svc.Import(ctx, postbox.ImportBatch{Address: "ann@example.org", Mailbox: "Old", Items: pbatch,
			Prepared: func(mb sealpost.Mailbox, blobs []sealpost.BlobRef) error {
				refs = blobs
				l.st.Pending = &pending{Folder: "Old", Mailbox: mb.ID, UIDNext: mb.UIDNext, Blobs: blobs, After: after}
				if err := l.write(); err != nil {
					return err
				}
				if !filed {
					// Crash before the store's commit: simulated by
					// refusing it, then putting the blobs back as a
					// crash would have left them.
					return errors.E(errors.Unavailable, errors.Str("crash"))
				}
				return nil
			}})
		if filed && err != nil {
			t.Fatal(err)
		}
		l.Close()
		return refs
	}
	crash(true)
	if l, err = OpenLocal(ctx, svc, sd, "ann@example.org", "src"); err != nil {
		t.Fatal(err)
	}
	if fs := l.st.Folders["Old"]; fs.Pos != 10 || fs.Validity != 7 || l.st.Pending != nil {
		t.Fatalf("after a crash past the commit: %+v pending %v", fs, l.st.Pending)
	}
	// The next run reads on from 11: nothing twice.
	if err := l.Put(ctx, "Old", 7, dest, items(11, 2)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, svc, "Old"); n != 12 {
		t.Fatalf("%d messages, want 12", n)
	}

	batch = items(13, 3)
	after = l.st.Folders["Old"].after(batch)
	refs := crash(false)
	if l, err = OpenLocal(ctx, svc, sd, "ann@example.org", "src"); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fs := l.st.Folders["Old"]; fs.Pos != 12 || l.st.Pending != nil {
		t.Fatalf("after a crash before the commit: %+v", fs)
	}
	for _, r := range refs {
		if _, err := svc.Blobs().Get(ctx, r); !errors.Is(errors.NotExist, err) {
			t.Errorf("blob %s of an unfiled batch kept: %v", r, err)
		}
	}
	// A new UIDVALIDITY starts the folder over.
	if err := l.Put(ctx, "Old", 8, dest, items(1, 1)); err != nil {
		t.Fatal(err)
	}
	if fs := l.st.Folders["Old"]; fs.Validity != 8 || fs.Pos != 1 || fs.Messages != 1 {
		t.Errorf("after a UIDVALIDITY change: %+v", fs)
	}
	files, _ := filepath.Glob(filepath.Join(sd, "*.json"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "secret body") || strings.Contains(string(b), "ann@") || strings.Contains(string(b), "src") {
			t.Errorf("the state file holds text or names: %s", b)
		}
	}
}

// TestRun copies the Maildir fixture through Run into a postbox whose
// size limit one message exceeds: every folder mapped, the large one
// skipped with its reason and its place recorded, and a second Run copies
// nothing.
func TestRun(t *testing.T) {
	ctx := context.Background()
	svc, dir := newPostbox(t)
	root := maildirFixture(t)
	big := filepath.Join(root, "cur", "1551776650.M9P10.host:2,S")
	os.WriteFile(big, []byte("Subject: big\n\n"+strings.Repeat("x", 70<<20)+"\n"), 0o600)
	src, err := OpenMaildir(root)
	if err != nil {
		t.Fatal(err)
	}
	run := func() Summary {
		l, err := OpenLocal(ctx, svc, filepath.Join(dir, "import"), "ann@example.org", src.ID())
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		sum, err := Run(ctx, src, l, Options{BatchMessages: 2})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	sum := run()
	if sum.Messages != 5 || sum.Folders != 3 || sum.Skipped["larger than the message size limit"] != 1 {
		t.Fatalf("first run: %+v", sum)
	}
	if n := count(t, svc, "Sent"); n != 1 {
		t.Errorf("Sent holds %d, want 1", n)
	}
	if n := count(t, svc, "Work/Projects"); n != 1 {
		t.Errorf("Work/Projects holds %d, want 1", n)
	}
	if sum := run(); sum.Messages != 0 || len(sum.Skipped) != 0 {
		t.Errorf("second run: %+v", sum)
	}
}
