package junk

import "math/bits"

// words' fast path: the common field of a text is one short ASCII word
// followed by ASCII space. scanWords finds such words eight bytes at a
// time, and the same eight-byte loads, masked and lowered, are the word's
// key; for the hash kind, a word and a bigram both seen before in the
// message then cost two probes of small tables and no call. Anything else
// goes the general way, so both give the same tokens in the same order
// (FuzzWords and TestGolden hold them to it).

const (
	ones8  = 0x0101010101010101
	highs8 = 0x8080808080808080
)

// scanWords adds the tokens of the fields at the start of s (after any
// ASCII space) for as long as each is one ASCII word of letters and
// digits followed by an ASCII space, and the 32 bytes from its start are
// in s; it returns the rest of s, from the first field it leaves to words
// (or the spaces before it).
func (t *tokenizer) scanWords(prefix, s string) string {
	fast := prefix == "" && t.h != nil
	for len(s) >= 32 && !t.full() {
		if asciiClass[s[0]] == classSpace {
			s = s[1:]
			continue
		}
		// The word's bytes, eight at a time; past its end, the loads
		// read what follows, which the masks below clear.
		var c [4]uint64
		e := -1
		for i := range c {
			x := le64(s[8*i : 8*i+8])
			c[i] = x
			// The first byte not a letter or digit ends the word.
			if nw := ^alnum8(x) & highs8; nw != 0 {
				e = 8*i + bits.TrailingZeros64(nw)/8
				break
			}
		}
		// A field of more than one word, or of a word with '$', '\'' or
		// '-' (which trimQuoteDash may trim), or with a byte outside
		// ASCII, or too long to key, is words'.
		if e < 0 || asciiClass[s[e]] != classSpace || e > maxWord {
			return s
		}
		if e >= minWord {
			var k wordKey
			m := &wordMasks[e]
			for i := range k.w {
				k.w[i] = lowerASCII8(c[i] & m[i])
			}
			k.n = uint32(e)
			// The hash kind's text word and bigram, both seen before:
			// the same as emitWord's way (textWord finds the id, bigram
			// finds the pair in set and adds nothing), without its calls.
			if id := uint32(0); fast && t.hasPrev {
				id = t.ids.find(&k)
				if id != 0 && t.pairs.has(t.prevID, id) {
					t.prevKey, t.prevID = k, id
					s = s[e+1:]
					continue
				}
			}
			t.emitWord(prefix, &k)
		}
		s = s[e+1:]
	}
	return s
}

// wordMasks[n] keeps the first n bytes of a word loaded as three
// little-endian words.
var wordMasks = func() (a [maxWord + 1][maxWord / 8]uint64) {
	for n := range a {
		for i := range a[n] {
			m := min(max(n-8*i, 0), 8)
			a[n][i] = uint64(1)<<(8*uint(m)) - 1
		}
	}
	return a
}()

// alnum8 returns which of x's eight bytes are ASCII letters or digits,
// as each such byte's high bit (0x80) set, all other bits clear. Of y,
// x's bytes without their high bits, and l, y's with the bit that tells
// ASCII upper case from lower set, a byte is a letter if l's byte plus
// 0x80-'a' reaches 0x80 and plus 0x80-'z'-1 does not, a digit likewise;
// no byte's sum carries into the next.
func alnum8(x uint64) uint64 {
	y := x &^ highs8
	l := y | ones8*0x20
	r := (l+ones8*(0x80-'a'))&^(l+ones8*(0x80-'z'-1)) | (y+ones8*(0x80-'0'))&^(y+ones8*(0x80-'9'-1))
	return r &^ x & highs8
}

// pairIDs holds bigrams the hash kind has added, by their words' ids
// (see bigram): an open-addressing table of (prevID<<32 | id), 0 empty,
// with bounded probes, so that a bigram it misses is only looked up in
// set. It holds no text.
type pairIDs struct {
	slots [pairSlots]uint64
	n     int // slots filled
}

const (
	pairSlots     = 1 << 11 // a power of two
	maxPairProbes = 4
)

func pairSlot(p uint64) uint64 { return (p * 0x9e3779b97f4a7c15) >> (64 - 11) }

// has reports whether the pair of ids a, b (both not 0) is present.
func (ps *pairIDs) has(a, b uint32) bool {
	p := uint64(a)<<32 | uint64(b)
	i := pairSlot(p)
	for range maxPairProbes {
		switch ps.slots[i%pairSlots] {
		case p:
			return true
		case 0:
			return false
		}
		i++
	}
	return false
}

// put records the pair of ids a, b (both not 0), if a slot within
// maxPairProbes of its own is free.
func (ps *pairIDs) put(a, b uint32) {
	p := uint64(a)<<32 | uint64(b)
	i := pairSlot(p)
	for range maxPairProbes {
		switch ps.slots[i%pairSlots] {
		case p:
			return
		case 0:
			ps.slots[i%pairSlots] = p
			ps.n++
			return
		}
		i++
	}
}

// clear empties the table (at no cost when it is empty).
func (ps *pairIDs) clear() {
	if ps.n > 0 {
		clear(ps.slots[:])
		ps.n = 0
	}
}
