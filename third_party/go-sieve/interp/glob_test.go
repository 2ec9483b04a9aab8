package interp

import (
	"context"
	"reflect"
	"testing"

	"rsc.io/binaryregexp"
)

// Sealpost patch 76's tests: a glob decides as the pattern's regular
// expression does, and a compiled :matches matcher answers as one without
// the glob.

// regexMatches is upstream's answer: the pattern's regular expression
// through the octet engine.
func regexMatches(t testing.TB, pattern, value string, fold bool) (bool, bool) {
	re, err := binaryregexp.Compile(patternToRegex(pattern, fold))
	if err != nil {
		return false, false
	}
	return re.FindStringSubmatch(value) != nil, true
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, value string
		fold, want     bool
	}{
		{"*[ticket-1*]*", "re: [ticket-12] broken", false, true},
		{"*[ticket-1*]*", "re: [Ticket-12] broken", false, false},
		{"*[ticket-1*]*", "re: [Ticket-12] broken", true, true},
		{"*[ticket-1*]*", "re: [ticket-2] broken", true, false},
		{"*[ticket-1*]*", "[ticket-1]", true, true},
		{"*[ticket-1*]*", "[ticket-1", true, false},
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"*", "anything\r\nat all", false, true},
		{"?", "", false, false},
		{"?", "\xff", false, true},
		{"??", "\xc3\xa9", false, true}, // one byte each
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"a*a", "a", false, false},
		{"a*a", "aa", false, true},
		{"*ab*ab*", "abab", false, true},
		{"*ab*ab*", "aab", false, false},
		{"*b?d*", "abxbcd", false, true},
		{`\*`, "*", false, true},
		{`\*`, "x", false, false},
		{`\?x`, "?x", false, true},
		{`\?x`, "ax", false, false},
		{`a\\b`, `a\b`, false, true},
		{`\a`, "a", false, true},
		{"K", "k", true, true},
		{"k", "\u212a", true, false}, // the Kelvin sign is not folded in octets
		{"a.b", "axb", false, false},
		{"(a)|[b]{1}^$+", "(a)|[b]{1}^$+", false, true},
	} {
		g := compileGlob(c.pattern, c.fold)
		if g == nil {
			t.Fatalf("%q: no glob", c.pattern)
		}
		if got := g.match(c.value); got != c.want {
			t.Errorf("glob %q fold=%v on %q = %v, want %v", c.pattern, c.fold, c.value, got, c.want)
		}
		if want, ok := regexMatches(t, c.pattern, c.value, c.fold); !ok || want != c.want {
			t.Errorf("regex %q fold=%v on %q = %v (%v), the table is wrong", c.pattern, c.fold, c.value, want, ok)
		}
	}
	// What a glob does not decide.
	for _, p := range []string{`abc\`, "é*", "*\xff"} {
		if compileGlob(p, true) != nil {
			t.Errorf("%q: a glob was made", p)
		}
	}
}

// TestCompiledMatcherSubmatches: with the glob in front, a compiled
// :matches matcher gives the match variables the regular expression gives.
func TestCompiledMatcherSubmatches(t *testing.T) {
	m, err := compileMatcher("*[ticket-*]*", true, true)
	if err != nil {
		t.Fatal(err)
	}
	ok, got, err := m(context.Background(), "Re: [Ticket-42] it broke")
	want := []string{"Re: [Ticket-42] it broke", "Re: ", "42", " it broke"}
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v %q %v, want %q", ok, got, err, want)
	}
	if ok, got, err := m(context.Background(), "no ticket here"); ok || got != nil || err != nil {
		t.Fatalf("no match: got %v %q %v", ok, got, err)
	}
}

// FuzzGlob cross-checks the glob against the pattern's regular expression
// (binaryregexp, upstream's engine for :matches), folded and not, and a
// compiled matcher (glob in front) against the same matcher without it.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{
		{"*[ticket-1*]*", "re: [TICKET-12] x"},
		{"*a?b*c", "xxa-bxxc"},
		{`\*a\?*`, "*a?zz"},
		{"a*b*a*b", "abababab"},
		{"?*?", "\xc3\xa9"},
		{"", ""},
	} {
		f.Add(s[0], s[1])
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, pattern, value string) {
		if len(value) > syncMatchInputThreshold {
			value = value[:syncMatchInputThreshold]
		}
		if len(patternToRegex(pattern, true)) > DefaultRegexLimits.MaxPatternLength {
			return // compileMatcher refuses it; the engine would be slow
		}
		for _, fold := range []bool{false, true} {
			g := compileGlob(pattern, fold)
			if g == nil {
				continue
			}
			want, ok := regexMatches(t, pattern, value, fold)
			if !ok {
				continue
			}
			if got := g.match(value); got != want {
				t.Fatalf("pattern %q fold=%v value %q: glob %v, regex %v", pattern, fold, value, got, want)
			}
			m, err := compileBoundedMatcher(pattern, true, fold)
			if err != nil {
				continue
			}
			fast, err1 := m.FindSubmatch(ctx, value)
			m.glob = nil
			slow, err2 := m.FindSubmatch(ctx, value)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("pattern %q fold=%v value %q: %q %v, without the glob %q %v", pattern, fold, value, fast, err1, slow, err2)
			}
		}
	})
}
