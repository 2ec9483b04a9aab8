package seal

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
)

// The fuzz targets use fixed keys from testdata, so that the seed corpus
// (testdata/fuzz/Fuzz*) holds records that really open: mutations of them
// reach deep into the parsers. Refresh all of it with
//
//	go test ./seal -run TestFixtures -update
var update = flag.Bool("update", false, "rewrite the fuzz fixtures and seed corpus in testdata")

const (
	fuzzPassword = "fuzz password"
	fuzzBinding  = "fuzz-blob-ref"
	// fuzzCode is the fixture's recovery code: 20 bytes 0x00..0x13.
	fuzzCode = "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT"
)

var (
	fixtureBundle   = filepath.Join("testdata", "fuzz-key.bundle") // unwrapped: test only
	fixtureVerifier = filepath.Join("testdata", "fuzz.verifier")
	fixtureSealed   = filepath.Join("testdata", "fuzz.sealed")
)

type fuzzFixture struct {
	u          *Unlocked
	secret     *Secret
	verifier   []byte
	sealed     []byte
	wrappedSK  []byte
	byPassword []byte
	byRecovery []byte
}

func loadFixture(t testing.TB) *fuzzFixture {
	t.Helper()
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (regenerate with: go test ./seal -run TestFixtures -update)", err)
		}
		return b
	}
	fx := &fuzzFixture{verifier: read(fixtureVerifier), sealed: read(fixtureSealed)}
	u, err := unlockBundle("fixture", read(fixtureBundle))
	if err != nil {
		t.Fatalf("fixture bundle: %v", err)
	}
	fx.u = u
	if fx.secret, err = CheckPassword(fx.verifier, fuzzPassword); err != nil {
		t.Fatalf("fixture verifier: %v", err)
	}
	if _, fx.wrappedSK, err = u.Open(fx.sealed, []byte(fuzzBinding)); err != nil {
		t.Fatalf("fixture message: %v", err)
	}
	if fx.byPassword, err = u.Wrap(fx.secret); err != nil {
		t.Fatal(err)
	}
	if fx.byRecovery, err = u.WrapRecovery(fuzzCode, pwhash.TestParams); err != nil {
		t.Fatal(err)
	}
	return fx
}

// TestFixtures checks the fixtures and, with -update, first rewrites them.
func TestFixtures(t *testing.T) {
	if *update {
		writeFixtures(t)
	}
	fx := loadFixture(t)
	raw, err := parseRecoveryCode(fuzzCode)
	if err != nil || !bytes.Equal(raw, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}) {
		t.Fatalf("fuzzCode decodes to % x, %v", raw, err)
	}
	if _, err := UnwrapRecovery(fx.byRecovery, fuzzCode); err != nil {
		t.Fatal(err)
	}
}

