package junk

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAlnum8 holds alnum8 to isWordRune for every byte value at every
// place of the eight, among neighbours of every kind (a byte's neighbours
// must not change what it is).
func TestAlnum8(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for c := range 256 {
		for pos := range 8 {
			for range 64 {
				var b [8]byte
				for i := range b {
					b[i] = byte(rng.IntN(256))
				}
				b[pos] = byte(c)
				var x uint64
				for i := range b {
					x |= uint64(b[i]) << (8 * i)
				}
				got := alnum8(x)
				for i := range b {
					want := b[i] < utf8.RuneSelf && isWordRune(rune(b[i])) && !strings.ContainsRune("$'-", rune(b[i]))
					if is := got>>(8*i)&0xff == 0x80; is != want || got>>(8*i)&0x7f != 0 {
						t.Fatalf("alnum8(% x): byte %d (%#x) is %#x, want letter or digit %v", b, i, b[i], got>>(8*i)&0xff, want)
					}
				}
			}
		}
	}
}

// checkHashWords checks that a hash tokenizer, used for msgs one after
// the other as the pool uses it, gives for each the hashes of the tokens
// the string kind's rune-by-rune path gives.
func checkHashWords(t *testing.T, texts ...string) {
	t.Helper()
	k := Key{5}
	h := newHasher(k, hashSipHash)
	ht := newHashTokenizer()
	for n, s := range texts {
		slow := newTokenizer()
		slow.wordsByRune("", s)
		ht.start(k, hashSipHash)
		ht.words("", s)
		if len(ht.hs) != len(slow.out) {
			t.Fatalf("text %d: %d hashes for %d tokens", n, len(ht.hs), len(slow.out))
		}
		for i, tok := range slow.out {
			if ht.hs[i] != h.hash([]byte(tok)) {
				t.Fatalf("text %d: hash %d is not that of %q", n, i, tok)
			}
		}
	}
}

// TestWordIDsCollide gives the word tables words that all share a slot,
// more than their probes reach: short words (numIDs) and longer ones
// (wordIDs). Those past the reach miss (and are looked up in set) on
// every use, and never get another word's id.
func TestWordIDsCollide(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	colliding := func(n, want int, slot func([]byte) uint64) []string {
		var same []string
		var first uint64
		for len(same) < want {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'a' + byte(rng.IntN(26))
			}
			if h := slot(b); len(same) == 0 || h == first {
				first = h
				same = append(same, string(b))
			}
		}
		return same
	}
	short := colliding(6, 3*maxNumProbes, func(b []byte) uint64 { k := keyOf(b); return numSlotOf(k.w[0]) })
	long := colliding(10, 3*maxWordProbes, func(b []byte) uint64 { k := keyOf(b); return k.hash() >> (64 - 10) })
	for _, same := range [][]string{short, long, append(short, long...)} {
		var text strings.Builder
		for i := range 2000 {
			text.WriteString(same[rng.IntN(len(same))])
			if i%3 == 0 {
				text.WriteString(" Other ")
			}
			text.WriteByte(' ')
		}
		checkHashWords(t, text.String(), strings.ToUpper(text.String()), text.String())
	}
}

// TestManyBigrams fills the word and pair tables past what they hold,
// twice over with one tokenizer (the tables are cleared between
// messages), with words of every length the fast path keys; the whole
// text has more than MaxMessageTokens tokens.
func TestManyBigrams(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var text strings.Builder
	for range 16000 {
		n := 1 + rng.IntN(30)
		for i := range n {
			switch r := rng.IntN(40); {
			case r == 0 && (i == 0 || i == n-1):
				text.WriteByte('\'')
			case r == 1:
				text.WriteByte('-')
			case r < 6:
				text.WriteByte('A' + byte(rng.IntN(26)))
			case r < 8:
				text.WriteByte('0' + byte(rng.IntN(10)))
			default:
				text.WriteByte('a' + byte(rng.IntN(8)))
			}
		}
		text.WriteString([]string{" ", "\r\n", "  ", ". ", ", ", "\t"}[rng.IntN(6)])
	}
	s := text.String()
	st := newTokenizer()
	st.words("", s)
	if len(st.out) != MaxMessageTokens {
		t.Fatalf("%d tokens, want the text to fill the tokenizer", len(st.out))
	}
	checkHashWords(t, s, s[len(s)/2:], s)
}

// FuzzBigramText holds bigramText, which stores keyed words' bytes eight
// at a time, to bigramTextBytes, which appends their bytes, for a previous
// word held each way the tokenizer holds one (a short word's number, a
// key, or bytes when too long to key) and a current word keyed or not.
func FuzzBigramText(f *testing.F) {
	for _, s := range [][2]string{{"the", "end"}, {"abcdefg", "abcdefgh"}, {"abcdefghijklmnopqrstuvwx", "ab"},
		{"skip:ascii30", "zzz"}, {"größe", "straße"}, {"abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, prev, cur string) {
		if prev == "" || strings.ContainsRune(prev, 0) || strings.ContainsRune(cur, 0) {
			return // words are not empty and hold no NUL (a short word's number ends at its last nonzero byte)
		}
		for mode := range 3 {
			tk := newHashTokenizer()
			tk.hasPrev = true
			switch pk := keyOf([]byte(prev)); {
			case mode == 0 && len(prev) <= 7:
				tk.prevShort = pk.w[0]
			case mode == 1 && pk.n != 0:
				tk.prevKey = pk
			case mode == 2:
				tk.prev = append(tk.prev, prev...)
			default:
				continue
			}
			tk.w = append(tk.w[:0], cur...)
			k := keyOf(tk.w)
			got := string(tk.bigramText(&k))
			want := string(tk.bigramTextBytes(&k))
			if ref := "bi:" + prev + " " + cur; want != ref {
				t.Fatalf("bigramTextBytes (mode %d) = %q, want %q", mode, want, ref)
			}
			if got != want {
				t.Fatalf("bigramText (mode %d) = %q, want %q", mode, got, want)
			}
		}
	})
}
