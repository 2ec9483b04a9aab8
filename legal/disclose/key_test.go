package disclose

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

func TestPublicKeyText(t *testing.T) {
	// RFC 8032 7.1, TEST 1.
	pub, _ := hex.DecodeString("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
	if got, want := EncodePublicKey(pub), "sealpost-ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="; got != want {
		t.Errorf("EncodePublicKey = %q, want %q", got, want)
	}
	for range 20 {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		for _, text := range []string{EncodePublicKey(pub), string(PublicKeyPEM(pub)), "  " + EncodePublicKey(pub) + "\n"} {
			got, err := ParsePublicKey(text)
			if err != nil || !got.Equal(pub) {
				t.Fatalf("ParsePublicKey(%q) = %x, %v; want %x", text, got, err, pub)
			}
		}
	}
	if !strings.HasPrefix(string(PublicKeyPEM(pub)), "-----BEGIN PUBLIC KEY-----\n") {
		t.Errorf("PEM = %q", PublicKeyPEM(pub))
	}
}

func TestParsePublicKeyRefuses(t *testing.T) {
	pub, _ := hex.DecodeString("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
	good := EncodePublicKey(pub)
	pem := string(PublicKeyPEM(pub))
	for _, tc := range []struct{ desc, text string }{
		{"empty", ""},
		{"no prefix", strings.TrimPrefix(good, PublicKeyPrefix)},
		{"other algorithm", strings.Replace(good, "ed25519", "rsa", 1)},
		{"short", good[:len(good)-4]},
		{"long", PublicKeyPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"not base64", good[:len(good)-2] + "!="},
		{"unpadded", strings.TrimSuffix(good, "=")},
		{"URL alphabet", strings.ReplaceAll(good, "/", "_")},
		{"PEM, wrong type", strings.ReplaceAll(pem, "PUBLIC KEY", "PRIVATE KEY")},
		{"PEM, trailing block", pem + pem},
		{"PEM, broken", strings.Replace(pem, "MCow", "MCox", 1)},
	} {
		if k, err := ParsePublicKey(tc.text); !errors.Is(errors.Invalid, err) {
			t.Errorf("%s: ParsePublicKey(%q) = %x, %v; want Invalid", tc.desc, tc.text, k, err)
		}
	}
}

// TestOpenSSLVerifies checks the documented offline check: OpenSSL, given
// the PEM, verifies manifest.sig over manifest.json, and refuses an
// altered manifest.
func TestOpenSSLVerifies(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl")
	}
	pkg := buildPackage(t, testManifest(), testFiles())
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mjson := mustEntry(t, pkg, ManifestName)
	keyPath := write("sealpost.pem", PublicKeyPEM(testPub()))
	sigPath := write(SignatureName, mustEntry(t, pkg, SignatureName))
	run := func(manifest []byte) (string, error) {
		mPath := write(ManifestName, manifest)
		out, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", keyPath, "-rawin",
			"-in", mPath, "-sigfile", sigPath).CombinedOutput()
		return string(out), err
	}
	out, err := run(mjson)
	if strings.Contains(out, "-rawin") && strings.Contains(out, "unknown option") {
		t.Skip("openssl without -rawin (before 3.0)")
	}
	if err != nil || !strings.Contains(out, "Signature Verified Successfully") {
		t.Fatalf("openssl does not verify the package's signature: %v\n%s", err, out)
	}
	if out, err := run(bytes.Replace(mjson, []byte("D-2026-0001"), []byte("D-2026-0002"), 1)); err == nil {
		t.Errorf("openssl verifies an altered manifest:\n%s", out)
	}
}
