package dkimsign_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sealpost/sealpost/dkimsign"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/seal"
)

// deployKey is a real deployment key (the queue key's kind), made once
// per test binary: its Recipient seals the private keys, its Unlocked opens
// them.
var deployKey = sync.OnceValues(func() (*seal.Generated, error) {
	_, secret, err := seal.NewPassword("deployment passphrase", pwhash.TestParams)
	if err != nil {
		return nil, err
	}
	defer secret.Wipe()
	return seal.Generate("queue@sealpost.invalid", secret, pwhash.TestParams, nil)
})

// opener opens what the deployment key sealed, as server.OpenSealed does.
func opener(t testing.TB) func([]byte) ([]byte, error) {
	g, err := deployKey()
	testkit.Must(t, err)
	return func(sealed []byte) ([]byte, error) {
		plain, _, err := g.Unlocked.Open(sealed, nil)
		return plain, err
	}
}

// openKeys opens the keys under dir with the test deployment key.
func openKeys(t testing.TB, dir string) *dkimsign.Keys {
	t.Helper()
	g, err := deployKey()
	testkit.Must(t, err)
	r, err := seal.ParseRecipient(g.PublicKey)
	testkit.Must(t, err)
	k, err := dkimsign.Open(dir, r, opener(t))
	testkit.Must(t, err)
	return k
}

const domain = "example.org"

// ensured opens the keys under dir and makes example.org's.
func ensured(t testing.TB, dir string) *dkimsign.Keys {
	t.Helper()
	k := openKeys(t, dir)
	testkit.Must(t, k.Ensure(domain))
	return k
}

// message is a message as a client submits it: folded fields, trailing
// white space and an empty line at the end of the body (which relaxed
// canonicalization ignores), 8-bit text.
func message(subject string) []byte {
	return []byte(strings.Join([]string{
		"From: Alice <alice@example.org>",
		"To: bob@example.net,",
		"  carol@example.com",
		"Subject: " + subject,
		"Date: Mon, 07 Dec 2026 10:00:00 +0000",
		"Message-ID: <1@example.org>",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: 8bit",
		"List-Unsubscribe: <mailto:unsubscribe@example.org>",
		"X-Unsigned: not in h=",
		"",
		"Hello Bob,   ",
		"caf\xc3\xa9 at noon?",
		"",
		"",
	}, "\r\n"))
}

// txt maps each key record's DNS name to its value, as DNS would answer.
func txt(t testing.TB, k *dkimsign.Keys) map[string]string {
	t.Helper()
	recs, err := k.Records(domain)
	testkit.Must(t, err)
	m := map[string]string{}
	for _, r := range recs {
		m[r.Selector+"._domainkey."+domain] = r.Value
	}
	return m
}

// verifyGo verifies every signature of signed with go-msgauth and returns
// the errors, one per signature (nil when it verified).
func verifyGo(t testing.TB, signed []byte, records map[string]string) []error {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if v, ok := records[name]; ok {
				return []string{v}, nil
			}
			return nil, fmt.Errorf("no TXT record at %s", name)
		},
	})
	testkit.Must(t, err)
	var errs []error
	for _, v := range vs {
		errs = append(errs, v.Err)
	}
	return errs
}

type pyResult struct {
	Selector, Algorithm, Error string
	OK                         bool
}

// verifyPython verifies every signature of signed with dkimpy.
func verifyPython(t *testing.T, signed []byte, records map[string]string) []pyResult {
	t.Helper()
	py := testenv.NeedPythonModule(t, "dkim", "python3-dkim")
	dir := t.TempDir()
	dns := map[string]string{}
	for name, v := range records {
		dns[name+"."] = v
	}
	js, _ := json.Marshal(dns)
	testkit.Must(t, os.WriteFile(filepath.Join(dir, "msg.eml"), signed, 0o600))
	testkit.Must(t, os.WriteFile(filepath.Join(dir, "records.json"), js, 0o600))
	out, err := exec.Command(py, "testdata/verify.py", filepath.Join(dir, "msg.eml"), filepath.Join(dir, "records.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("verify.py: %v\n%s", err, out)
	}
	var rs []pyResult
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r pyResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("verify.py said %q", out)
		}
		rs = append(rs, r)
	}
	return rs
}

