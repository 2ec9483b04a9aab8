package junk

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// words adds the words of s, lowercased, each with prefix: a header
// field's words, or without prefix a text's, whose each two consecutive
// words add a bigram too. Words are runs of letters, digits and
// '$', '\” or '-' inside; link targets ("http://host/...", "www.host")
// add their host as "url:".
//
// This is the classifier's hot loop (every word of every message scored
// at delivery), so it reads ASCII text a byte at a time, splitting a
// field, classifying its bytes and finding its words in one pass; a
// field holding any byte outside ASCII goes to field, the rune-by-rune
// code whose results the stored models depend on (Unicode spaces and
// letters, invalid UTF-8). Both give the same tokens, in the same order:
// TestGolden and FuzzTokenize hold them to it.
func (t *tokenizer) words(prefix, s string) {
	for len(s) > 0 && !t.full() {
		i := 0
		for i < len(s) && asciiClass[s[i]] == classSpace {
			i++
		}
		if i == len(s) {
			return
		}
		s = s[i:]
		var seen byteClass // the union of the field's byte classes
		j := 0
		for ; j < len(s); j++ {
			c := asciiClass[s[j]]
			if c == classSpace {
				break
			}
			seen |= c
		}
		if seen&classHigh != 0 {
			s = t.field(prefix, s)
			continue
		}
		f := s[:j]
		s = s[j:]
		// A link has "://" or "www.": a field with neither ':' nor '.'
		// is none.
		if seen&classLink != 0 {
			if host, ok := linkHost(f); ok {
				t.domain("url:", host)
				continue
			}
		}
		if seen&(classLink|classOther) == 0 { // one word: the common case
			t.asciiWord(prefix, f)
			continue
		}
		for k := 0; k < len(f); {
			for k < len(f) && asciiClass[f[k]] != classWord {
				k++
			}
			e := k
			for e < len(f) && asciiClass[f[e]] == classWord {
				e++
			}
			if e > k {
				t.asciiWord(prefix, f[k:e])
			}
			k = e
		}
	}
}

// byteClass is what one byte of text may be to words' ASCII scan: the
// classes are bits, so that a field's classes can be or-ed together.
type byteClass uint8

const (
	classSpace byteClass = 1 << iota // ASCII white space (unicode.IsSpace)
	classWord                        // ASCII letter, digit, '$', '\” or '-' (isWordRune)
	classLink                        // ':' or '.', which every link has
	classOther                       // any other ASCII byte
	classHigh                        // a byte of a multi-byte or invalid UTF-8 sequence
)

// asciiClass is the class of each byte value; it is never written after
// it is built.
var asciiClass = func() (a [256]byteClass) {
	for c := range a {
		switch r := rune(c); {
		case r >= utf8.RuneSelf:
			a[c] = classHigh
		case r == ' ' || '\t' <= r && r <= '\r':
			a[c] = classSpace
		case isWordRune(r):
			a[c] = classWord
		case r == ':' || r == '.':
			a[c] = classLink
		default:
			a[c] = classOther
		}
	}
	return a
}()

// asciiLower maps each byte to its ASCII lowercase (other bytes to
// themselves); it is never written after it is built.
var asciiLower = func() (a [256]byte) {
	for c := range a {
		a[c] = byte(c)
		if 'A' <= c && c <= 'Z' {
			a[c] += 'a' - 'A'
		}
	}
	return a
}()

// asciiWord adds one word of ASCII word bytes, as word does.
func (t *tokenizer) asciiWord(prefix, w string) {
	w = trimQuoteDash(w)
	if len(w) < minWord {
		return
	}
	if len(w) > maxWord {
		t.longWord(rune(w[0]), len(w))
	} else {
		t.w = slices.Grow(t.w[:0], len(w))[:len(w)]
		for i := range len(w) {
			t.w[i] = asciiLower[w[i]]
		}
	}
	t.emitWord(prefix)
}

// field adds the tokens of s's first field (after any leading space), one
// rune at a time, and returns the rest of s.
func (t *tokenizer) field(prefix, s string) string {
	i := span(s, spaceRunes, true)
	s = s[i:]
	j := span(s, spaceRunes, false)
	f := s[:j]
	s = s[j:]
	if host, ok := linkHost(f); ok {
		t.domain("url:", host)
		return s
	}
	for len(f) > 0 {
		k := span(f, wordRunes, false)
		if k == len(f) {
			break
		}
		f = f[k:]
		e := span(f, wordRunes, true)
		t.word(prefix, f[:e])
		f = f[e:]
	}
	return s
}

// runeClass is a kind of rune span looks for.
type runeClass bool

const (
	spaceRunes runeClass = false // unicode.IsSpace
	wordRunes  runeClass = true  // isWordRune
)

