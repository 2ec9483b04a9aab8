package dkimsign_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/dkimsign"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
)

// Keys survive reopening: the same records, and a new process signs with
// the same keys. Ensure does nothing the second time.
func TestKeysPersist(t *testing.T) {
	dir := t.TempDir()
	k := ensured(t, dir)
	before, err := k.Records(domain)
	testkit.Must(t, err)
	if len(before) != 2 || before[0].Algorithm != dkimsign.Ed25519 || before[1].Algorithm != dkimsign.RSA ||
		!before[0].Retiring.IsZero() || before[0].Selector[len(before[0].Selector)-1] != 'e' {
		t.Fatalf("records: %+v", before)
	}
	testkit.Must(t, k.Ensure(domain))
	testkit.Must(t, k.Ensure("EXAMPLE.org"))

	again := openKeys(t, dir)
	after, err := again.Records(domain)
	testkit.Must(t, err)
	if !slices.Equal(before, after) {
		t.Fatalf("records changed on reopening:\n%+v\n%+v", before, after)
	}
	for i, err := range verifyGo(t, sign(t, again, message("after reopening")), txt(t, k)) {
		if err != nil {
			t.Errorf("signature %d after reopening: %v", i, err)
		}
	}
	// Records reads the same without opening anything.
	read, err := dkimsign.Records(dir, domain)
	if err != nil || !slices.Equal(read, before) {
		t.Fatalf("dkimsign.Records = %+v, %v", read, err)
	}
}

// Private keys are on disk only sealed: no file holds the PKCS #8 DER, a
// PEM block, or the key's secret numbers; files are 0600 and directories
// 0700. The RSA key is 2048 bits.
func TestSealedAtRest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dkim")
	ensured(t, dir)
	open := opener(t)

	var secrets [][]byte
	sealedFiles := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		testkit.Must(t, err)
		fi, err := d.Info()
		testkit.Must(t, err)
		if want := fs.FileMode(0o600); d.IsDir() {
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want 0700", path, fi.Mode().Perm())
			}
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		if !strings.HasSuffix(path, ".sealed") {
			return nil
		}
		sealedFiles++
		b, err := os.ReadFile(path)
		testkit.Must(t, err)
		der, err := open(b)
		testkit.Must(t, err)
		priv, err := x509.ParsePKCS8PrivateKey(der)
		testkit.Must(t, err)
		secrets = append(secrets, der)
		switch p := priv.(type) {
		case ed25519.PrivateKey:
			secrets = append(secrets, p.Seed())
		case *rsa.PrivateKey:
			if p.N.BitLen() != 2048 {
				t.Errorf("RSA key of %d bits", p.N.BitLen())
			}
			secrets = append(secrets, p.D.Bytes(), p.Primes[0].Bytes(), p.Primes[1].Bytes(), x509.MarshalPKCS1PrivateKey(p))
		default:
			t.Errorf("%s holds a %T", path, priv)
		}
		return nil
	})
	testkit.Must(t, err)
	if sealedFiles != 2 {
		t.Fatalf("%d sealed files, want 2", sealedFiles)
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a PEM private key", path)
		}
		for _, s := range secrets {
			for _, form := range [][]byte{s, []byte(base64.StdEncoding.EncodeToString(s))} {
				if bytes.Contains(b, form[:min(len(form), 24)]) {
					t.Errorf("%s holds private key bytes in the clear", path)
				}
			}
		}
		return nil
	})
}

