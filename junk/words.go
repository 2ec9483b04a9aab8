package junk

import (
	"encoding/binary"
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
// at delivery). Runs of fields that are each one ASCII word of letters
// and digits go to scanWords, which reads them eight bytes at a time;
// other ASCII fields are read a byte at a time, splitting a field,
// classifying its bytes and finding its words in one pass; a
// field holding any byte outside ASCII goes to field, the rune-by-rune
// code whose results the stored models depend on (Unicode spaces and
// letters, invalid UTF-8). Both give the same tokens, in the same order:
// TestGolden and FuzzTokenize hold them to it.
func (t *tokenizer) words(prefix, s string) {
	for len(s) > 0 && !t.full() {
		if s = t.scanWords(prefix, s); t.full() {
			return
		}
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
		// f is s[:j]; the words in it are passed as offsets in s, which
		// asciiWord may read past.
		f := s[:j]
		// A link has "://" or "www.": a field with neither ':' nor '.'
		// is none.
		if seen&classLink != 0 {
			if host, ok := linkHost(f); ok {
				t.domain("url:", host)
				s = s[j:]
				continue
			}
		}
		if seen&(classLink|classOther) == 0 { // one word: the common case
			t.asciiWord(prefix, s, 0, j)
			s = s[j:]
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
				t.asciiWord(prefix, s, k, e)
			}
			k = e
		}
		s = s[j:]
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

// asciiWord adds one word of ASCII word bytes, s[a:b], as word does, but
// lowering it eight bytes at a time straight from s into its key.
func (t *tokenizer) asciiWord(prefix, s string, a, b int) {
	for a < b && (s[a] == '\'' || s[a] == '-') { // trimQuoteDash
		a++
	}
	for b > a && (s[b-1] == '\'' || s[b-1] == '-') {
		b--
	}
	n := b - a
	if n < minWord {
		return
	}
	if n > maxWord {
		t.longWord(rune(s[a]), n)
		k := keyOf(t.w)
		t.emitWord(prefix, &k)
		return
	}
	var k wordKey
	if len(s)-a >= maxWord {
		// The bytes past the word are masked off below.
		w := s[a : a+maxWord]
		k.w[0], k.w[1], k.w[2] = le64(w[0:8]), le64(w[8:16]), le64(w[16:24])
	} else {
		var buf [maxWord]byte
		copy(buf[:], s[a:b])
		for i := range k.w {
			k.w[i] = binary.LittleEndian.Uint64(buf[8*i:])
		}
	}
	m := &wordMasks[n]
	for i := range k.w {
		k.w[i] = lowerASCII8(k.w[i] & m[i])
	}
	k.n = uint32(n)
	t.emitWord(prefix, &k)
}

// le64 returns the first eight bytes of s as a little-endian number.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// lowerASCII8 lowercases the eight bytes of x, each of which is ASCII:
// a byte b gets 0x20 added when b+0x3f reaches 0x80 (b >= 'A') and b+0x25
// does not (b <= 'Z'); no sum carries into the next byte.
func lowerASCII8(x uint64) uint64 {
	const ones = 0x0101010101010101
	ge := x + ones*(0x80-'A')
	gt := x + ones*(0x80-'Z'-1)
	return x | (ge&^gt&(ones*0x80))>>2
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
	k := keyOf(t.w)
	t.emitWord(prefix, &k)
}

// longWord sets t.w to the token that stands for a word of n runes, the
// first r: "skip:", its class, and n to the ten below.
func (t *tokenizer) longWord(r rune, n int) {
	t.w = append(append(t.w[:0], "skip:"...), class(r)...)
	t.w = strconv.AppendInt(t.w, int64(n/10*10), 10)
}

// emitWord adds the current word, k (or t.w when k is zero), with
// prefix; a text's word (no prefix) also adds its bigram with the
// previous word, and becomes the previous word.
func (t *tokenizer) emitWord(prefix string, k *wordKey) {
	if prefix != "" {
		w := t.w
		var buf [maxWord]byte
		if k.n != 0 {
			w = k.bytes(&buf)
		}
		t.tok = append(append(t.tok[:0], prefix...), w...)
		t.emit(t.tok)
		return
	}
	id := t.textWord(k)
	if t.hasPrev {
		t.bigram(k, id)
	}
	t.prevKey, t.prevShort, t.prevID, t.hasPrev = *k, 0, id, true
	if k.n == 0 {
		// The current word becomes the previous one, and the previous
		// one's buffer the next word's.
		t.prev, t.w = t.w, t.prev[:0]
	}
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