// span returns the length of s's longest prefix of runes whose being of
// class c is want (len(s) if all are): strings.IndexFunc without the
// function call per rune. An invalid UTF-8 byte is tested as
// utf8.RuneError, as IndexFunc tests it.
func span(s string, c runeClass, want bool) int {
	for i := 0; i < len(s); {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		var is bool
		if c == wordRunes {
			is = isWordRune(r)
		} else {
			is = r == ' ' || '\t' <= r && r <= '\r' || r >= utf8.RuneSelf && unicode.IsSpace(r)
		}
		if is != want {
			return i
		}
		i += n
	}
	return len(s)
}

// isWordRune reports whether r may be part of a word: a letter, a digit,
// '$', '\” or '-'.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '$' || r == '\'' || r == '-'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// word adds one word (and its bigram with the previous one).
func (t *tokenizer) word(prefix, w string) {
	w = trimQuoteDash(w)
	n := utf8.RuneCountInString(w)
	if n < minWord {
		return
	}
	if n > maxWord {
		r, _ := utf8.DecodeRuneInString(w)
		t.longWord(r, n)
	} else {
		t.w = appendLower(t.w[:0], w)
	}
	t.emitWord(prefix)
}

// longWord sets the current word to the token that stands for a word of
// n runes, the first r: "skip:", its class, and n to the ten below.
func (t *tokenizer) longWord(r rune, n int) {
	t.w = append(append(t.w[:0], "skip:"...), class(r)...)
	t.w = strconv.AppendInt(t.w, int64(n/10*10), 10)
}

// emitWord adds the current word with prefix; a text's word (no prefix)
// also adds its bigram with the previous word, and becomes the previous
// word.
func (t *tokenizer) emitWord(prefix string) {
	if prefix != "" {
		t.tok = append(append(t.tok[:0], prefix...), t.w...)
		t.emit(t.tok)
		return
	}
	id := t.textWord()
	if len(t.prev) > 0 {
		t.bigram(id)
	}
	// The current word becomes the previous one, and the previous one's
	// buffer the next word's.
	t.prev, t.w, t.prevID = t.w, t.prev[:0], id
}

// textWord emits the current word of a text and returns its id. The hash
// kind first looks in ids, a small cache of the ids of the message's
// words by their text: a message repeats its words, and a hit spares the
// maphash and the lookup in set.
func (t *tokenizer) textWord() uint32 {
	if t.h == nil || len(t.w) > len(cachedWord{}.w) {
		return t.emit(t.w)
	}
	e := &t.ids[wordSlot(t.w)]
	if int(e.n) == len(t.w) && string(e.w[:e.n]) == string(t.w) && !t.full() {
		return e.id
	}
	id := t.emit(t.w)
	if id != 0 {
		e.n, e.id = uint8(copy(e.w[:], t.w)), id
	}
	return id
}

// wordCache holds the ids of some of a message's words (see textWord).
// Its slot for a word is a fast hash of the word's text: a sender who
// makes words share slots only makes them miss, and a miss costs what no
// cache would.
type wordCache [256]cachedWord

type cachedWord struct {
	w  [maxWord]byte // the word, w[:n]; n == 0: empty
	n  uint8
	id uint32
}

// wordSlot returns w's slot in a wordCache; w is at most maxWord bytes.
func wordSlot(w []byte) uint8 {
	var a, b uint64
	switch n := len(w); {
	case n >= 8:
		a, b = binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[n-8:])
	case n >= 4:
		a, b = uint64(binary.LittleEndian.Uint32(w)), uint64(binary.LittleEndian.Uint32(w[n-4:]))
	case n > 0:
		a, b = uint64(w[0])|uint64(w[n/2])<<8, uint64(w[n-1])
	}
	h := (a ^ b<<7 ^ uint64(len(w))) * 0x9e3779b97f4a7c15
	return uint8(h >> 56)
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

// trimQuoteDash is strings.Trim(w, "'-").
func trimQuoteDash(w string) string {
	for len(w) > 0 && (w[0] == '\'' || w[0] == '-') {
		w = w[1:]
	}
	for len(w) > 0 && (w[len(w)-1] == '\'' || w[len(w)-1] == '-') {
		w = w[:len(w)-1]
	}
	return w
}

// class names the kind of a long word's first rune.
func class(r rune) string {
	switch {
	case unicode.IsDigit(r):
		return "digit"
	case r < utf8.RuneSelf:
		return "ascii"
	}
	return "other"
}

// appendLower appends w lowercased to dst: ASCII in place, anything else
// by strings.ToLower itself.
func appendLower(dst []byte, w string) []byte {
	start := len(dst)
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= utf8.RuneSelf:
			return append(dst[:start], strings.ToLower(w)...)
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
