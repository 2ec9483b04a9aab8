package imapserver

import "strings"

// baseSubject extracts the base subject of a Subject field's value (RFC 5256
// 2.1), and reports whether the extraction removed a reply or forward
// marker (a subj-refwd, a "(fwd)" trailer, or a "[fwd: ...]" wrapper), which
// THREAD=REFERENCES uses in its step 5. The result is not yet case-folded.
func baseSubject(subject string) (string, bool) {
	// (1) Decode encoded words (RFC 2047) and turn each run of white space
	// (tabs and folded line ends included) into one space.
	// Leading and trailing white space, which steps (2) and (3) would
	// remove, goes here.
	s := strings.Join(strings.FieldsFunc(decodeHeader(subject), isWSP), " ")
	reply := false
	for {
		// (2) Remove trailing subj-trailer: "(fwd)" / WSP.
		for {
			t := strings.TrimRight(s, " ")
			if n := len(t) - len("(fwd)"); n >= 0 && strings.EqualFold(t[n:], "(fwd)") {
				t, reply = t[:n], true
			}
			if t == s {
				break
			}
			s = t
		}
		// (3) Remove subj-leader prefixes, and (4) a subj-blob prefix
		// when what follows is not empty; (5) until neither applies.
		for {
			changed := false
			for {
				n, refwd := subjLeader(s)
				if n == 0 {
					break
				}
				s, changed = s[n:], true
				reply = reply || refwd
			}
			if n := subjBlob(s); n > 0 && strings.TrimLeft(s[n:], " ") != "" {
				s, changed = s[n:], true
			}
			if !changed {
				break
			}
		}
		// (6) "[fwd:" subj-base "]": unwrap and start again at (2).
		if len(s) >= len("[fwd:]") && strings.EqualFold(s[:len("[fwd:")], "[fwd:") && s[len(s)-1] == ']' {
			s, reply = s[len("[fwd:"):len(s)-1], true
			continue
		}
		return s, reply
	}
}

// subjLeader returns the length of the subj-leader that starts s, and
// whether it is a subj-refwd:
//
//	subj-leader = (*subj-blob subj-refwd) / WSP
//	subj-refwd  = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
func subjLeader(s string) (int, bool) {
	if s != "" && s[0] == ' ' {
		return 1, false
	}
	i := 0
	for {
		n := subjBlob(s[i:])
		if n == 0 {
			break
		}
		i += n
	}
	rest := s[i:]
	switch {
	case hasPrefixFold(rest, "fwd"):
		i += 3
	case hasPrefixFold(rest, "fw"), hasPrefixFold(rest, "re"):
		i += 2
	default:
		return 0, false
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == ':' {
		return i + 1, true
	}
	if n := subjBlob(s[i:]); n > 0 && i+n < len(s) && s[i+n] == ':' {
		return i + n + 1, true
	}
	return 0, false
}

// subjBlob returns the length of the subj-blob that starts s, 0 if none:
//
//	subj-blob = "[" *BLOBCHAR "]" *WSP
//	BLOBCHAR  = %x01-5a / %x5c / %x5e-ff  ; not "[" or "]"
func subjBlob(s string) int {
	if s == "" || s[0] != '[' {
		return 0
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return 0
	}
	i := end + 2
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isWSP(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }
