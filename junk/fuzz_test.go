package junk

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzTokenize feeds untrusted messages to Tokenize: it must not panic,
// must stay within its bounds, and yields only valid UTF-8 tokens, each
// once. Seeds are in testdata/fuzz/FuzzTokenize.
func FuzzTokenize(f *testing.F) {
	f.Add(hamMsg(1))
	f.Add(spamMsg(2))
	f.Fuzz(func(t *testing.T, msg []byte) {
		toks := Tokenize(msg)
		if len(toks) > MaxMessageTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		seen := make(map[string]bool, len(toks))
		for _, tok := range toks {
			if seen[tok] {
				t.Fatalf("token %q twice", tok)
			}
			seen[tok] = true
			if !utf8.ValidString(tok) {
				t.Fatalf("token %q is not UTF-8", tok)
			}
		}
		// The scoring path's hashes are those of Tokenize's tokens, in
		// order, under either token hash.
		for _, kind := range []tokenHash{hashSipHash, hashHMAC} {
			h := newHasher(Key{7}, kind)
			hs := hashes(Key{7}, kind, msg)
			if len(hs) != len(toks) {
				t.Fatalf("%d hashes for %d tokens", len(hs), len(toks))
			}
			for i, tok := range toks {
				if hs[i] != h.hash([]byte(tok)) {
					t.Fatalf("hash %d (kind %d) is not that of %q", i, kind, tok)
				}
			}
		}
		// Scoring and training the same input must not fail either.
		var m Model
		m.Train(Key{}, msg, true)
		m.Score(Key{}, msg)
	})
}

// FuzzTextHelpers holds the tokenizer's fast text helpers to the
// standard library functions they stand in for, whose results the
// classifier's stored models depend on.
func FuzzTextHelpers(f *testing.F) {
	for _, s := range []string{"", "Hello WORLD", "</SCRIPT>", "x</ScRiPt>y", "\u0130</script>", "</scr\u0130pt>",
		"\u212a</style>", "caf\xe9 </style", "\u023a\u023a</script>", "a\u00a0b\u0085c\u2028d", "it's-a $5 \xff word", "\u1e9e\u00df"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendLower(nil, s)), strings.ToLower(s); got != want {
			t.Errorf("appendLower(%q) = %q, want %q", s, got, want)
		}
		for _, sub := range []string{"</script", "</style", "href="} {
			if got, want := indexLower(s, sub), strings.Index(strings.ToLower(s), sub); got != want {
				t.Errorf("indexLower(%q, %q) = %d, want %d", s, sub, got, want)
			}
		}
		if got, want := trimQuoteDash(s), strings.Trim(s, "'-"); got != want {
			t.Errorf("trimQuoteDash(%q) = %q, want %q", s, got, want)
		}
		if got, want := trimLinkPunct(s), strings.Trim(s, "<>\"'(),"); got != want {
			t.Errorf("trimLinkPunct(%q) = %q, want %q", s, got, want)
		}
		classes := []struct {
			c  runeClass
			is func(rune) bool
		}{{spaceRunes, unicode.IsSpace}, {wordRunes, func(r rune) bool {
			return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '$' || r == '\'' || r == '-'
		}}}
		for _, cl := range classes {
			for _, want := range []bool{false, true} {
				exp := strings.IndexFunc(s, func(r rune) bool { return cl.is(r) != want })
				if exp < 0 {
					exp = len(s)
				}
				if got := span(s, cl.c, want); got != exp {
					t.Errorf("span(%q, %v, %v) = %d, want %d", s, cl.c, want, got, exp)
				}
			}
		}
	})
}

