package junk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// TestHashers checks both token hashes against their definitions: SipHash
// against the reference implementation's test vector (so the key's byte
// order is SipHash's own), its key against HMAC-SHA256(Key, label), and
// HMAC-SHA256's first 64 bits big-endian.
func TestHashers(t *testing.T) {
	// SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e.
	var key [16]byte
	msg := make([]byte, 15)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range msg {
		msg[i] = byte(i)
	}
	h := &hasher{kind: hashSipHash, k0: binary.LittleEndian.Uint64(key[:8]), k1: binary.LittleEndian.Uint64(key[8:])}
	if got := h.hash(msg); got != 0xa129ca6149be45e5 {
		t.Errorf("SipHash-2-4 test vector: %#x", got)
	}

	k := Key{1, 2, 3}
	mac := hmac.New(sha256.New, k[:])
	mac.Write([]byte(sipKeyLabel))
	sum := mac.Sum(nil)
	sh := newHasher(k, hashSipHash)
	if sh.k0 != binary.LittleEndian.Uint64(sum[:8]) || sh.k1 != binary.LittleEndian.Uint64(sum[8:16]) {
		t.Errorf("SipHash key %#x %#x is not HMAC-SHA256(Key, label)'s first 16 bytes", sh.k0, sh.k1)
	}
	if k0, k1 := sipKey(Key{1, 2, 4}); k0 == sh.k0 || k1 == sh.k1 {
		t.Error("two keys give the same SipHash key")
	}

	hh := newHasher(k, hashHMAC)
	for _, tok := range []string{"", "casino", "bi:cheap pills", "subject:große"} {
		mac.Reset()
		mac.Write([]byte(tok))
		if got, want := hh.hash([]byte(tok)), binary.BigEndian.Uint64(mac.Sum(nil)); got != want {
			t.Errorf("HMAC hash of %q: %#x, want %#x", tok, got, want)
		}
		if sh.hash([]byte(tok)) == hh.hash([]byte(tok)) {
			t.Errorf("%q: the two hashes agree", tok)
		}
	}
}