func sign(t testing.TB, k *dkimsign.Keys, msg []byte) []byte {
	t.Helper()
	sigs, err := k.Sign(domain, msg)
	testkit.Must(t, err)
	return append(sigs, msg...)
}

// Both signatures verify with go-msgauth and with dkimpy, each against its
// own published record, and carry what the package promises.
func TestSignVerifies(t *testing.T) {
	k := ensured(t, t.TempDir())
	records := txt(t, k)
	signed := sign(t, k, message("lunch"))

	fields := signatureFields(t, signed)
	if len(fields) != 2 {
		t.Fatalf("%d signatures, want 2:\n%s", len(fields), signed)
	}
	for i, alg := range []string{"ed25519-sha256", "rsa-sha256"} {
		f := fields[i]
		if f["a"] != alg || f["c"] != "relaxed/relaxed" || f["d"] != domain {
			t.Errorf("signature %d: a=%s c=%s d=%s", i, f["a"], f["c"], f["d"])
		}
		if _, ok := records[f["s"]+"._domainkey."+domain]; !ok {
			t.Errorf("signature %d: selector %s has no record", i, f["s"])
		}
		h := strings.Split(strings.ToLower(f["h"]), ":")
		count := func(name string) int {
			return len(slices.DeleteFunc(slices.Clone(h), func(s string) bool { return s != name }))
		}
		// Present single fields once more than present, absent ones once,
		// List-* as present, others not at all.
		if count("from") != 2 || count("to") != 2 || count("reply-to") != 1 || count("list-unsubscribe") != 1 ||
			count("list-id") != 0 || count("x-unsigned") != 0 {
			t.Errorf("signature %d: h=%s", i, f["h"])
		}
	}
	for i, err := range verifyGo(t, signed, records) {
		if err != nil {
			t.Errorf("go-msgauth: signature %d: %v", i, err)
		}
	}
	rs := verifyPython(t, signed, records)
	if len(rs) != 2 || rs[0].Algorithm != "ed25519-sha256" || rs[1].Algorithm != "rsa-sha256" {
		t.Fatalf("dkimpy: %+v", rs)
	}
	for _, r := range rs {
		if !r.OK {
			t.Errorf("dkimpy: %s (%s) failed: %s", r.Selector, r.Algorithm, r.Error)
		}
	}
}