// FuzzWords holds words, which reads ASCII a byte at a time, to the
// rune-by-rune field loop it stands in for: the same tokens, in the same
// order, with and without a prefix (and so bigrams), and across two texts
// (the previous word carries over for bigrams).
func FuzzWords(f *testing.F) {
	for _, s := range []string{"", "the Quarterly numbers show growth", "  \t\r\nhiring,and--the 'road-map' for $next year.",
		"Visit http://Evil.Example/x?y or WWW.shop.example. <https://a@b.example:80/> (www.) http:// www",
		"a\u00a0b\u0085c\u2028d caf\xe9 GROẞE Ünïcödé \xff\xfe", "0123456789012345678901234567890 aaaaaaaaaaaaaaaaaaaaaaaaa$ -'-'- ab",
		"x:y a.b.c e-mail it's 3.14 10:30 <tag> \"quoted\" \x00\x1f\x7f", "wordş ﬀ İstanbul K http://\u212a.example",
		// scanWord's eight-byte loads: words of every length up to past
		// maxWord, ending in space, punctuation, a high byte or the text's
		// last 32 bytes.
		"ab ABC abcdEFGH abcdefghi ABCDEFGHIJKLMNOP abcdefghijklmnopq ABCDEFGHIJKLMNOPQRSTUVWX abcdefghijklmnopqrstuvwxy abc",
		"'quoted' -dashed- it's $5 Z9 abcdefgh,ijk lmnop\u00e9 qrstuvwx\xff yz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ the end of it",
		// Words ended by punctuation (scanWords' fieldEnd), "www." (a
		// link) among them, and runs of two.
		"Hello, world. Yes; no: maybe! Why? (so) \"quoted\" www. WwW. www, wwwx. abcdefghijk. abcdefghijklmnopqrstuvwx, ab. a, ., ok.. x.) end. and more words",
		"see www.Example.com. or http: https: now. Done, then: fin! abcdefghijklmnopqrstuvwxy. last words here to pad it out"} {
		f.Add(s, "more words here")
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, s, s2 string) {
		for _, prefix := range []string{"", "subject:"} {
			fast, slow := newTokenizer(), newTokenizer()
			fast.words(prefix, s)
			fast.words(prefix, s2)
			slow.wordsByRune(prefix, s)
			slow.wordsByRune(prefix, s2)
			if !slices.Equal(fast.out, slow.out) {
				t.Fatalf("words(%q, %q, %q):\n got %q\nwant %q", prefix, s, s2, fast.out, slow.out)
			}
			var fb, sb [maxWord]byte
			if fp, sp := fast.prevWord(&fb), slow.prevWord(&sb); !bytes.Equal(fp, sp) {
				t.Fatalf("words(%q, %q, %q): previous word %q, want %q", prefix, s, s2, fp, sp)
			}
			// The hash kind, which knows its bigrams by their words' ids,
			// under either token hash.
			k := Key{9}
			for _, kind := range []tokenHash{hashSipHash, hashHMAC} {
				ht := newHashTokenizer()
				ht.start(k, kind)
				ht.words(prefix, s)
				ht.words(prefix, s2)
				h := newHasher(k, kind)
				if len(ht.hs) != len(slow.out) {
					t.Fatalf("words(%q, %q, %q): %d hashes for %d tokens", prefix, s, s2, len(ht.hs), len(slow.out))
				}
				for i, tok := range slow.out {
					if ht.hs[i] != h.hash([]byte(tok)) {
						t.Fatalf("words(%q, %q, %q): hash %d (kind %d) is not that of %q", prefix, s, s2, i, kind, tok)
					}
				}
			}
		}
	})
}

// wordsByRune is words as it was before its ASCII scan: every field read
// rune by rune.
func (t *tokenizer) wordsByRune(prefix, s string) {
	for len(s) > 0 && !t.full() {
		if span(s, spaceRunes, true) == len(s) {
			return
		}
		s = t.field(prefix, s)
	}
}

