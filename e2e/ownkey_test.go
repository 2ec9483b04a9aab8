package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestOwnKeyMode registers a user's own OpenPGP public key (made by gpg),
// delivers mail to the account, and has gpg, standing in for the user's
// mail client, decrypt the PGP/MIME message served over IMAP.
func TestOwnKeyMode(t *testing.T) {
	gpg := testenv.NeedTool(t, "gpg", "gnupg")
	dir := t.TempDir()
	home := filepath.Join(dir, "gnupg")
	os.MkdirAll(home, 0o700)
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(gpg, append([]string{"--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	const own = "own@demo.example"
	run("--quick-gen-key", own, "ed25519", "cert", "never")
	fpr := regexp.MustCompile(`(?m)^fpr:+([0-9A-F]{40}):`).FindSubmatch(run("--list-keys", "--with-colons", own))
	if fpr == nil {
		t.Fatal("no fingerprint from gpg")
	}
	run("--quick-add-key", string(fpr[1]), "cv25519", "encr", "never")
	pub := filepath.Join(dir, "own.asc")
	os.WriteFile(pub, run("--armor", "--export", own), 0o600)

	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log")) // creates demo.example
	d.Stop()
	mustSealpost(t, "own-login-password\n", "account", "add", own, "--own-key", pub, "--data", data)
	if list := mustSealpost(t, "", "account", "list", "--data", data); !regexp.MustCompile(`own@demo\.example\s+ie\s+IE\s+\S+ \S+\s+own-key`).MatchString(list) {
		t.Fatalf("account list does not show own-key mode:\n%s", list)
	}
	d = testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	raw := message("friend@example.org", own, "only for you", "the server cannot read this")
	deliver(t, d.Addrs["smtp"], "friend@example.org", own, raw)

	c := login(t, d.Addrs["imaps"], own, "own-login-password")
	_, got := fetchAll(t, c, "INBOX")
	if len(got) != 1 {
		t.Fatalf("INBOX has %d messages", len(got))
	}
	var served []byte
	for _, b := range got {
		served = b
	}
	if !bytes.Contains(served, []byte("multipart/encrypted")) || bytes.Contains(served, []byte("only for you")) {
		t.Fatalf("served message is not PGP/MIME or leaks the subject:\n%.400s", served)
	}
	armored := regexp.MustCompile(`(?s)-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----`).Find(served)
	if armored == nil {
		t.Fatal("no armored OpenPGP message in the PGP/MIME body")
	}
	enc := filepath.Join(dir, "msg.asc")
	os.WriteFile(enc, armored, 0o600)
	plain := run("--decrypt", enc)
	if !bytes.Equal(stripTrace(t, plain), raw) {
		t.Fatalf("gpg decrypted %q, want %q", plain, raw)
	}
}