// What the signatures protect: a changed or added single field breaks
// both (the fields are oversigned); a mailing list's added List-Id does
// not.
func TestSignProtects(t *testing.T) {
	k := ensured(t, t.TempDir())
	records := txt(t, k)
	signed := sign(t, k, message("lunch"))
	for _, c := range []struct {
		name  string
		edit  func([]byte) []byte
		valid bool
	}{
		{"unchanged", func(b []byte) []byte { return b }, true},
		{"list adds List-Id", func(b []byte) []byte { return append([]byte("List-Id: <lunch.example.org>\r\n"), b...) }, true},
		{"body white space", func(b []byte) []byte { return bytes.Replace(b, []byte("Hello Bob,"), []byte("Hello  Bob,"), 1) }, true},
		{"subject changed", func(b []byte) []byte { return bytes.Replace(b, []byte("Subject: lunch"), []byte("Subject: dinner"), 1) }, false},
		{"second From", func(b []byte) []byte { return append([]byte("From: mallory@example.org\r\n"), b...) }, false},
		{"Reply-To added", func(b []byte) []byte { return append([]byte("Reply-To: mallory@example.net\r\n"), b...) }, false},
		{"body changed", func(b []byte) []byte { return bytes.Replace(b, []byte("noon"), []byte("nine"), 1) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i, err := range verifyGo(t, c.edit(bytes.Clone(signed)), records) {
				if (err == nil) != c.valid {
					t.Errorf("signature %d: %v, want valid=%v", i, err, c.valid)
				}
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	dir := t.TempDir()
	k := ensured(t, dir)
	_, err := k.Sign("unknown.example", message("x"))
	testkit.WantKind(t, "a domain without keys", err, errors.NotExist)
	_, err = k.Sign(domain, []byte("To: bob@example.net\r\n\r\nno From\r\n"))
	testkit.WantKind(t, "a message without From", err, errors.Invalid)
	_, err = k.Sign("../"+domain, message("x"))
	testkit.WantKind(t, "a path for a domain", err, errors.Invalid)

	g, _ := deployKey()
	r, _ := seal.ParseRecipient(g.PublicKey)
	noOpen, err := dkimsign.Open(dir, r, nil)
	testkit.Must(t, err)
	_, err = noOpen.Sign(domain, message("x"))
	testkit.WantKind(t, "signing without the deployment key", err, errors.Unavailable)
	// It can still read the records and make keys: those need no private key.
	testkit.Must(t, noOpen.Ensure("other.example"))
	if recs, err := noOpen.Records(domain); err != nil || len(recs) != 2 {
		t.Fatalf("Records without the deployment key: %v %v", recs, err)
	}

	failing, err := dkimsign.Open(dir, r, func([]byte) ([]byte, error) {
		return nil, errors.E(errors.Unavailable, errors.Str("no passphrase"))
	})
	testkit.Must(t, err)
	_, err = failing.Sign(domain, message("x"))
	testkit.WantKind(t, "an opener that fails", err, errors.Unavailable)
}

func TestDomainName(t *testing.T) {
	for in, want := range map[string]string{
		"Example.ORG":           "example.org",
		"example.org.":          "example.org",
		"bücher.example":        "xn--bcher-kva.example",
		"xn--bcher-kva.example": "xn--bcher-kva.example",
		"a-b.c1.example":        "a-b.c1.example",
		"localhost":             "",
		"../etc":                "",
		"a/b.example":           "",
		"a..example":            "",
		"-a.example":            "",
		"a_b.example":           "",
		"":                      "",
	} {
		got, err := dkimsign.DomainName(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("DomainName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// Many goroutines sign at once (run with -race): one opening of the keys,
// every signature valid.
func TestSignConcurrent(t *testing.T) {
	k := ensured(t, t.TempDir())
	records := txt(t, k)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				msg := message(fmt.Sprintf("message %d.%d", g, i))
				sigs, err := k.Sign(domain, msg)
				if err != nil {
					errs <- err
					return
				}
				for _, err := range verifyGo(t, append(sigs, msg...), records) {
					if err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// signatureFields returns the tags of each DKIM-Signature field of signed.
func signatureFields(t testing.TB, signed []byte) []map[string]string {
	t.Helper()
	var out []map[string]string
	header, _, _ := bytes.Cut(signed, []byte("\r\n\r\n"))
	unfolded := strings.ReplaceAll(strings.ReplaceAll(string(header), "\r\n ", " "), "\r\n\t", " ")
	for _, line := range strings.Split(unfolded, "\r\n") {
		v, ok := strings.CutPrefix(line, "DKIM-Signature:")
		if !ok {
			continue
		}
		tags := map[string]string{}
		for _, tag := range strings.Split(v, ";") {
			name, val, _ := strings.Cut(tag, "=")
			tags[strings.TrimSpace(name)] = strings.Join(strings.Fields(val), "")
		}
		out = append(out, tags)
	}
	return out
}

// BenchmarkSign signs a 10 KiB message with both keys (opened once).
func BenchmarkSign(b *testing.B) {
	k := ensured(b, b.TempDir())
	msg := message("benchmark")
	line := []byte(strings.Repeat("0123456789abcdef", 4) + "\r\n")
	for len(msg) < 10<<10 {
		msg = append(msg, line...)
	}
	if _, err := k.Sign(domain, msg); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.Sign(domain, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzSign: whatever the message, Sign either refuses it or signs it so
// that it verifies.
func FuzzSign(f *testing.F) {
	f.Add(message("seed"))
	f.Add([]byte("From: a@example.org\r\n\r\n"))
	f.Add([]byte("From: a@example.org\n\nbare LF\n"))
	f.Add([]byte("From: a@example.org"))
	f.Add([]byte("from :a@example.org\r\n folded\r\n\tagain\r\nSubject:\r\n\r\nx"))
	k := ensured(f, f.TempDir())
	records := txt(f, k)
	f.Fuzz(func(t *testing.T, msg []byte) {
		sigs, err := k.Sign(domain, msg)
		if err != nil {
			return
		}
		signed := append(sigs, msg...)
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{
			LookupTXT: func(name string) ([]string, error) { return []string{records[name]}, nil },
		})
		if err != nil {
			return // go-msgauth's reader refuses what its signer accepted (a header without an end)
		}
		for i, v := range vs {
			if v.Err != nil {
				t.Fatalf("signature %d of %q: %v", i, msg, v.Err)
			}
		}
	})
}