// Rotation: new keys sign; the old public keys stay published (retiring)
// so mail they signed still verifies, until Retire; the old private keys
// are gone at once; selectors are never reused.
func TestRotate(t *testing.T) {
	dir := t.TempDir()
	k := ensured(t, dir)
	first, err := k.Records(domain)
	testkit.Must(t, err)
	before := sign(t, k, message("before the rotation"))

	sels, err := k.Rotate(domain)
	testkit.Must(t, err)
	recs, err := k.Records(domain)
	testkit.Must(t, err)
	if len(recs) != 4 || recs[0].Selector != sels[0] || recs[1].Selector != sels[1] ||
		recs[2] != withRetiring(first[0], recs[2]) || recs[3] != withRetiring(first[1], recs[3]) ||
		recs[2].Retiring.IsZero() || !recs[0].Retiring.IsZero() {
		t.Fatalf("records after rotation: %+v", recs)
	}
	if sels[0] == first[0].Selector || sels[0][:8] != first[0].Selector[:8] || !strings.HasSuffix(sels[0], "e2") || !strings.HasSuffix(sels[1], "r2") {
		t.Errorf("new selectors %v after %s", sels, first[0].Selector)
	}
	for _, r := range first {
		if _, err := os.Stat(filepath.Join(dir, domain, r.Selector+".sealed")); !os.IsNotExist(err) {
			t.Errorf("the old private key %s is still on disk: %v", r.Selector, err)
		}
	}
	records := txt(t, k)
	after := sign(t, k, message("after the rotation"))
	for _, f := range signatureFields(t, after) {
		if !slices.Contains(sels, f["s"]) {
			t.Errorf("signed with %s after the rotation to %v", f["s"], sels)
		}
	}
	for _, m := range [][]byte{before, after} {
		for i, err := range verifyGo(t, m, records) {
			if err != nil {
				t.Errorf("signature %d with the records after rotation: %v", i, err)
			}
		}
	}

	gone, err := k.Retire(domain)
	testkit.Must(t, err)
	if !slices.Equal(gone, []string{first[0].Selector, first[1].Selector}) {
		t.Errorf("Retire retired %v", gone)
	}
	recs, err = k.Records(domain)
	testkit.Must(t, err)
	if len(recs) != 2 || recs[0].Selector != sels[0] {
		t.Fatalf("records after Retire: %+v", recs)
	}
	for i, err := range verifyGo(t, before, txt(t, k)) {
		if err == nil {
			t.Errorf("signature %d by a retired key still verifies", i)
		}
	}
	third, err := k.Rotate(domain)
	testkit.Must(t, err)
	if !strings.HasSuffix(third[0], "e3") {
		t.Errorf("third selectors %v", third)
	}
	_, err = k.Rotate("unknown.example")
	testkit.WantKind(t, "rotating a domain without keys", err, errors.NotExist)
	_, err = k.Retire("unknown.example")
	testkit.WantKind(t, "retiring a domain without keys", err, errors.NotExist)
	if _, err := os.Stat(filepath.Join(dir, "unknown.example")); !os.IsNotExist(err) {
		t.Errorf("rotating an unknown domain made its directory: %v", err)
	}

	entries, _ := os.ReadDir(filepath.Join(dir, domain))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{third[0] + ".sealed", third[0] + ".txt", third[1] + ".sealed", third[1] + ".txt", sels[0] + ".txt", sels[1] + ".txt", "state.json"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
}

func withRetiring(r, like dkimsign.Record) dkimsign.Record {
	r.Retiring = like.Retiring
	return r
}

// A rotation by another process (the rotate command while the server
// runs) takes effect at the signer's next call.
func TestRotationSeenBySigner(t *testing.T) {
	dir := t.TempDir()
	server := ensured(t, dir)
	sign(t, server, message("opens the keys"))
	command := openKeys(t, dir)
	sels, err := command.Rotate(domain)
	testkit.Must(t, err)
	signed := sign(t, server, message("after the rotation"))
	for _, f := range signatureFields(t, signed) {
		if !slices.Contains(sels, f["s"]) {
			t.Errorf("the running signer still signs with %s", f["s"])
		}
	}
	for i, err := range verifyGo(t, signed, txt(t, command)) {
		if err != nil {
			t.Errorf("signature %d: %v", i, err)
		}
	}
}
