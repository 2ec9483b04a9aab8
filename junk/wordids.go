package junk

import "encoding/binary"

// The hash kind's shortcuts for a text's words, which repeat: a word's id
// (its place among the message's distinct tokens, from emit) is cached
// by the word's text, and a bigram is known by its two words' ids.

// textWord emits the current word of a text, whose key is k, and returns
// its id. The hash kind first looks in ids, a small cache of the ids of
// the message's words by their text: a hit spares the maphash and the
// lookup in set.
func (t *tokenizer) textWord(k wordKey) uint32 {
	if t.h == nil || k.n == 0 {
		return t.emit(t.w)
	}
	e := &t.ids[k.slot()]
	if e.k == k && !t.full() {
		return e.id
	}
	id := t.emit(t.w)
	if id != 0 {
		e.k, e.id = k, id
	}
	return id
}

// wordKey is a word of at most maxWord bytes as a value: its bytes as
// little-endian words, zero past its length n. The zero wordKey stands
// for no word (one too long to cache).
type wordKey struct {
	w [maxWord / 8]uint64
	n uint32
}

// wordKey returns the current word's key.
func (t *tokenizer) wordKey() wordKey {
	var k wordKey
	if len(t.w) > maxWord {
		return k
	}
	var buf [maxWord]byte
	copy(buf[:], t.w)
	for i := range k.w {
		k.w[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	k.n = uint32(len(t.w))
	return k
}

// slot returns k's slot in a wordCache: a fast hash of its text. A sender
// who makes words share slots only makes them miss, and a miss costs what
// no cache would.
func (k wordKey) slot() uint8 {
	h := k.w[0]*0x9e3779b97f4a7c15 ^ k.w[1]*0xc2b2ae3d27d4eb4f ^ k.w[2] ^ uint64(k.n)
	h *= 0x165667b19e3779f9
	return uint8(h >> 56)
}

// wordCache holds the ids of some of a message's words (see textWord).
type wordCache [256]cachedWord

type cachedWord struct {
	k  wordKey // the zero key: empty
	id uint32
}

// bigram adds "bi:PREV WORD" for the previous and the current word, whose
// id (from emit) is id. The hash kind knows a bigram it has added by the
// ids of its two words, and builds and hashes its text only when it is
// new: a bigram's text and the pair of its words' texts determine each
// other (words hold no space), and within a message a word's text and its
// id do too. The pair's entry in set is the ids mixed under pairSeed by a
// bijection, so two pairs never share one, and a pair shares a token's
// maphash with the same chance as two tokens do, which no sender can aim
// at either (both seeds are random and secret).
func (t *tokenizer) bigram(id uint32) {
	if t.h == nil {
		t.tok = append(append(append(append(t.tok[:0], "bi:"...), t.prev...), ' '), t.w...)
		t.emit(t.tok)
		return
	}
	if t.full() { // so id and prevID are not 0 below
		return
	}
	c, added := t.set.upsert(pairKey(t.pairSeed, t.prevID, id))
	if !added {
		return
	}
	t.tok = append(append(append(append(t.tok[:0], "bi:"...), t.prev...), ' '), t.w...)
	t.hs = append(t.hs, t.h.hash(t.tok))
	c.ham = uint32(len(t.hs))
}

// pairKey mixes two ids under seed, one to one: SplitMix64's finalizer
// (Steele, Lea, Flood: "Fast splittable pseudorandom number generators",
// OOPSLA 2014), a bijection of 64-bit words.
func pairKey(seed uint64, a, b uint32) uint64 {
	k := (uint64(a)<<32 | uint64(b)) ^ seed
	k ^= k >> 30
	k *= 0xbf58476d1ce4e5b9
	k ^= k >> 27
	k *= 0x94d049bb133111eb
	k ^= k >> 31
	return k
}
