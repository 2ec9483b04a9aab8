package imapserver

import (
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost"
)

// LIST and LSUB patterns (RFC 9051 6.3.9) are matched here, not by go-imap's
// imapserver.MatchList: that one backtracks, and its time grows
// exponentially with the number of wildcards (`LIST "" "********x"` over one
// 40-byte name took seconds; a 30-wildcard pattern over 5,000 names, a core
// for minutes). Ours simulates the pattern's automaton over the name, all
// states at once in a bit set: O(len(name) × len(pattern)/64) word
// operations per name, whatever the pattern.

// Bounds on one LIST command's patterns. A mailbox name has at most 1,024
// bytes (sealpost.CheckMailboxName), so no longer pattern is needed; the
// total bounds the work of a LIST to about maxPatternBytes/64 word
// operations per byte of mailbox name.
const (
	maxPatternBytes = 2048 // reference plus all patterns
	maxPatterns     = 16
)

var errPatternTooLong = &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug,
	Text: "LIST reference and patterns are limited to 2048 bytes and 16 patterns"}

// A listMatcher matches mailbox names against the patterns of one LIST or
// LSUB command. It is not safe for concurrent use.
type listMatcher struct {
	pats  []*pattern
	steps int // word operations so far, for tests and benchmarks
}

// newListMatcher compiles the reference and patterns of one command; the
// reference has been canonicalized (canonName). It returns errPatternTooLong
// beyond the bounds above.
func newListMatcher(ref string, patterns []string) (*listMatcher, error) {
	total := len(ref)
	for _, p := range patterns {
		total += len(p)
	}
	if total > maxPatternBytes || len(patterns) > maxPatterns {
		return nil, errPatternTooLong
	}
	m := &listMatcher{}
	for _, p := range patterns {
		m.pats = append(m.pats, compilePattern(ref, p))
	}
	return m, nil
}

// match reports whether name, in canonical form (INBOX in upper case),
// matches any of the patterns.
func (m *listMatcher) match(name string) bool {
	for _, p := range m.pats {
		if p.match(name, &m.steps) {
			return true
		}
	}
	return false
}

// A pattern is a reference and a pattern combined, compiled to an automaton.
// State i means "the first i tokens have matched"; the token that leads into
// state j is toks[j-1]. Consecutive wildcards are collapsed (`**`, `%*`,
// `*%` are `*`; `%%` is `%`), so that no two wildcards are adjacent and an
// ε-closure is one shift.
type pattern struct {
	prefix string // the reference, matched literally, delimiter included

	n     int         // number of tokens; states are 0..n
	lit   [][]uint64  // lit[c]: states entered by the literal byte c (nil: none)
	fold  [5][]uint64 // states entered by "INBOX"[k] in either case
	star  []uint64    // states entered by '*': they loop on any byte
	pct   []uint64    // states entered by '%': they loop on any byte but the delimiter
	eps   []uint64    // states i whose next token is a wildcard: ε-move to i+1
	start []uint64    // the initial set, closed
}

// compilePattern combines ref and pat as go-imap's MatchList does: a pattern
// that starts with the delimiter ignores the reference; otherwise a
// non-empty reference, with a delimiter added if it lacks one, must be a
// literal prefix of the name, and the pattern matches the rest. (RFC 9051
// 6.3.9 leaves the combination to the implementation; this keeps go-imap's.)
func compilePattern(ref, pat string) *pattern {
	if strings.HasPrefix(pat, string(delim)) {
		ref, pat = "", pat[1:]
	}
	if ref != "" && !strings.HasSuffix(ref, string(delim)) {
		ref += string(delim)
	}
	var toks []byte
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		if c == '*' || c == '%' {
			if k := len(toks) - 1; k >= 0 && (toks[k] == '*' || toks[k] == '%') {
				if c == '*' {
					toks[k] = '*'
				}
				continue
			}
		}
		toks = append(toks, c)
	}
	n := len(toks)
	words := (n + 1 + 63) / 64
	p := &pattern{
		prefix: ref,
		n:      n,
		lit:    make([][]uint64, 256),
		star:   make([]uint64, words),
		pct:    make([]uint64, words),
		eps:    make([]uint64, words),
		start:  make([]uint64, words),
	}
	for i, c := range toks {
		j := i + 1 // the state c leads into
		switch c {
		case '*':
			setBit(p.star, j)
			setBit(p.eps, i)
		case '%':
			setBit(p.pct, j)
			setBit(p.eps, i)
		default:
			if p.lit[c] == nil {
				p.lit[c] = make([]uint64, words)
			}
			setBit(p.lit[c], j)
		}
	}
	// RFC 9051 5.1: INBOX is case-insensitive, so where a name's first
	// hierarchy level is INBOX the pattern may spell it in any case
	// ("inbox", "Inbox/%", "inb*"). Only where the name is matched from its
	// start: a reference is canonicalized before it gets here.
	for k := range len(sealpost.Inbox) {
		up := sealpost.Inbox[k]
		p.fold[k] = make([]uint64, words)
		orInto(p.fold[k], p.lit[up])
		orInto(p.fold[k], p.lit[up+'a'-'A'])
	}
	setBit(p.start, 0)
	p.close(p.start)
	return p
}

// match runs the automaton over name, adding the word operations it did to
// *steps.
func (p *pattern) match(name string, steps *int) bool {
	if p.prefix != "" {
		if !strings.HasPrefix(name, p.prefix) {
			return false
		}
		name = name[len(p.prefix):]
	}
	inbox := p.prefix == "" && (name == sealpost.Inbox || strings.HasPrefix(name, sealpost.Inbox+string(delim)))
	cur := append([]uint64(nil), p.start...)
	next := make([]uint64, len(cur))
	for i := 0; i < len(name); i++ {
		c := name[i]
		lit := p.lit[c]
		if inbox && i < len(sealpost.Inbox) {
			lit = p.fold[i]
		}
		loop := p.star
		var carry uint64
		live := uint64(0)
		for w := range cur {
			d := cur[w]
			shifted := d<<1 | carry
			carry = d >> 63
			var v uint64
			if lit != nil {
				v = shifted & lit[w]
			}
			v |= d & loop[w]
			if c != delim {
				v |= d & p.pct[w]
			}
			next[w] = v
			live |= v
		}
		*steps += len(cur)
		if live == 0 {
			return false
		}
		p.close(next)
		cur, next = next, cur
	}
	return cur[p.n/64]&(1<<(p.n%64)) != 0
}

// close adds the ε-moves to set: from a state to the one after a wildcard,
// which may match nothing. One pass suffices, as no two wildcards are
// adjacent.
func (p *pattern) close(set []uint64) {
	var carry uint64
	for w := range set {
		e := set[w] & p.eps[w]
		set[w] |= e<<1 | carry
		carry = e >> 63
	}
}

func setBit(set []uint64, i int) { set[i/64] |= 1 << (i % 64) }

func orInto(dst, src []uint64) {
	for w := range src {
		dst[w] |= src[w]
	}
}
