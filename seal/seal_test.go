package seal

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/ecdh"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
)

const testAddr = "alice@demo.example"

type testAccount struct {
	verifier []byte
	secret   *Secret
	gen      *Generated
	rcpt     *Recipient
}

func newTestAccount(t testing.TB, password string) *testAccount {
	t.Helper()
	v, s, err := NewPassword(password, pwhash.TestParams)
	if err != nil {
		t.Fatalf("NewPassword: %v", err)
	}
	g, err := Generate(testAddr, s, pwhash.TestParams, nil)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	r, err := ParseRecipient(g.PublicKey)
	if err != nil {
		t.Fatalf("ParseRecipient: %v", err)
	}
	return &testAccount{verifier: v, secret: s, gen: g, rcpt: r}
}

func sealBytes(t testing.TB, r *Recipient, plaintext []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Seal(&buf, plaintext); err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return buf.Bytes()
}

func wantKind(t *testing.T, what string, err error, kind errors.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %v", what, kind)
		return
	}
	if got := errors.KindOf(err); got != kind {
		t.Errorf("%s: error kind %v (%v), want %v", what, got, err, kind)
	}
}

func TestRoundTrip(t *testing.T) {
	a := newTestAccount(t, "correct horse")
	u := a.gen.Unlocked
	if fp := u.Fingerprint(); fp != a.rcpt.Fingerprint() || len(fp) != 40 {
		t.Fatalf("fingerprints: unlocked %q, recipient %q", fp, a.rcpt.Fingerprint())
	}
	for _, size := range []int{0, 1, 511, 512, 513, 10 << 10, 300 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			msg := make([]byte, size)
			rand.Read(msg)
			sealed := sealBytes(t, a.rcpt, msg)
			if hint := a.rcpt.SealedSizeHint(size); len(sealed) > hint {
				t.Errorf("sealed %d bytes, hint %d", len(sealed), hint)
			}
			binding := []byte("blob-ref-1")
			got, wrapped, err := u.Open(sealed, binding)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("Open returned different plaintext")
			}
			got, err = u.OpenCached(sealed, wrapped, binding)
			if err != nil {
				t.Fatalf("OpenCached: %v", err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("OpenCached returned different plaintext")
			}
		})
	}
}

