package junk

import "math/bits"

// words' fast path: the common field of a text is one short ASCII word
// followed by ASCII space. scanWord finds such a word eight bytes at a
// time, and the same eight-byte loads, masked and lowered, are the word's
// key; for the hash kind, a word and a bigram both seen before in the
// message then cost two probes of small tables and no call. Anything else
// goes the general way, so both give the same tokens in the same order
// (FuzzWords and TestGolden hold them to it).

const (
	ones8  = 0x0101010101010101
	highs8 = 0x8080808080808080
)

// scanWord adds the tokens of the field that starts s (which starts with
// no space) if the field is one ASCII word of at most maxWord bytes
// followed by an ASCII space, and returns the word's length; otherwise it
// adds nothing and returns 0.
func (t *tokenizer) scanWord(prefix, s string) int {
	if len(s) < 32 {
		return 0
	}
	// The word's bytes, eight at a time; past its end, the loads read
	// what follows, which the masks below clear.
	var c [4]uint64
	e := -1
	for i := range c {
		x := le64(s[8*i : 8*i+8])
		c[i] = x
		if nw := ^wordBytes8(x) & highs8; nw != 0 {
			e = 8*i + bits.TrailingZeros64(nw)/8
			break
		}
	}
	if e < 0 || asciiClass[s[e]] != classSpace {
		return 0
	}
	if e < minWord { // shorter still after trimQuoteDash
		return e
	}
	if e > maxWord || isQuoteDash(s[0]) || isQuoteDash(s[e-1]) {
		t.asciiWord(prefix, s, 0, e)
		return e
	}
	var k wordKey
	m := &wordMasks[e]
	for i := range k.w {
		k.w[i] = lowerASCII8(c[i] & m[i])
	}
	k.n = uint32(e)
	// The hash kind's text word and bigram, both seen before: the same
	// as emitWord's way (textWord finds the id, bigram finds the pair in
	// set and adds nothing), without its calls.
	if prefix == "" && t.h != nil && t.hasPrev && !t.full() {
		if id := t.ids.find(&k); id != 0 && t.pairs.has(t.prevID, id) {
			t.prevKey, t.prevID = k, id
			return e
		}
	}
	t.emitWord(prefix, &k)
	return e
}

func isQuoteDash(c byte) bool { return c == '\'' || c == '-' }

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

// wordBytes8 returns, of x's eight bytes, which are word bytes (ASCII
// letters, digits, '$', '\” and '-': asciiClass's classWord) as each
// such byte's high bit (0x80) set, all other bits clear.
func wordBytes8(x uint64) uint64 {
	y := x &^ highs8 // each byte below 0x80, so no sum below carries into the next
	w := inRange8(y|ones8*0x20, 'a', 'z') | inRange8(y, '0', '9') | zero8(y^ones8*'$') | zero8(y^ones8*'\'') | zero8(y^ones8*'-')
	return w &^ x // no byte of 0x80 or above is a word byte
}

// inRange8 returns which of y's bytes (each below 0x80) are within
// [lo, hi] (0 < lo <= hi < 0x7f), as in wordBytes8.
func inRange8(y uint64, lo, hi byte) uint64 {
	ge := y + ones8*uint64(0x80-lo)
	gt := y + ones8*uint64(0x80-hi-1)
	return ge &^ gt & highs8
}

// zero8 returns which of y's bytes (each below 0x80) are zero, as in
// wordBytes8: a byte b > 0 has b+0x7f reach 0x80, without carrying.
func zero8(y uint64) uint64 {
	return ^(y + ones8*0x7f) & highs8
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
