package junk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/dchest/siphash"
)

// Key is an account's token key. A Model's tokens are hashed under it by
// one of two keyed functions, recorded in the model (see tokenHash):
//
//   - SipHash-2-4 (new models): SipHash-2-4 of the token under a 128-bit
//     key derived from Key once per use (sipKey), its 64-bit output as is;
//   - HMAC-SHA256 (models written before, format 1): HMAC-SHA256(Key,
//     token) truncated to its first 64 bits (big-endian).
//
// Both are pseudorandom functions of the token under a secret key, with
// 64-bit outputs, so what follows holds for either. Collisions: two
// distinct tokens share a hash with probability 2^-64; among a full
// model's DefaultCap = 200,000 tokens the chance that any two collide is
// about n²/2^65 ≈ 1.1e-9, and the chance that one of a message's at most
// 10,000 tokens lands on some other token's counts is about 10,000 ×
// 200,000 / 2^64 ≈ 1.1e-10. Either would only nudge one message's score.
// A sender cannot aim at a collision: without the key the outputs are
// unpredictable (SipHash-2-4 is a PRF under its 128-bit key; it is not
// collision resistant for whoever holds the key, which only the account's
// own filter does).
type Key [32]byte

// tokenHash names the keyed function a Model's token hashes come from.
// The zero value is what a new Model uses.
type tokenHash uint8

const (
	// hashSipHash is SipHash-2-4 under sipKey(Key): new models.
	hashSipHash tokenHash = iota
	// hashHMAC is HMAC-SHA256(Key, token), first 64 bits: models trained
	// before SipHash, which keep it (their hashes cannot be recomputed
	// without the tokens, which are not kept).
	hashHMAC
)

// sipKeyLabel separates the SipHash key from every other use of Key.
const sipKeyLabel = "sealpost junk: SipHash-2-4 token key, v1"

// sipKey derives SipHash's 128-bit key from the account's 32-byte Key:
// the first 16 bytes of HMAC-SHA256(Key, sipKeyLabel), as two
// little-endian words (SipHash's key byte order). Derived rather than
// cut from Key, so that the two token hashes never share key material
// (an old model's HMAC outputs say nothing about a new model's SipHash
// outputs, and no function ever sees Key itself in two roles), and so
// that all of Key's 256 bits count toward the 128. It runs once per
// message scored or trained (one HMAC instead of one per token).
func sipKey(k Key) (k0, k1 uint64) {
	mac := hmac.New(sha256.New, k[:])
	mac.Write([]byte(sipKeyLabel))
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	k0, k1 = binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16])
	clear(sum[:])
	return k0, k1
}

// hasher hashes tokens under one key with one tokenHash: SipHash with its
// derived key, or one HMAC state reset per token.
type hasher struct {
	kind   tokenHash
	k0, k1 uint64 // SipHash's key
	mac    hash.Hash
	sum    []byte
}

func newHasher(k Key, kind tokenHash) *hasher {
	h := new(hasher)
	h.init(k, kind)
	return h
}

// init readies h for k and kind, replacing what it held.
func (h *hasher) init(k Key, kind tokenHash) {
	*h = hasher{kind: kind}
	if kind == hashHMAC {
		h.mac, h.sum = hmac.New(sha256.New, k[:]), make([]byte, 0, sha256.Size)
		return
	}
	h.k0, h.k1 = sipKey(k)
}

func (h *hasher) hash(tok []byte) uint64 {
	if h.kind == hashSipHash {
		return siphash.Hash(h.k0, h.k1, tok)
	}
	h.mac.Reset()
	h.mac.Write(tok)
	h.sum = h.mac.Sum(h.sum[:0])
	return binary.BigEndian.Uint64(h.sum)
}
