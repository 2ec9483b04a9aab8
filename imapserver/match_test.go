package imapserver

import (
	"fmt"
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
)

// matchCases are go-imap's own MatchList tests (list_test.go of v2 beta.8)
// plus INBOX's case-insensitivity and collapsed wildcards.
var matchCases = []struct {
	name, ref, pattern string
	want               bool
}{
	{"INBOX", "", "INBOX", true},
	{"INBOX", "", "Asuka", false},
	{"INBOX", "", "*", true},
	{"INBOX", "", "%", true},
	{"Neon Genesis Evangelion/Misato", "", "*", true},
	{"Neon Genesis Evangelion/Misato", "", "%", false},
	{"Neon Genesis Evangelion/Misato", "", "Neon Genesis Evangelion/*", true},
	{"Neon Genesis Evangelion/Misato", "", "Neon Genesis Evangelion/%", true},
	{"Neon Genesis Evangelion/Misato", "", "Neo* Evangelion/Misato", true},
	{"Neon Genesis Evangelion/Misato", "", "Neo% Evangelion/Misato", true},
	{"Neon Genesis Evangelion/Misato", "", "*Eva*/Misato", true},
	{"Neon Genesis Evangelion/Misato", "", "%Eva%/Misato", true},
	{"Neon Genesis Evangelion/Misato", "", "*X*/Misato", false},
	{"Neon Genesis Evangelion/Misato", "", "%X%/Misato", false},
	{"Neon Genesis Evangelion/Misato", "", "Neon Genesis Evangelion/Mi%o", true},
	{"Neon Genesis Evangelion/Misato", "", "Neon Genesis Evangelion/Mi%too", false},
	{"Misato/Misato", "", "Mis*to/Misato", true},
	{"Misato/Misato", "", "Mis*to", true},
	{"Misato/Misato/Misato", "", "Mis*to/Mis%to", true},
	{"Misato/Misato", "", "Mis**to/Misato", true},
	{"Misato/Misato", "", "Misat%/Misato", true},
	{"Misato/Misato", "", "Misat%Misato", false},
	{"Misato/Misato", "Misato", "Misato", true},
	{"Misato/Misato", "Misato/", "Misato", true},
	{"Misato/Misato", "Shinji", "/Misato/*", true},
	{"Misato/Misato", "Misato", "/Misato", false},
	{"Misato/Misato", "Misato", "Shinji", false},
	{"Misato/Misato", "Shinji", "Misato", false},
	// Collapsed wildcards: "%*" is "*", "%%" is "%".
	{"a/b/c", "", "a%*c", true},
	{"a/b/c", "", "a*%c", true},
	{"a/b/c", "", "a%%c", false},
	{"ab/c", "", "a%%/c", true},
	{"", "", "", true},
	{"", "", "%", true},
	{"x", "", "", false},
	// RFC 9051 5.1: INBOX in any case, only as the first level.
	{"INBOX", "", "inbox", true},
	{"INBOX", "", "Inbox", true},
	{"INBOX", "", "inb*", true},
	{"INBOX", "", "i%x", true},
	{"INBOX/Sub", "", "inbox/%", true},
	{"INBOX/Sub", "", "inbox/sub", false}, // only INBOX folds
	{"INBOX/Sub", "", "/iNbOx/Sub", true},
	{"INBOXfoo", "", "inbox*", false}, // not INBOX: case-sensitive
	{"INBOXfoo", "", "INBOX*", true},
	{"Work/INBOX", "", "work/inbox", false},
	{"Work/INBOX", "", "Work/inbox", false},
	{"INBOX/Sub", "INBOX", "Sub", true}, // the caller canonicalizes the reference
}

func TestMatchCases(t *testing.T) {
	for _, c := range matchCases {
		m, err := newListMatcher(canonName(c.ref), []string{c.pattern})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.match(c.name); got != c.want {
			t.Errorf("match(%q, ref %q, pattern %q) = %v, want %v", c.name, c.ref, c.pattern, got, c.want)
		}
		if got := oracleMatch(c.name, c.ref, c.pattern); got != c.want {
			t.Errorf("oracle(%q, ref %q, pattern %q) = %v, want %v: the oracle or the case is wrong",
				c.name, c.ref, c.pattern, got, c.want)
		}
	}
}