// FuzzChi2Q holds chi2Q to the plain term-by-term sum it shortcuts: the
// same bits for every x2 and v, scores being compared bit for bit by
// TestGolden.
func FuzzChi2Q(f *testing.F) {
	for _, x2 := range []float64{0, 1e-9, 0.5, 3, 17.25, 150, 999.5, 2000, 1e4, 3e5, 1e300} {
		for _, v := range []int{2, 4, 10, 150, 1000, 2000, 2002, 5000} {
			f.Add(x2, v)
		}
	}
	f.Fuzz(func(t *testing.T, x2 float64, v int) {
		if v < 0 || v > 10_000 || math.IsNaN(x2) {
			return
		}
		got, want := chi2Q(x2, v), chi2QPlain(x2, v)
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("chi2Q(%v, %d) = %v, want %v", x2, v, got, want)
		}
		if got, want := chi2P(x2, v), 1-want; math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("chi2P(%v, %d) = %v, want %v", x2, v, got, want)
		}
	})
}

// TestChi2QSweep holds chi2P to 1 minus the plain sum over many x2
// (log-uniform, and around where chi2P stops summing) and v, as combine
// calls it.
func TestChi2QSweep(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	short := 0
	for n := range 20_000 {
		v := 2 * (1 + r.IntN(1001))
		x2 := math.Exp(r.Float64()*math.Log(1e5/1e-3)) * 1e-3
		if n%2 == 1 { // around the bound
			lo, hi := 0.0, 1e5
			for hi-lo > 1e-9 {
				if mid := (lo + hi) / 2; chi2LnBound(mid/2, v/2) < -40 {
					hi = mid
				} else {
					lo = mid
				}
			}
			x2 = hi * (1 + (r.Float64()-0.5)*1e-3)
		}
		if chi2LnBound(x2/2, v/2) < -40 {
			short++
		}
		got, want := chi2P(x2, v), 1-chi2QPlain(x2, v)
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("chi2P(%v, %d) = %v, want %v", x2, v, got, want)
		}
	}
	if short < 5000 {
		t.Errorf("only %d of 20,000 took the shortcut", short)
	}
}

// chi2QPlain is chi2Q without its shortcuts.
func chi2QPlain(x2 float64, v int) float64 {
	m := x2 / 2
	if m <= 0 {
		return 1
	}
	lnm := math.Log(m)
	lnTerm := -m
	lnSum := lnTerm
	for i := 1; i < v/2; i++ {
		lnTerm += lnm - math.Log(float64(i))
		lnSum = logAdd(lnSum, lnTerm)
	}
	return min(math.Exp(lnSum), 1)
}

// FuzzClueLogs holds clueLogs, which caches each clue value's logs, to
// the plain loop it replaced, bit for bit, for clues drawn with repeats
// from a few values (as a message's are) and from many.
func FuzzClueLogs(f *testing.F) {
	f.Add(uint64(1), 10, 3)
	f.Add(uint64(2), 1000, 50)
	f.Add(uint64(3), 1000, 5000)
	f.Add(uint64(4), 1, 1)
	f.Fuzz(func(t *testing.T, seed uint64, n, distinct int) {
		if n < 0 || n > 2000 || distinct < 1 || distinct > 10_000 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 5))
		vals := make([]float64, distinct)
		for i := range vals {
			// Robinson's f for counts as a model holds them.
			ham, spam := float64(r.IntN(50)), float64(r.IntN(50))
			if ham+spam == 0 {
				spam = 1
			}
			p := spam / (ham + spam)
			vals[i] = (unknownStrength*unknownProb + (ham+spam)*p) / (unknownStrength + ham + spam)
			if r.IntN(4) == 0 {
				vals[i] = r.Float64()*0.999 + 0.0005
			}
		}
		clues := make([]float64, n)
		for i := range clues {
			clues[i] = vals[r.IntN(distinct)]
		}
		var wantH, wantS float64
		for _, f := range clues {
			wantH += math.Log(f)
			wantS += math.Log1p(-f)
		}
		gotH, gotS := clueLogs(clues)
		if math.Float64bits(gotH) != math.Float64bits(wantH) || math.Float64bits(gotS) != math.Float64bits(wantS) {
			t.Fatalf("clueLogs = %v, %v, want %v, %v", gotH, gotS, wantH, wantS)
		}
	})
}
