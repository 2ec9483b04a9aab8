package certs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/certs"
	"github.com/sealpost/sealpost/internal/testenv"
)

// filesRig: a CA, a first pair on disk, a Files source over it polling
// every 10 ms, and a TLS listener using it.
type filesRig struct {
	ca                *testenv.CA
	certFile, keyFile string
	files             *certs.Files
	addr              string
	log               interface{ String() string }
}

func newFilesRig(t *testing.T, watch bool) *filesRig {
	t.Helper()
	dir := t.TempDir()
	r := &filesRig{ca: testenv.NewCA(t), certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	testenv.WritePEMPair(t, r.ca.Issue(t, time.Time{}, "mail.example.test"), r.certFile, r.keyFile)
	log, buf := logTo()
	r.log = buf
	f, err := certs.OpenFiles(r.certFile, r.keyFile, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if watch {
		f.Watch(10 * time.Millisecond)
	}
	r.files = f
	r.addr = serveTLS(t, testTLS(f))
	return r
}

// serial is what a new client connection sees.
func (r *filesRig) serial(t *testing.T) string {
	t.Helper()
	leaf, err := peerCert(r.addr, "mail.example.test", r.ca.Pool)
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Text(16)
}

// TestFilesReloadOnChange: replacing the files puts the new certificate in
// service for the next connection, without a restart or a signal.
func TestFilesReloadOnChange(t *testing.T) {
	r := newFilesRig(t, true)
	first := r.serial(t)
	next := r.ca.Issue(t, time.Time{}, "mail.example.test")
	testenv.WritePEMPair(t, next, r.certFile, r.keyFile)
	want := next.Leaf.SerialNumber.Text(16)
	eventually(t, 10*time.Second, "the new certificate is not served", func() bool { return r.serial(t) == want })
	if first == want {
		t.Fatal("the two certificates have one serial")
	}
	if !strings.Contains(r.log.String(), "certificate files loaded") {
		t.Errorf("the reload was not logged:\n%s", r.log.String())
	}
}

// TestFilesBadReplacementKept: a replacement that does not load (a key of
// another certificate, a truncated file, an expired certificate) is logged
// and the certificate in service stays; a good one afterwards is taken.
func TestFilesBadReplacementKept(t *testing.T) {
	r := newFilesRig(t, true)
	first := r.serial(t)
	other := r.ca.Issue(t, time.Time{}, "mail.example.test")
	otherKey := filepath.Join(t.TempDir(), "other-key.pem")
	testenv.WritePEMPair(t, other, filepath.Join(t.TempDir(), "other-cert.pem"), otherKey)
	key, err := os.ReadFile(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := os.ReadFile(r.certFile)
	if err != nil {
		t.Fatal(err)
	}
	expired := r.ca.Issue(t, time.Now().Add(-time.Minute), "mail.example.test")
	expiredDir := t.TempDir()
	testenv.WritePEMPair(t, expired, filepath.Join(expiredDir, "c.pem"), filepath.Join(expiredDir, "k.pem"))
	expiredCert, _ := os.ReadFile(filepath.Join(expiredDir, "c.pem"))
	expiredKey, _ := os.ReadFile(filepath.Join(expiredDir, "k.pem"))
	for _, tc := range []struct {
		name, want string
		cert, key  []byte
	}{
		{"mismatched key", "private key does not match", cert, key},
		{"truncated certificate", "failed to find any PEM data", cert[:40], key},
		{"expired", "expired", expiredCert, expiredKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := len(r.log.String())
			testenv.ReplaceFile(t, r.certFile, tc.cert)
			testenv.ReplaceFile(t, r.keyFile, tc.key)
			// The poll may see the certificate replaced before the key (and
			// log that pair first): wait for the pair as written.
			eventually(t, 10*time.Second, "the bad pair was not logged saying "+tc.want, func() bool {
				l := r.log.String()[start:]
				return strings.Contains(l, "do not load") && strings.Contains(l, tc.want)
			})
			if got := r.serial(t); got != first {
				t.Fatalf("serving %s after a bad replacement, want the old %s", got, first)
			}
			// Polling does not try (and log) the same bad pair again
			// (once each file's replacement has been seen).
			time.Sleep(100 * time.Millisecond)
			n := strings.Count(r.log.String(), "do not load")
			time.Sleep(100 * time.Millisecond)
			if m := strings.Count(r.log.String(), "do not load"); m != n {
				t.Errorf("the same bad pair was logged %d times", m-n+1)
			}
		})
	}
	good := r.ca.Issue(t, time.Time{}, "mail.example.test")
	testenv.WritePEMPair(t, good, r.certFile, r.keyFile)
	want := good.Leaf.SerialNumber.Text(16)
	eventually(t, 10*time.Second, "a good pair after bad ones is not served", func() bool { return r.serial(t) == want })
}

// TestFilesReload: Reload (the server's SIGHUP) reads the files at once,
// changed or not as far as polling can tell, and reports a bad pair.
func TestFilesReload(t *testing.T) {
	r := newFilesRig(t, false)
	next := r.ca.Issue(t, time.Time{}, "mail.example.test")
	testenv.WritePEMPair(t, next, r.certFile, r.keyFile)
	if err := r.files.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, want := r.serial(t), next.Leaf.SerialNumber.Text(16); got != want {
		t.Fatalf("serving %s, want %s", got, want)
	}
	testenv.ReplaceFile(t, r.keyFile, []byte("not a key"))
	if err := r.files.Reload(); err == nil {
		t.Fatal("Reload of a bad key: no error")
	}
	if got, want := r.serial(t), next.Leaf.SerialNumber.Text(16); got != want {
		t.Fatalf("after a bad Reload serving %s, want %s", got, want)
	}
}

// TestOpenFilesBad: the first load must succeed.
func TestOpenFilesBad(t *testing.T) {
	dir := t.TempDir()
	c, k := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(c, []byte("x"), 0o600)
	os.WriteFile(k, []byte("x"), 0o600)
	log, _ := logTo()
	if _, err := certs.OpenFiles(c, k, log); err == nil {
		t.Fatal("OpenFiles of junk: no error")
	}
}
