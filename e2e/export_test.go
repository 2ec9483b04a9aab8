package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestExportOpensWithGPG exports an account and opens its mail with GnuPG,
// using only the exported key and the account's password.
func TestExportOpensWithGPG(t *testing.T) {
	gpg := testenv.NeedTool(t, "gpg", "gnupg")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	raw := message("friend@example.org", bob, "export me", "to be read with gpg")
	deliver(t, d.Addrs["smtp"], "friend@example.org", bob, raw)
	d.Stop()

	out := filepath.Join(dir, "export")
	res := mustSealpost(t, bobPass+"\n", "export", bob, "--out", out, "--data", data)
	if !strings.Contains(res, "exported") {
		t.Fatalf("export: %s", res)
	}
	files, _ := filepath.Glob(filepath.Join(out, "mail", "INBOX", "*.eml.gpg"))
	if len(files) != 1 {
		t.Fatalf("export wrote %d INBOX messages, want 1", len(files))
	}
	sealed, _ := os.ReadFile(files[0])
	if bytes.Contains(sealed, []byte("export me")) {
		t.Fatal("exported message is in the clear")
	}
	keys, _ := filepath.Glob(filepath.Join(out, "keys", "*.private.asc"))
	if len(keys) != 1 {
		t.Fatalf("export wrote %d private keys, want 1", len(keys))
	}

	home := filepath.Join(dir, "gnupg")
	os.MkdirAll(home, 0o700)
	gpgCmd := func(args ...string) ([]byte, error) {
		cmd := exec.Command(gpg, append([]string{"--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", bobPass}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Logf("gpg %v: %s", args, stderr.String())
		}
		return b, err
	}
	if _, err := gpgCmd("--import", keys[0]); err != nil {
		t.Fatal(err)
	}
	plain, err := gpgCmd("--decrypt", files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stripTrace(t, plain), raw) {
		t.Fatalf("gpg decrypted %q, want %q", plain, raw)
	}
	// The wrong passphrase does not open the exported key.
	home2 := filepath.Join(dir, "gnupg2")
	os.MkdirAll(home2, 0o700)
	if err := exec.Command(gpg, "--homedir", home2, "--batch", "--pinentry-mode", "loopback", "--passphrase", "wrong", "--import", keys[0]).Run(); err == nil {
		if err := exec.Command(gpg, "--homedir", home2, "--batch", "--pinentry-mode", "loopback", "--passphrase", "wrong", "--decrypt", files[0]).Run(); err == nil {
			t.Fatal("gpg opened the export with a wrong passphrase")
		}
	}
}
