package seal

import (
	"bytes"
	"crypto/rand"
	"github.com/sealpost/sealpost/internal/testenv"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gpgHome is a throwaway GnuPG home directory.
type gpgHome struct {
	t   *testing.T
	dir string
}

func newGPGHome(t *testing.T) *gpgHome {
	t.Helper()
	// gpg-agent's socket path must fit in sockaddr_un (108 bytes), which
	// t.TempDir under a long TMPDIR may not; use a short directory.
	dir, err := os.MkdirTemp("", "sp-gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h := &gpgHome{t: t, dir: dir}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "all")
		cmd.Env = h.env()
		cmd.Run() // best effort: the agent may not have started
		os.RemoveAll(dir)
	})
	return h
}

func (h *gpgHome) env() []string {
	return append(os.Environ(), "GNUPGHOME="+h.dir, "LC_ALL=C")
}

// run runs gpg in batch mode with stdin and returns stdout.
func (h *gpgHome) run(stdin []byte, args ...string) []byte {
	h.t.Helper()
	args = append([]string{"--batch", "--no-tty", "--quiet", "--no-auto-key-locate"}, args...)
	cmd := exec.Command("gpg", args...)
	cmd.Env = h.env()
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func (h *gpgHome) write(name string, data []byte) string {
	h.t.Helper()
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// gpgWithKey makes a test account and a GnuPG home holding its private key
// (exported as ExportPrivateKey does), and returns the arguments that give
// gpg the export passphrase. It skips the test where gpg is missing.
func gpgWithKey(t *testing.T) (*testAccount, *gpgHome, []string) {
	testenv.NeedTool(t, "gpg", "gnupg")
	a := newTestAccount(t, "pw")
	const pass = "export pass phrase"
	exported, err := a.gen.Unlocked.ExportPrivateKey(pass)
	if err != nil {
		t.Fatal(err)
	}
	loopback := []string{"--pinentry-mode", "loopback", "--passphrase", pass}
	h := newGPGHome(t)
	h.run(nil, append(loopback, "--import", h.write("key.asc", exported))...)
	return a, h, loopback
}

// TestGPGInterop checks that gpg imports the exported key, decrypts what
// Seal and SealPGPMIME write, and that Open reads what gpg encrypts to the
// armored public key. CI installs gnupg; elsewhere the test is skipped.
func TestGPGInterop(t *testing.T) {
	a, sec, loopback := gpgWithKey(t)
	u := a.gen.Unlocked
	list := string(sec.run(nil, "--with-colons", "--list-secret-keys"))
	if !strings.Contains(list, "fpr:::::::::"+u.Fingerprint()+":") {
		t.Fatalf("gpg does not list the fingerprint %s:\n%s", u.Fingerprint(), list)
	}
	if !strings.Contains(list, "<"+testAddr+">") {
		t.Errorf("gpg does not list the user ID:\n%s", list)
	}
	// Algorithm 22 (EdDSA) primary, 18 (ECDH) subkey, both on 25519.
	if !strings.Contains(list, ":22:") || !strings.Contains(list, ":18:") || !strings.Contains(list, "ed25519") || !strings.Contains(list, "cv25519") {
		t.Errorf("unexpected key algorithms:\n%s", list)
	}

	// gpg decrypts Seal's output.
	msg := make([]byte, 10<<10)
	rand.Read(msg)
	copy(msg, "Subject: binary below\r\n\r\n")
	sealed := sealBytes(t, a.rcpt, msg)
	got := sec.run(nil, append(loopback, "--decrypt", sec.write("msg.gpg", sealed))...)
	if !bytes.Equal(got, msg) {
		t.Fatalf("gpg decrypted %d bytes, differing from the %d sealed", len(got), len(msg))
	}

	// gpg decrypts the PGP/MIME payload.
	raw := []byte("From: c@x.example\r\nSubject: hidden\r\n\r\nbody\r\n")
	var mimeMsg bytes.Buffer
	if err := SealPGPMIME(&mimeMsg, a.rcpt, raw, "c@x.example", testAddr, testTime); err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(&mimeMsg)
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	mr := multipart.NewReader(m.Body, params["boundary"])
	mr.NextPart()
	p2, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	armored, _ := io.ReadAll(p2)
	got = sec.run(nil, append(loopback, "--decrypt", sec.write("mime.asc", armored))...)
	if !bytes.Equal(got, raw) {
		t.Fatalf("gpg decrypted PGP/MIME payload %q, want %q", got, raw)
	}

	// Open reads what gpg encrypts to the armored public key, in a home
	// that has only the public key.
	pubArmored, err := ArmorPublicKey(a.gen.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := newGPGHome(t)
	pub.run(nil, "--import", pub.write("pub.asc", pubArmored))
	plain := []byte("written by gpg\n")
	enc := pub.run(plain, "--trust-model", "always", "--compress-algo", "none",
		"--recipient", u.Fingerprint(), "--encrypt")
	got, wrapped, err := u.Open(enc, []byte("gpg"))
	if err != nil {
		t.Fatalf("Open of gpg's message: %v", err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("Open of gpg's message: %q", got)
	}
	if got, err := u.OpenCached(enc, wrapped, []byte("gpg")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("OpenCached of gpg's message: %q, %v", got, err)
	}
}