func TestPassword(t *testing.T) {
	a := newTestAccount(t, "correct horse")

	s, err := CheckPassword(a.verifier, "correct horse")
	if err != nil {
		t.Fatalf("CheckPassword: %v", err)
	}
	u, err := s.Unwrap(a.gen.WrappedByPassword)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if u.Fingerprint() != a.gen.Unlocked.Fingerprint() {
		t.Fatalf("unwrapped another key")
	}
	// The unwrapped key opens what was sealed to the public key.
	sealed := sealBytes(t, a.rcpt, []byte("hello"))
	if got, _, err := u.Open(sealed, nil); err != nil || string(got) != "hello" {
		t.Fatalf("Open after Unwrap: %q, %v", got, err)
	}

	_, err = CheckPassword(a.verifier, "correct horsE")
	wantKind(t, "wrong password", err, errors.Permission)
	_, err = CheckPassword(a.verifier, "")
	wantKind(t, "empty password", err, errors.Permission)

	// Another password's Secret does not unwrap the bundle.
	_, other, err := NewPassword("battery staple", pwhash.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Unwrap(a.gen.WrappedByPassword)
	wantKind(t, "Unwrap with another secret", err, errors.Permission)

	// A recovery record is not a password record.
	_, err = s.Unwrap(a.gen.WrappedByRecovery)
	wantKind(t, "Unwrap of recovery record", err, errors.Invalid)

	// A wiped Secret is unusable.
	s.Wipe()
	_, err = s.Unwrap(a.gen.WrappedByPassword)
	wantKind(t, "Unwrap with wiped secret", err, errors.Invalid)

	_, _, err = NewPassword("", pwhash.TestParams)
	wantKind(t, "NewPassword empty", err, errors.Invalid)
}

func TestPasswordChange(t *testing.T) {
	a := newTestAccount(t, "old password")
	v2, s2, err := NewPassword("new password", pwhash.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := a.gen.Unlocked.Wrap(s2)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if bytes.Equal(w2, a.gen.WrappedByPassword) {
		t.Fatal("re-wrap equals old wrap")
	}
	s, err := CheckPassword(v2, "new password")
	if err != nil {
		t.Fatalf("CheckPassword new: %v", err)
	}
	u, err := s.Unwrap(w2)
	if err != nil {
		t.Fatalf("Unwrap new: %v", err)
	}
	sealed := sealBytes(t, a.rcpt, []byte("after change"))
	if got, _, err := u.Open(sealed, nil); err != nil || string(got) != "after change" {
		t.Fatalf("Open: %q, %v", got, err)
	}
	_, err = CheckPassword(v2, "old password")
	wantKind(t, "old password on new verifier", err, errors.Permission)
	old, err := CheckPassword(a.verifier, "old password")
	if err != nil {
		t.Fatal(err)
	}
	_, err = old.Unwrap(w2)
	wantKind(t, "old secret on new wrap", err, errors.Permission)
}

var codeRE = regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){7}$`)

func TestRecovery(t *testing.T) {
	a := newTestAccount(t, "pw")
	code := a.gen.RecoveryCode
	if !codeRE.MatchString(code) {
		t.Fatalf("recovery code %q not in the expected form", code)
	}
	sealed := sealBytes(t, a.rcpt, []byte("recover me"))
	typed := []string{
		code,
		strings.ToLower(code),
		strings.ReplaceAll(code, "-", ""),
		" " + strings.ReplaceAll(strings.ToLower(code), "-", " ") + "\n",
		strings.NewReplacer("O", "0", "I", "1", "B", "8").Replace(code),
	}
	for _, c := range typed {
		u, err := UnwrapRecovery(a.gen.WrappedByRecovery, c)
		if err != nil {
			t.Errorf("UnwrapRecovery(%q): %v", c, err)
			continue
		}
		if got, _, err := u.Open(sealed, nil); err != nil || string(got) != "recover me" {
			t.Errorf("Open after recovery: %q, %v", got, err)
		}
	}

	// A wrong but well-formed code.
	raw, _ := parseRecoveryCode(code)
	raw[0] ^= 1
	wrong := b32.EncodeToString(raw)
	_, err := UnwrapRecovery(a.gen.WrappedByRecovery, wrong)
	wantKind(t, "wrong code", err, errors.Permission)

	for _, bad := range []string{"", "ABCD", code + "-ABCD", strings.Replace(code, code[:1], "9", 1), "é" + code[1:]} {
		_, err := UnwrapRecovery(a.gen.WrappedByRecovery, bad)
		wantKind(t, fmt.Sprintf("malformed code %q", bad), err, errors.Invalid)
	}
	_, err = UnwrapRecovery(a.gen.WrappedByPassword, code)
	wantKind(t, "password record as recovery", err, errors.Invalid)

	// Re-wrapping under a new code.
	code2, _, err := newRecoveryCode(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := a.gen.Unlocked.WrapRecovery(code2, pwhash.TestParams)
	if err != nil {
		t.Fatalf("WrapRecovery: %v", err)
	}
	if _, err := UnwrapRecovery(w2, code2); err != nil {
		t.Fatalf("UnwrapRecovery new code: %v", err)
	}
	_, err = UnwrapRecovery(w2, code)
	wantKind(t, "old code on new wrap", err, errors.Permission)
	_, err = a.gen.Unlocked.WrapRecovery("not a code", pwhash.TestParams)
	wantKind(t, "WrapRecovery bad code", err, errors.Invalid)
}

// TestTamperedWraps flips each byte of the wrapped records: none may open.
func TestTamperedWraps(t *testing.T) {
	a := newTestAccount(t, "pw")
	for i := range a.gen.WrappedByPassword {
		w := bytes.Clone(a.gen.WrappedByPassword)
		w[i] ^= 0x01
		_, err := a.secret.Unwrap(w)
		if err == nil {
			t.Fatalf("password wrap with byte %d flipped opened", i)
		}
		if k := errors.KindOf(err); k != errors.Permission && k != errors.Invalid {
			t.Fatalf("byte %d flipped: kind %v", i, k)
		}
	}
	// The recovery header holds the Argon2 parameters: flipping them may ask
	// for more work, so only flip the salt and later bytes, plus a sample
	// of the parameter bytes that lower the cost.
	for i := 2 + paramsLen; i < len(a.gen.WrappedByRecovery); i++ {
		w := bytes.Clone(a.gen.WrappedByRecovery)
		w[i] ^= 0x01
		_, err := UnwrapRecovery(w, a.gen.RecoveryCode)
		wantKind(t, fmt.Sprintf("recovery wrap byte %d flipped", i), err, errors.Permission)
	}
	w := bytes.Clone(a.gen.WrappedByRecovery)
	w[2+paramsLen-1] = 2 // threads 1 → 2: still valid, different key
	_, err := UnwrapRecovery(w, a.gen.RecoveryCode)
	wantKind(t, "recovery params changed", err, errors.Permission)
	w[2+paramsLen-1] = 0
	_, err = UnwrapRecovery(w, a.gen.RecoveryCode)
	wantKind(t, "recovery params invalid", err, errors.Invalid)

	_, err = a.secret.Unwrap(a.gen.WrappedByPassword[:20])
	wantKind(t, "truncated wrap", err, errors.Invalid)
	_, err = a.secret.Unwrap(nil)
	wantKind(t, "nil wrap", err, errors.Invalid)
}

// pkeskEnd returns the offset where the first packet (the PKESK) ends.
func pkeskEnd(t *testing.T, sealed []byte) int {
	t.Helper()
	if sealed[0] != 0xc1 || sealed[1] >= 192 {
		t.Fatalf("unexpected first packet header % x", sealed[:2])
	}
	return 2 + int(sealed[1])
}

func TestTamperedMessage(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	sealed := sealBytes(t, a.rcpt, []byte("Subject: a small message\r\n\r\nwith a body that spans a few blocks of AES.\r\n"))
	binding := []byte("ref")
	_, wrapped, err := u.Open(sealed, binding)
	if err != nil {
		t.Fatal(err)
	}
	start := pkeskEnd(t, sealed)
	for i := range sealed {
		m := bytes.Clone(sealed)
		m[i] ^= 0x01
		// Bytes 12-14 are the ephemeral point's MPI bit count and its 0x40
		// prefix, which go-crypto does not check: flipping their low bit
		// changes nothing that is used.
		if 12 <= i && i <= 14 {
			continue
		}
		if _, _, err := u.Open(m, binding); err == nil {
			t.Errorf("Open: byte %d flipped, no error", i)
		} else if k := errors.KindOf(err); k != errors.Invalid && k != errors.Sealed {
			t.Errorf("Open: byte %d flipped: kind %v", i, k)
		}
		// OpenCached does not read the PKESK's contents; from the data
		// packet on, every change must be caught.
		if i >= start {
			_, err := u.OpenCached(m, wrapped, binding)
			wantKind(t, fmt.Sprintf("OpenCached: byte %d flipped", i), err, errors.Invalid)
		}
	}
	for _, n := range []int{0, 1, start, start + 10, len(sealed) - 1} {
		_, _, err := u.Open(sealed[:n], binding)
		wantKind(t, fmt.Sprintf("Open truncated to %d", n), err, errors.Invalid)
		_, err = u.OpenCached(sealed[:n], wrapped, binding)
		wantKind(t, fmt.Sprintf("OpenCached truncated to %d", n), err, errors.Invalid)
	}
	// Appended data.
	_, _, err = u.Open(append(bytes.Clone(sealed), 0), binding)
	wantKind(t, "Open with trailing byte", err, errors.Invalid)
	_, err = u.OpenCached(append(bytes.Clone(sealed), 0xc1, 0x00), wrapped, binding)
	wantKind(t, "OpenCached with trailing packet", err, errors.Invalid)
}

func TestSessionKeyWrap(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	s1 := sealBytes(t, a.rcpt, []byte("message one"))
	s2 := sealBytes(t, a.rcpt, []byte("message two"))
	_, w1, err := u.Open(s1, []byte("ref1"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.OpenCached(s1, w1, []byte("ref2"))
	wantKind(t, "wrong binding", err, errors.Permission)
	_, err = u.OpenCached(s1, w1, nil)
	wantKind(t, "no binding", err, errors.Permission)
	// The right binding but another message's blob: the session key is
	// wrong, so the MDC fails.
	_, err = u.OpenCached(s2, w1, []byte("ref1"))
	wantKind(t, "session key of another message", err, errors.Invalid)
	for i := range w1 {
		w := bytes.Clone(w1)
		w[i] ^= 0x80
		_, err := u.OpenCached(s1, w, []byte("ref1"))
		if err == nil {
			t.Fatalf("wrapped session key with byte %d flipped opened", i)
		}
	}
	_, err = u.OpenCached(s1, w1[:10], []byte("ref1"))
	wantKind(t, "truncated wrapped session key", err, errors.Invalid)

	// Another account's mailbox key does not open it.
	b := newTestAccount(t, "pw")
	_, err = b.gen.Unlocked.OpenCached(s1, w1, []byte("ref1"))
	wantKind(t, "other account's OpenCached", err, errors.Permission)
	_, _, err = b.gen.Unlocked.Open(s1, []byte("ref1"))
	wantKind(t, "other account's Open", err, errors.Sealed)
}

// TestNoLeaks checks that plaintext does not appear in sealed output and
// secrets do not appear in stored records.
func TestNoLeaks(t *testing.T) {
	a := newTestAccount(t, "a password")
	u := a.gen.Unlocked
	marker := []byte("PLAINTEXT-MARKER-7f3a9c")
	msg := bytes.Repeat(append(bytes.Clone(marker), '\n'), 200)
	sealed := sealBytes(t, a.rcpt, msg)
	if bytes.Contains(sealed, marker) || bytes.Contains(sealed, marker[:12]) {
		t.Error("plaintext marker in sealed message")
	}
	var mime bytes.Buffer
	if err := SealPGPMIME(&mime, a.rcpt, msg, "a@b.example", "c@d.example", testTime); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mime.Bytes(), marker[:12]) {
		t.Error("plaintext marker in PGP/MIME message")
	}
	_, wrappedSK, err := u.Open(sealed, []byte("ref"))
	if err != nil {
		t.Fatal(err)
	}
	_, sk, err := u.unwrapSessionKey(wrappedSK, []byte("ref"))
	if err != nil {
		t.Fatal(err)
	}

	var secrets [][]byte
	secrets = append(secrets, u.mk, sk, a.secret.kek)
	for _, k := range u.dec {
		switch pk := k.PrivateKey.(type) {
		case *ecdh.PrivateKey:
			secrets = append(secrets, pk.D)
		default:
			t.Fatalf("unexpected subkey type %T", pk)
		}
	}
	e, err := newEntity(u.priv)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, e.PrivateKey.PrivateKey.(*eddsa.PrivateKey).D)

	records := map[string][]byte{
		"verifier":          a.verifier,
		"public key":        a.gen.PublicKey,
		"password wrap":     a.gen.WrappedByPassword,
		"recovery wrap":     a.gen.WrappedByRecovery,
		"sealed":            sealed,
		"wrapped session":   wrappedSK,
		"PGP/MIME":          mime.Bytes(),
		"armored pub":       must(ArmorPublicKey(a.gen.PublicKey)),
		"exported (locked)": must(u.ExportPrivateKey("export pass")),
	}
	for name, rec := range records {
		for i, s := range secrets {
			if len(s) < 16 {
				t.Fatalf("secret %d too short to search for", i)
			}
			// Any 8-byte window of a secret would be a leak.
			for j := 0; j+8 <= len(s); j++ {
				if bytes.Contains(rec, s[j:j+8]) {
					t.Errorf("%s contains bytes of secret %d", name, i)
					break
				}
			}
		}
	}
	if bytes.Contains(a.gen.WrappedByRecovery, []byte(a.gen.RecoveryCode)) {
		t.Error("recovery wrap contains the code")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestConcurrentOpen(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	const n = 8
	sealed := make([][]byte, n)
	wrapped := make([][]byte, n)
	for i := range sealed {
		sealed[i] = sealBytes(t, a.rcpt, []byte(fmt.Sprintf("message %d", i)))
		var err error
		if _, wrapped[i], err = u.Open(sealed[i], []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, 4*n)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				want := fmt.Sprintf("message %d", i)
				binding := []byte(fmt.Sprint(i))
				got, _, err := u.Open(sealed[i], binding)
				if err != nil || string(got) != want {
					errc <- fmt.Errorf("Open %d: %q, %v", i, got, err)
				}
				got, err = u.OpenCached(sealed[i], wrapped[i], binding)
				if err != nil || string(got) != want {
					errc <- fmt.Errorf("OpenCached %d: %q, %v", i, got, err)
				}
				// Sealing concurrently with the same Recipient.
				if err := a.rcpt.Seal(new(bytes.Buffer), []byte(want)); err != nil {
					errc <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func TestWipe(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	sealed := sealBytes(t, a.rcpt, []byte("x"))
	_, w, err := u.Open(sealed, nil)
	if err != nil {
		t.Fatal(err)
	}
	mk := u.mk
	u.Wipe()
	if !bytes.Equal(mk, make([]byte, keyLen)) {
		t.Error("mailbox key not zeroed")
	}
	_, _, err = u.Open(sealed, nil)
	wantKind(t, "Open after Wipe", err, errors.Sealed)
	_, err = u.OpenCached(sealed, w, nil)
	wantKind(t, "OpenCached after Wipe", err, errors.Sealed)
	_, err = u.Wrap(a.secret)
	wantKind(t, "Wrap after Wipe", err, errors.Sealed)
	_, err = u.ExportPrivateKey("x")
	wantKind(t, "Export after Wipe", err, errors.Sealed)
	// Other copies are unaffected.
	u2, err := a.secret.Unwrap(a.gen.WrappedByPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := u2.Open(sealed, nil); err != nil {
		t.Fatalf("Open with a fresh unwrap: %v", err)
	}
}

// TestParamsValidate checks that the entry points refuse parameters
// pwhash.Params.Validate refuses (the limits themselves are tested there).
func TestParamsValidate(t *testing.T) {
	_, _, err := NewPassword("pw", pwhash.Params{})
	wantKind(t, "NewPassword zero params", err, errors.Invalid)
	_, err = Generate(testAddr, &Secret{kek: make([]byte, keyLen)}, pwhash.Params{}, nil)
	wantKind(t, "Generate zero params", err, errors.Invalid)
}

func TestVerifierRecord(t *testing.T) {
	v, _, err := NewPassword("pw", pwhash.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != verifierLen || v[0] != 'V' || v[1] != 1 {
		t.Fatalf("verifier header % x, length %d", v[:2], len(v))
	}
	p, _, _, err := parseVerifier(v)
	if err != nil || p != pwhash.TestParams {
		t.Fatalf("parseVerifier: %+v, %v", p, err)
	}
	v2, _, _ := NewPassword("pw", pwhash.TestParams)
	if bytes.Equal(v, v2) {
		t.Error("two verifiers of one password are equal: salt not random")
	}
	bad := map[string][]byte{
		"nil":         nil,
		"short":       v[:len(v)-1],
		"long":        append(bytes.Clone(v), 0),
		"type":        append([]byte{'X'}, v[1:]...),
		"version":     append([]byte{'V', 2}, v[2:]...),
		"huge memory": setParams(v, pwhash.Params{Time: 1, MemoryKiB: 1 << 30, Threads: 1}),
		"many passes": setParams(v, pwhash.Params{Time: 1000, MemoryKiB: 64, Threads: 1}),
	}
	for name, rec := range bad {
		_, err := CheckPassword(rec, "pw")
		wantKind(t, name, err, errors.Invalid)
	}
	// Flipping a hash or salt byte makes the right password fail.
	for _, i := range []int{2 + paramsLen, len(v) - 1} {
		w := bytes.Clone(v)
		w[i] ^= 1
		_, err := CheckPassword(w, "pw")
		wantKind(t, fmt.Sprintf("byte %d flipped", i), err, errors.Permission)
	}
}

func setParams(v []byte, p pwhash.Params) []byte {
	w := bytes.Clone(v)
	appendParams(w[2:2], p)
	return w
}

func TestGenerate(t *testing.T) {
	s := &Secret{kek: make([]byte, keyLen)}
	for _, addr := range []string{"", "a<b>@c", "a\n@b", "bob (x)@c"} {
		_, err := Generate(addr, s, pwhash.TestParams, nil)
		wantKind(t, fmt.Sprintf("Generate(%q)", addr), err, errors.Invalid)
	}
	_, err := Generate(testAddr, &Secret{}, pwhash.TestParams, nil)
	wantKind(t, "Generate with wiped secret", err, errors.Invalid)

	g, err := Generate(testAddr, s, pwhash.TestParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	el, err := readKeys(g.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	e := el[0]
	if e.PrimaryKey.Version != 4 || e.PrimaryKey.PubKeyAlgo != packet.PubKeyAlgoEdDSA {
		t.Errorf("primary key v%d algo %d, want v4 EdDSA", e.PrimaryKey.Version, e.PrimaryKey.PubKeyAlgo)
	}
	if len(e.Subkeys) != 1 || e.Subkeys[0].PublicKey.PubKeyAlgo != packet.PubKeyAlgoECDH {
		t.Errorf("want one ECDH subkey, have %d", len(e.Subkeys))
	}
	if _, ok := e.Identities["<"+testAddr+">"]; !ok || len(e.Identities) != 1 {
		t.Errorf("identities %v, want <%s>", e.Identities, testAddr)
	}
}
