package junk

import (
	"encoding/binary"
	"math/bits"
)

// The hash kind's shortcuts for a text's words, which repeat: a word's id
// (its place among the message's distinct tokens, from emit) is kept in a
// small table by the word's text, and a bigram is known by its two words'
// ids.

// wordKey is a word of at most maxWord bytes as a value: its bytes as
// little-endian words, zero past its length n. The zero wordKey stands
// for no word (one too long to key, whose bytes are in the tokenizer's w
// or prev instead).
type wordKey struct {
	w [maxWord / 8]uint64
	n uint32
}

// keyOf returns w's key, the zero key if w is longer than maxWord.
func keyOf(w []byte) wordKey {
	var k wordKey
	if len(w) > maxWord {
		return k
	}
	var buf [maxWord]byte
	copy(buf[:], w)
	for i := range k.w {
		k.w[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	k.n = uint32(len(w))
	return k
}

// bytes returns k's word (k not zero) in buf.
func (k *wordKey) bytes(buf *[maxWord]byte) []byte {
	for i, x := range k.w {
		binary.LittleEndian.PutUint64(buf[8*i:], x)
	}
	return buf[:k.n]
}

// hash returns a fast hash of k's text, for wordIDs' slots. A sender who
// makes words share slots only makes them miss (see wordIDs), and a miss
// costs what no table would.
func (k *wordKey) hash() uint64 {
	h := k.w[0]*0x9e3779b97f4a7c15 ^ k.w[1]*0xc2b2ae3d27d4eb4f ^ k.w[2] ^ uint64(k.n)
	return h * 0x165667b19e3779f9
}

// wordIDs holds the ids of a message's keyed words: an open-addressing
// table whose probes are bounded (maxWordProbes), so a sender who makes
// words share slots (the slot hash is not keyed) only makes them miss and
// go the long way, through emit. A word never changes id within a
// message, so a table that misses never gives a wrong id. Its entries
// are the lowered words of the message's text: the tokenizer clears it
// (clear) before it is pooled.
type wordIDs struct {
	slots [wordSlots]wordSlot
	n     int // slots filled
}

type wordSlot struct {
	w  [maxWord / 8]uint64
	n  uint32 // the word's length; 0: empty
	id uint32
}

const (
	wordSlots     = 1 << 10 // a power of two
	maxWordProbes = 8
)

// find returns k's id, 0 if absent; k must not be zero.
func (ids *wordIDs) find(k *wordKey) uint32 {
	i := k.hash() >> (64 - 10)
	for range maxWordProbes {
		s := &ids.slots[i%wordSlots]
		if s.w == k.w && s.n == k.n {
			return s.id
		}
		if s.n == 0 {
			return 0
		}
		i++
	}
	return 0
}

// put records id as k's, if a slot within maxWordProbes of k's is free;
// k must not be zero nor present.
func (ids *wordIDs) put(k *wordKey, id uint32) {
	i := k.hash() >> (64 - 10)
	for range maxWordProbes {
		s := &ids.slots[i%wordSlots]
		if s.n == 0 {
			s.w, s.n, s.id = k.w, k.n, id
			ids.n++
			return
		}
		i++
	}
}

// clear empties the table (at no cost when it is empty).
func (ids *wordIDs) clear() {
	if ids.n > 0 {
		clear(ids.slots[:])
		ids.n = 0
	}
}

// textWord emits the current word of a text, k (or t.w when k is zero),
// and returns its id. The hash kind first looks in ids: a hit spares the
// maphash and the lookup in set.
func (t *tokenizer) textWord(k *wordKey) uint32 {
	if k.n == 0 {
		return t.emit(t.w)
	}
	// emit's hasher keeps a pointer to what it hashes (its Write is
	// called through an interface), so the word's bytes go to the
	// tokenizer's buffer, not the stack's, which it would move to the
	// heap.
	if t.h == nil {
		return t.emit(k.bytes(&t.kbuf))
	}
	if id := t.ids.find(k); id != 0 && !t.full() {
		return id
	}
	id := t.emit(k.bytes(&t.kbuf))
	if id != 0 {
		t.ids.put(k, id)
	}
	return id
}

// bigram adds "bi:PREV WORD" for the previous word and the current one,
// k (or t.w when k is zero), whose id (from emit) is id. The hash kind
// knows a bigram it has added by the ids of its two words, and builds and
// hashes its text only when it is new: a bigram's text and the pair of
// its words' texts determine each other (words hold no space), and within
// a message a word's text and its id do too. The pair's entry in set is
// the ids mixed under pairSeed by a bijection, so two pairs never share
// one, and a pair shares a token's maphash with the same chance as two
// tokens do, which no sender can aim at either (both seeds are random and
// secret).
func (t *tokenizer) bigram(k *wordKey, id uint32) {
	if t.h != nil {
		if t.full() { // so id and prevID are not 0 below
			return
		}
		c, added := t.set.upsert(pairKey(t.pairSeed, t.prevID, id))
		t.pairs.put(pairOf(t.prevID, id), 1)
		if !added {
			return
		}
		t.hs = append(t.hs, t.h.hash(t.bigramText(k)))
		c.ham = uint32(len(t.hs))
		return
	}
	t.emit(t.bigramText(k))
}

// bigramText returns the text of the bigram of the previous word and the
// current one, k (or t.w when k is zero), in t.tok. When both words are
// keyed it stores their keys' words straight into t.tok, eight bytes at a
// time (the bytes past each word are overwritten or past the end); else
// it is bigramTextBytes, which FuzzBigramText holds it to.
func (t *tokenizer) bigramText(k *wordKey) []byte {
	if k.n == 0 || !t.hasPrev || (t.prevShort == 0 && t.prevKey.n == 0) {
		return t.bigramTextBytes(k)
	}
	const room = len("bi:") + maxWord + 1 + maxWord + 8
	if cap(t.tok) < room {
		t.tok = make([]byte, 0, room)
	}
	b := t.tok[:room]
	b[0], b[1], b[2] = 'b', 'i', ':'
	n := 3
	if t.prevShort != 0 {
		binary.LittleEndian.PutUint64(b[n:], t.prevShort)
		n += (bits.Len64(t.prevShort) + 7) / 8
	} else {
		binary.LittleEndian.PutUint64(b[n:], t.prevKey.w[0])
		binary.LittleEndian.PutUint64(b[n+8:], t.prevKey.w[1])
		binary.LittleEndian.PutUint64(b[n+16:], t.prevKey.w[2])
		n += int(t.prevKey.n)
	}
	b[n] = ' '
	n++
	binary.LittleEndian.PutUint64(b[n:], k.w[0])
	binary.LittleEndian.PutUint64(b[n+8:], k.w[1])
	binary.LittleEndian.PutUint64(b[n+16:], k.w[2])
	t.tok = b[:n+int(k.n)]
	return t.tok
}

// bigramTextBytes is bigramText by the words' bytes.
func (t *tokenizer) bigramTextBytes(k *wordKey) []byte {
	var buf [maxWord]byte
	t.tok = append(append(t.tok[:0], "bi:"...), t.prevWord(&buf)...)
	t.tok = append(t.tok, ' ')
	if k.n == 0 {
		return append(t.tok, t.w...)
	}
	return append(t.tok, k.bytes(&buf)...)
}

// prevWord returns the previous word (nil if none), in buf if it is keyed.
// A short word's key is its bytes, none of them 0.
func (t *tokenizer) prevWord(buf *[maxWord]byte) []byte {
	switch {
	case !t.hasPrev:
		return nil
	case t.prevShort != 0:
		k := wordKey{w: [maxWord / 8]uint64{t.prevShort}, n: uint32(bits.Len64(t.prevShort)+7) / 8}
		return k.bytes(buf)
	case t.prevKey.n == 0:
		return t.prev
	}
	return t.prevKey.bytes(buf)
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
