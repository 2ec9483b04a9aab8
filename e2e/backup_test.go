package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/sealpost/sealpost/internal/testenv"
)

// TestBackupRestore backs up a running demo while mail is being delivered
// to it, restores the backup into a fresh data folder, starts a server on
// it and reads the mail back over IMAP with the owners' passwords: every
// restored message is byte for byte the one the original served, and none
// delivered before the backup began is missing. A damaged backup is
// refused before anything is written.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	const before = 40
	for i := range before {
		to := alice
		if i%4 == 3 {
			to = bob
		}
		deliver(t, d.Addrs["smtp"], "friend@example.org", to, message("friend@example.org", to, fmt.Sprintf("before %d", i), strings.Repeat("x", 60*i%900+1)+"\r\n"+strings.Repeat("y\r\n", i)))
	}

	// Deliveries go on while the backup runs.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var during atomic.Int64
	for w := range 2 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				c, err := smtp.Dial(d.Addrs["smtp"])
				if err == nil {
					err = c.SendMail("friend@example.org", []string{alice}, bytes.NewReader(message("friend@example.org", alice, fmt.Sprintf("during %d-%d", w, i), "delivered while the backup ran")))
					c.Close()
				}
				if err != nil {
					t.Errorf("delivery during the backup: %v", err)
					return
				}
				during.Add(1)
			}
		})
	}
	bk := filepath.Join(dir, "backup")
	out := mustSealpost(t, "", "backup", "--to", bk, "--data", data)
	stop.Store(true)
	wg.Wait()
	if !strings.Contains(out, "backed up") {
		t.Fatalf("backup: %s", out)
	}
	t.Logf("backup: %s(%d messages delivered alongside)", out, during.Load())
	if _, err := os.Stat(filepath.Join(bk, "MANIFEST.json")); err != nil {
		t.Fatal(err)
	}
	// Nothing in the backup is mail in the clear.
	filepath.WalkDir(bk, func(path string, de os.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("delivered while the backup ran")) || bytes.Contains(b, []byte("Subject: before")) {
				t.Errorf("%s holds mail in the clear", path)
			}
		}
		return nil
	})

	original := map[string]map[string][]byte{}
	for _, acct := range [][2]string{{alice, alicePass}, {bob, bobPass}} {
		c := login(t, d.Addrs["imaps"], acct[0], acct[1])
		_, msgs := fetchAll(t, c, "INBOX")
		original[acct[0]] = bySubject(t, msgs)
		c.Logout().Wait()
	}
	d.Stop()

	// A damaged backup is refused, and nothing is written.
	bad := filepath.Join(dir, "damaged")
	copyTree(t, bk, bad)
	segs, _ := filepath.Glob(filepath.Join(bad, "regions", "ie", "blobs", "seg-*.pack"))
	if len(segs) == 0 {
		t.Fatal("the backup holds no pack segment of region ie")
	}
	flipByte(t, segs[0], 100)
	target := filepath.Join(dir, "restored-bad")
	res, err := sealpost(t, "", "restore", "--from", bad, "--data", target)
	if err == nil || !strings.Contains(res, "backup damaged") || !strings.Contains(res, "seg-") {
		t.Fatalf("restore of a damaged backup: err %v, output %s", err, res)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("a refused restore left %s behind", target)
	}

	// A non-empty target is refused.
	if res, err := sealpost(t, "", "restore", "--from", bk, "--data", data); err == nil || !strings.Contains(res, "empty") {
		t.Fatalf("restore over the live data folder: err %v, output %s", err, res)
	}

	restored := filepath.Join(dir, "restored")
	res = mustSealpost(t, "", "restore", "--from", bk, "--data", restored)
	if !strings.Contains(res, "verified") {
		t.Fatalf("restore: %s", res)
	}
	t.Logf("restore: %s", res)

	d2 := testenv.StartDemo(t, restored, filepath.Join(dir, "demo2.log"))
	for _, acct := range [][2]string{{alice, alicePass}, {bob, bobPass}} {
		c := login(t, d2.Addrs["imaps"], acct[0], acct[1])
		_, msgs := fetchAll(t, c, "INBOX")
		got := bySubject(t, msgs)
		for subj, b := range got {
			want, ok := original[acct[0]][subj]
			if !ok {
				t.Errorf("%s: restored %q, which the original never served", acct[0], subj)
			} else if !bytes.Equal(b, want) {
				t.Errorf("%s: %q differs after restore", acct[0], subj)
			}
		}
		for i := range before {
			subj := fmt.Sprintf("before %d", i)
			if _, ok := original[acct[0]][subj]; ok {
				if _, ok := got[subj]; !ok {
					t.Errorf("%s: %q, delivered before the backup, is missing after restore", acct[0], subj)
				}
			}
		}
		c.Logout().Wait()
	}
	// The restored server goes on receiving mail.
	deliver(t, d2.Addrs["smtp"], "friend@example.org", alice, message("friend@example.org", alice, "after restore", "hello again"))
	c := login(t, d2.Addrs["imaps"], alice, alicePass)
	_, msgs := fetchAll(t, c, "INBOX")
	if _, ok := bySubject(t, msgs)["after restore"]; !ok {
		t.Error("mail delivered after the restore is not in INBOX")
	}
}

// bySubject keys messages by their Subject: field.
func bySubject[K comparable](t *testing.T, msgs map[K][]byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, b := range msgs {
		i := bytes.Index(b, []byte("\r\nSubject: "))
		if i < 0 {
			t.Fatalf("message without a subject: %.100q", b)
		}
		rest := b[i+len("\r\nSubject: "):]
		out[string(rest[:bytes.Index(rest, []byte("\r\n"))])] = b
	}
	return out
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, de os.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o700)
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// flipByte inverts the byte at off in the file.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
