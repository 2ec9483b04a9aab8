package junk

import "math/bits"

// words' fast path: the common field of a text is one short ASCII word
// followed by ASCII space. scanWords finds such words eight bytes at a
// time, and the same eight-byte loads, masked and lowered, are the word's
// key; for the hash kind, a word and a bigram both seen before in the
// message then cost two probes of small tables and no call. A word of at
// most seven bytes (most words) is one load, and its key one number.
// Anything else goes the general way, so both give the same tokens in the
// same order (FuzzWords and TestGolden hold them to it).

const (
	ones8  = 0x0101010101010101
	highs8 = 0x8080808080808080
)

// scanWords adds the tokens of the fields at the start of s (after any
// ASCII space) for as long as each is one ASCII word of letters and
// digits followed by an ASCII space, or by one byte of trailing
// punctuation and an ASCII space (see fieldEnd), and the 32 bytes from its start are
// in s; it returns the rest of s, from the first field it leaves to words
// (or the spaces before it).
func (t *tokenizer) scanWords(prefix, s string) string {
	fast := prefix == "" && t.h != nil
	for len(s) >= 32 && !t.full() {
		if asciiClass[s[0]] == classSpace {
			s = s[1:]
			continue
		}
		x := le64(s[0:8])
		// The first byte not a letter or digit ends the word.
		if nw := ^alnum8(x) & highs8; nw != 0 { // a word of at most seven bytes
			e := bits.TrailingZeros64(nw) / 8
			next := e + 1
			if asciiClass[s[e]] != classSpace {
				if next = fieldEnd(s, e); next < 0 || (e == 3 && s[e] == '.' && x&0xdfdfdf == 'W'|'W'<<8|'W'<<16) {
					return s // "www." is a link (linkHost)
				}
			}
			if e >= minWord {
				w := lowerASCII8(x & (uint64(1)<<(8*uint(e)) - 1))
				// The hash kind: emitWord's way, with the word's id
				// looked up once, in shorts (a short word is not put
				// in ids: a miss there only costs emit's lookup in
				// set). A word and bigram both seen before add
				// nothing (bigram would find the pair in set).
				var id uint32
				if fast {
					id = t.shorts.find(w)
					if t.hasPrev && id != 0 && t.pairs.find(pairOf(t.prevID, id)) != 0 {
						t.prevShort, t.prevID = w, id
						s = s[next:]
						continue
					}
				}
				k := wordKey{w: [maxWord / 8]uint64{w}, n: uint32(e)}
				if !fast {
					t.emitWord(prefix, &k)
					s = s[next:]
					continue
				}
				if id == 0 {
					if id = t.emit(k.bytes(&t.kbuf)); id != 0 {
						t.shorts.put(w, id)
					}
				}
				if t.hasPrev {
					t.bigram(&k, id)
				}
				t.prevShort, t.prevID, t.hasPrev = w, id, true
			}
			s = s[next:]
			continue
		}
		// A longer word: its bytes, eight at a time; past its end, the
		// loads read what follows, which the masks below clear.
		c := [4]uint64{x}
		e := -1
		for i := 1; i < len(c); i++ {
			x := le64(s[8*i : 8*i+8])
			c[i] = x
			if nw := ^alnum8(x) & highs8; nw != 0 {
				e = 8*i + bits.TrailingZeros64(nw)/8
				break
			}
		}
		// A field of more than one word, or of a word with '$', '\'' or
		// '-' (which trimQuoteDash may trim), or with a byte outside
		// ASCII, or too long to key, is words'.
		if e < 0 || e > maxWord {
			return s
		}
		next := e + 1
		if asciiClass[s[e]] != classSpace {
			if next = fieldEnd(s, e); next < 0 {
				return s
			}
		}
		var k wordKey
		m := &wordMasks[e]
		for i := range k.w {
			k.w[i] = lowerASCII8(c[i] & m[i])
		}
		k.n = uint32(e)
		if !fast {
			t.emitWord(prefix, &k)
			s = s[next:]
			continue
		}
		// As above, the id looked up once, in ids (textWord's way).
		id := t.ids.find(&k)
		if t.hasPrev && id != 0 && t.pairs.find(pairOf(t.prevID, id)) != 0 {
			t.prevKey, t.prevShort, t.prevID = k, 0, id
			s = s[next:]
			continue
		}
		if id == 0 {
			if id = t.emit(k.bytes(&t.kbuf)); id != 0 {
				t.ids.put(&k, id)
			}
		}
		if t.hasPrev {
			t.bigram(&k, id)
		}
		t.prevKey, t.prevShort, t.prevID, t.hasPrev = k, 0, id, true
		s = s[next:]
	}
	return s
}

// fieldEnd returns where the field ends whose word, of ASCII letters and
// digits, ends at s[e] (e+1 < len(s)): past s[e] if it is ASCII space,
// past s[e+1] if that is ASCII space and s[e] one punctuation byte after
// which the word is all words would find in the field (the byte is no word
// byte, and a link only if the field is "www.", which the caller rules
// out), else -1.
func fieldEnd(s string, e int) int {
	switch c := s[e]; {
	case asciiClass[c] == classSpace:
		return e + 1
	case isTrailPunct(c) && asciiClass[s[e+1]] == classSpace:
		return e + 2
	}
	return -1
}

// isTrailPunct reports whether c is punctuation that commonly ends a
// word in text: none of them is a word byte, and ':' and '.' are what
// words checks for links.
func isTrailPunct(c byte) bool {
	switch c {
	case ',', '.', ';', ':', '!', '?', ')', '"':
		return true
	}
	return false
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

// numIDs maps numbers (not 0) to ids (not 0): the hash kind's short
// words (a word of at most seven bytes, lowered, as a little-endian
// number) and bigrams it has added (pairOf their words' ids, the id 1).
// It is an open-addressing table with bounded probes, so a word or pair
// it misses only goes the long way (a word through emit, a pair through
// set); its slot hash is not keyed, and a sender who makes keys share
// slots only makes them miss. Its short words are words of the message's
// text: the tokenizer clears it (clear) before it is pooled.
type numIDs struct {
	slots [numSlots]numSlot
	n     int // slots filled
}

type numSlot struct {
	k  uint64 // 0: empty
	id uint32
}

const (
	numSlots     = 1 << 10 // a power of two
	maxNumProbes = 4
)

// pairOf is the numIDs key of the bigram of words with ids a and b (not
// 0).
func pairOf(a, b uint32) uint64 { return uint64(a)<<32 | uint64(b) }

func numSlotOf(k uint64) uint64 { return (k * 0x9e3779b97f4a7c15) >> (64 - 10) }

// find returns k's id, 0 if absent.
func (ns *numIDs) find(k uint64) uint32 {
	i := numSlotOf(k)
	for range maxNumProbes {
		switch s := &ns.slots[i%numSlots]; s.k {
		case k:
			return s.id
		case 0:
			return 0
		}
		i++
	}
	return 0
}

// put records id (not 0) as k's, if k is absent and a slot within
// maxNumProbes of its own is free.
func (ns *numIDs) put(k uint64, id uint32) {
	i := numSlotOf(k)
	for range maxNumProbes {
		switch s := &ns.slots[i%numSlots]; s.k {
		case k:
			return
		case 0:
			s.k, s.id = k, id
			ns.n++
			return
		}
		i++
	}
}

// clear empties the table (at no cost when it is empty).
func (ns *numIDs) clear() {
	if ns.n > 0 {
		clear(ns.slots[:])
		ns.n = 0
	}
}
