package interp

// Sealpost patch 76: a :matches pattern (RFC 5228 2.7.1) is decided without
// its regular expression.
//
// Upstream ran every :matches test through the pattern's regular
// expression (patternToRegex, "(.*?)" per '*'), whose backtracking and
// submatch bookkeeping cost about 3 µs per header value: a third of a
// 50-rule script's run, for tests that almost never match. A glob decides
// whether a value matches, exactly as that regular expression would; only
// a value that matches goes on to the regular expression, for the match
// variables (RFC 5229 3.2), so their values are upstream's too.
//
// A glob is made only for what it decides exactly: the octet engine
// (binaryregexp, which :matches uses under i;octet and i;ascii-casemap),
// where '?' is one byte and (?i) folds an ASCII letter with its other case
// only (binaryregexp's other folds, of Latin-1 letters, need a non-ASCII
// byte in the pattern), and a pattern of ASCII bytes without a trailing
// lone '\' (which upstream's regular expression reads as "no end anchor").

// globSeg is the part of a pattern between two '*'s: bytes to match one
// for one, lower-cased under fold; any[i] marks a '?' (any one byte).
type globSeg struct {
	lit []byte
	any []bool // nil when the segment has no '?'
}

// glob is a compiled wildcard pattern: its segments between '*'s. The
// first is anchored at the start of the value, the last at its end; with a
// single segment (no '*') the value is that segment.
type glob struct {
	segs []globSeg
	fold bool
}

// compileGlob returns the glob of pattern, or nil if the pattern is one a
// glob does not decide exactly (see above).
func compileGlob(pattern string, fold bool) *glob {
	g := &glob{fold: fold}
	var seg globSeg
	hasAny := false
	escaped := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c >= 0x80 {
			return nil
		}
		if escaped {
			escaped = false
		} else {
			switch c {
			case '\\':
				escaped = true
				continue
			case '*':
				g.segs = append(g.segs, finishSeg(seg, hasAny))
				seg, hasAny = globSeg{}, false
				continue
			case '?':
				seg.lit = append(seg.lit, 0)
				seg.any = append(seg.any, true)
				hasAny = true
				continue
			}
		}
		if fold && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		seg.lit = append(seg.lit, c)
		seg.any = append(seg.any, false)
	}
	if escaped {
		return nil
	}
	g.segs = append(g.segs, finishSeg(seg, hasAny))
	return g
}

func finishSeg(s globSeg, hasAny bool) globSeg {
	if !hasAny {
		s.any = nil
	}
	return s
}

// at reports whether s matches v at position i (len(v)-i >= len(s.lit)).
func (g *glob) at(s globSeg, v string, i int) bool {
	for j, p := range s.lit {
		if s.any != nil && s.any[j] {
			continue
		}
		c := v[i+j]
		if g.fold && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p {
			return false
		}
	}
	return true
}

// match reports whether v matches the pattern. Segments between the first
// and the last are taken at their leftmost place: a later place never
// leaves more room for the segments after it.
func (g *glob) match(v string) bool {
	first, last := g.segs[0], g.segs[len(g.segs)-1]
	if len(g.segs) == 1 {
		return len(v) == len(first.lit) && g.at(first, v, 0)
	}
	end := len(v) - len(last.lit)
	if end < len(first.lit) || !g.at(first, v, 0) || !g.at(last, v, end) {
		return false
	}
	pos := len(first.lit)
	for _, s := range g.segs[1 : len(g.segs)-1] {
		found := false
		for ; pos+len(s.lit) <= end; pos++ {
			if g.at(s, v, pos) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
		pos += len(s.lit)
	}
	return true
}