// oracleMatch is what our matcher must answer: go-imap's MatchList, with
// INBOX's case-insensitivity added by trying every spelling of the name's
// first level where it is INBOX (32 spellings: fine for tests).
func oracleMatch(name, ref, pattern string) bool {
	ref = canonName(ref)
	if name != sealpost.Inbox && !strings.HasPrefix(name, sealpost.Inbox+string(delim)) {
		return goimap.MatchList(name, delim, ref, pattern)
	}
	rest := name[len(sealpost.Inbox):]
	for mask := range 1 << len(sealpost.Inbox) {
		var b strings.Builder
		for k := range len(sealpost.Inbox) {
			c := sealpost.Inbox[k]
			if mask&(1<<k) != 0 {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
		}
		if goimap.MatchList(b.String()+rest, delim, ref, pattern) {
			return true
		}
	}
	return false
}

// FuzzMatch compares our matcher with go-imap's on small inputs, where
// go-imap's backtracking is still fast: patterns of at most 8 wildcards.
func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.name, c.ref, c.pattern)
	}
	f.Add("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", "*a*a*a*a*b")
	f.Add("a/b/c/d/e", "a", "%/%/*%")
	f.Fuzz(func(t *testing.T, name, ref, pattern string) {
		if len(name) > 64 || len(ref) > 64 || len(pattern) > 64 ||
			strings.Count(pattern, "*")+strings.Count(pattern, "%") > 8 {
			t.Skip()
		}
		name = canonName(name) // names are stored canonical
		m, err := newListMatcher(canonName(ref), []string{pattern})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.match(name), oracleMatch(name, ref, pattern); got != want {
			t.Errorf("match(%q, ref %q, pattern %q) = %v, go-imap says %v", name, ref, pattern, got, want)
		}
	})
}

// TestMatchSteps checks the bound the matcher exists for: a pathological
// pattern costs at most one word operation per name byte and 64 pattern
// bytes, where go-imap's backtracking takes time exponential in the number
// of wildcards (seconds for 8 over one 40-byte name).
func TestMatchSteps(t *testing.T) {
	names := pathologicalNames(5000)
	for _, pat := range pathologicalPatterns {
		m, err := newListMatcher("", []string{pat})
		if err != nil {
			t.Fatal(err)
		}
		bound := 0
		for _, n := range names {
			m.match(n)
			bound += len(n) * ((len(pat) + 64) / 64)
		}
		if m.steps > bound {
			t.Errorf("pattern %q: %d steps over %d names, bound %d", pat, m.steps, len(names), bound)
		}
		if m.steps == 0 {
			t.Errorf("pattern %q: no steps counted", pat)
		}
	}
}

func TestPatternBounds(t *testing.T) {
	if _, err := newListMatcher("", []string{strings.Repeat("*", maxPatternBytes)}); err != nil {
		t.Errorf("pattern of %d bytes: %v", maxPatternBytes, err)
	}
	if _, err := newListMatcher("x", []string{strings.Repeat("*", maxPatternBytes)}); err != errPatternTooLong {
		t.Errorf("pattern and reference over %d bytes: %v", maxPatternBytes, err)
	}
	if _, err := newListMatcher("", make([]string, maxPatterns+1)); err != errPatternTooLong {
		t.Errorf("%d patterns: %v", maxPatterns+1, err)
	}
	// The longest pattern over the longest name.
	m, _ := newListMatcher("", []string{strings.Repeat("%a", maxPatternBytes/2)})
	if m.match(strings.Repeat("a", 1024)) != true {
		t.Error("long pattern did not match")
	}
}

// pathologicalPatterns defeat backtracking matchers: many wildcards and a
// last byte no name has (not "x", which ends INBOX in any case).
var pathologicalPatterns = []string{
	"********z",
	strings.Repeat("*", 30) + "z",
	strings.Repeat("*%", 15) + "z",
	strings.Repeat("*a", 30) + "z",
	strings.Repeat("%a", 30) + "z",
	strings.Repeat("*/", 15) + "z",
}

// pathologicalNames are n 40-byte names (with levels) of 'a's and '/'s.
func pathologicalNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s/%s/%05d", strings.Repeat("a", 20), strings.Repeat("a", 12), i)
	}
	return names
}

func BenchmarkMatchPathological(b *testing.B) {
	names := pathologicalNames(5000)
	for _, pat := range pathologicalPatterns {
		b.Run(fmt.Sprintf("%dB", len(pat)), func(b *testing.B) {
			m, _ := newListMatcher("", []string{pat})
			for b.Loop() {
				for _, n := range names {
					m.match(n)
				}
			}
		})
	}
}
