package seal

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/sealpost/sealpost/internal/pwhash"
)

func benchSetup(b *testing.B) (*testAccount, []byte, []byte) {
	a := newTestAccount(b, "pw")
	msg := make([]byte, 10<<10)
	rand.Read(msg)
	return a, msg, sealBytes(b, a.rcpt, msg)
}

// BenchmarkSeal10KB is delivery: one X25519 operation and AES-256 over
// 10 KB.
func BenchmarkSeal10KB(b *testing.B) {
	a, msg, _ := benchSetup(b)
	var buf bytes.Buffer
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		if err := a.rcpt.Seal(&buf, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen10KB is a first read: the public-key operation, decryption,
// and wrapping the session key for the cache.
func BenchmarkOpen10KB(b *testing.B) {
	a, msg, sealed := benchSetup(b)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := a.gen.Unlocked.Open(sealed, []byte("ref")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenCached10KB is every later read: symmetric only.
func BenchmarkOpenCached10KB(b *testing.B) {
	a, msg, sealed := benchSetup(b)
	_, wrapped, err := a.gen.Unlocked.Open(sealed, []byte("ref"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.gen.Unlocked.OpenCached(sealed, wrapped, []byte("ref")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDerive is one login's Argon2id run with pwhash.DefaultParams.
func BenchmarkDerive(b *testing.B) {
	salt := make([]byte, saltLen)
	for b.Loop() {
		derive([]byte("correct horse battery staple"), salt, pwhash.DefaultParams, infoAuth, infoKEK)
	}
}

// BenchmarkGenerate is account creation's key generation (pwhash.TestParams,
// so the recovery wrap's Argon2id does not dominate).
func BenchmarkGenerate(b *testing.B) {
	s := &Secret{kek: make([]byte, keyLen)}
	for b.Loop() {
		if _, err := Generate(testAddr, s, pwhash.TestParams, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWindowSeal10KB is delivery in the v2 format: HKDF and AES-GCM,
// the window's one public-key operation made before timing.
func BenchmarkWindowSeal10KB(b *testing.B) {
	a, msg, _ := benchSetup(b)
	wd := newWindow(b, a.rcpt)
	var buf bytes.Buffer
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		buf.Reset()
		if _, err := wd.SealFrom(&buf, bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWindowOpen10KB is a first read of a v2 message whose window the
// session has opened: HKDF, AES-GCM, and wrapping the key for the cache.
func BenchmarkWindowOpen10KB(b *testing.B) {
	a, msg, _ := benchSetup(b)
	sealed := windowSeal(b, newWindow(b, a.rcpt), msg)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, _, err := a.gen.Unlocked.Open(sealed, []byte("ref")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWindowOpenCached10KB is a later read of a v2 message.
func BenchmarkWindowOpenCached10KB(b *testing.B) {
	a, msg, _ := benchSetup(b)
	sealed := windowSeal(b, newWindow(b, a.rcpt), msg)
	_, wrapped, err := a.gen.Unlocked.Open(sealed, []byte("ref"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := a.gen.Unlocked.OpenCached(sealed, wrapped, []byte("ref")); err != nil {
			b.Fatal(err)
		}
	}
}