func writeFixtures(t *testing.T) {
	v, s, err := NewPassword(fuzzPassword, pwhash.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Generate("fuzz@sealpost.invalid", s, pwhash.TestParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecipient(g.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	if err := r.Seal(&sealed, []byte("Subject: fuzz seed\r\n\r\nA short message for the fuzzer.\r\n")); err != nil {
		t.Fatal(err)
	}
	write := func(p string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fixtureBundle, encodeBundle(g.Unlocked.priv, g.Unlocked.mk))
	write(fixtureVerifier, v)
	write(fixtureSealed, sealed.Bytes())

	fx := loadFixture(t)
	corpus := func(target, name string, b []byte) {
		write(filepath.Join("testdata", "fuzz", target, name),
			[]byte("go test fuzz v1\n[]byte("+strconv.Quote(string(b))+")\n"))
	}
	corpus("FuzzOpen", "sealed", fx.sealed)
	corpus("FuzzOpen", "truncated", fx.sealed[:len(fx.sealed)/2])
	corpus("FuzzOpen", "no-pkesk", fx.sealed[pkeskEnd(t, fx.sealed):])
	corpus("FuzzUnwrap", "password", fx.byPassword)
	corpus("FuzzUnwrap", "recovery", fx.byRecovery)
	corpus("FuzzUnwrap", "session", fx.wrappedSK)
	corpus("FuzzUnwrap", "bundle", encodeBundle(fx.u.priv, fx.u.mk))
	corpus("FuzzCheckPassword", "verifier", fx.verifier)
	corpus("FuzzCheckPassword", "other-version", append([]byte{'V', 2}, fx.verifier[2:]...))
}

// cheap reports whether p costs little enough to run while fuzzing.
func cheap(p pwhash.Params) bool {
	return p.Time <= 2 && p.MemoryKiB <= 256 && p.Threads <= 4
}

// FuzzUnwrap feeds arbitrary bytes to every unwrapping path: password,
// recovery, session key, and the bundle decoder behind them.
func FuzzUnwrap(f *testing.F) {
	fx := loadFixture(f)
	f.Add(fx.byPassword)
	f.Add(fx.byRecovery)
	f.Add(fx.wrappedSK)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if u, err := fx.secret.Unwrap(data); err == nil && u.Fingerprint() != fx.u.Fingerprint() {
			t.Fatal("Unwrap opened a record to another key")
		}
		if len(data) >= recoveryHeaderLen && cheap(parseParams(data[2:])) {
			if u, err := UnwrapRecovery(data, fuzzCode); err == nil && u.Fingerprint() != fx.u.Fingerprint() {
				t.Fatal("UnwrapRecovery opened a record to another key")
			}
		}
		fx.u.mu.RLock()
		_, key, err := fx.u.unwrapSessionKey(data, []byte(fuzzBinding))
		fx.u.mu.RUnlock()
		if err == nil && len(key) != 16 && len(key) != 24 && len(key) != 32 {
			t.Fatalf("session key of %d bytes", len(key))
		}
		// Decoding an authenticated bundle: only reachable with a valid
		// GCM tag, so fuzz it directly.
		if u, err := unlockBundle("fuzz", bytes.Clone(data)); err == nil {
			if _, err := u.Wrap(fx.secret); err != nil || len(u.Fingerprint()) != 40 {
				t.Fatalf("bundle accepted but not usable: %v", err)
			}
		}
	})
}

// FuzzCheckPassword feeds arbitrary verifier records to CheckPassword.
func FuzzCheckPassword(f *testing.F) {
	fx := loadFixture(f)
	f.Add(fx.verifier)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, _, err := parseVerifier(data)
		if err != nil {
			if _, err := CheckPassword(data, fuzzPassword); err == nil {
				t.Fatal("CheckPassword accepted a record parseVerifier rejects")
			}
			return
		}
		if !cheap(p) {
			return
		}
		_, err = CheckPassword(data, fuzzPassword)
		if bytes.Equal(data, fx.verifier) != (err == nil) {
			t.Fatalf("CheckPassword on the fixture %v: %v", bytes.Equal(data, fx.verifier), err)
		}
	})
}

// FuzzOpen feeds arbitrary sealed messages to Open and, with the fixture
// message's session key, to OpenCached.
func FuzzOpen(f *testing.F) {
	fx := loadFixture(f)
	f.Add(fx.sealed)
	f.Add([]byte{})
	binding := []byte(fuzzBinding)
	f.Fuzz(func(t *testing.T, data []byte) {
		pt, wrapped, err := fx.u.Open(data, binding)
		if err == nil {
			again, err := fx.u.OpenCached(data, wrapped, binding)
			if err != nil || !bytes.Equal(again, pt) {
				t.Fatalf("Open succeeded, OpenCached with its key: %v", err)
			}
		}
		pt2, err := fx.u.OpenCached(data, fx.wrappedSK, binding)
		if err == nil && pt != nil && !bytes.Equal(pt, pt2) {
			t.Fatalf("Open and OpenCached disagree on %d bytes", len(data))
		}
	})
}

// TestStoredRecordsOpen opens records written by an earlier build (the
// fixture verifier and the seed corpus's password- and recovery-wrapped
// bundles), so a change to the Argon2id derivation or to the record
// formats that would lock out existing accounts fails here.
func TestStoredRecordsOpen(t *testing.T) {
	fx := loadFixture(t)
	stored := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzUnwrap", name))
		if err != nil {
			t.Fatal(err)
		}
		_, lit, ok := bytes.Cut(bytes.TrimSpace(b), []byte("[]byte("))
		if !ok || !bytes.HasSuffix(lit, []byte(")")) {
			t.Fatalf("%s: not a fuzz corpus file", name)
		}
		s, err := strconv.Unquote(string(lit[:len(lit)-1]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return []byte(s)
	}
	u, err := fx.secret.Unwrap(stored("password"))
	if err != nil {
		t.Fatalf("stored password-wrapped bundle: %v", err)
	}
	if u.Fingerprint() != fx.u.Fingerprint() {
		t.Error("stored password-wrapped bundle opened to another key")
	}
	if u, err = UnwrapRecovery(stored("recovery"), fuzzCode); err != nil {
		t.Fatalf("stored recovery-wrapped bundle: %v", err)
	}
	if u.Fingerprint() != fx.u.Fingerprint() {
		t.Error("stored recovery-wrapped bundle opened to another key")
	}
	if _, err := CheckPassword(fx.verifier, fuzzPassword+"!"); !errors.Is(errors.Permission, err) {
		t.Errorf("stored verifier with a wrong password: %v", err)
	}
}
