package sieve

import "strings"

// header is a message's header section as a run's tests see it (RFC 5228
// 5.7, RFC 5322 2.2): its fields in order, each with its name as written
// and its value unfolded, split once when the run starts. Tests look a
// name up case-insensitively; the values of each name a run asks for are
// kept for the rest of the run.
//
// It reads the fields exactly as go-message's textproto.ReadHeader does
// (which delivery used before, and which FuzzHeader compares it with): the
// section ends at the first empty line or the first malformed line (no
// colon, a name with a byte outside RFC 5322 2.2's printable ASCII), and
// a section starting with white space has no fields. A value is the text
// after the colon with each line's leading and trailing blanks removed and
// the lines joined by one space.
type header struct {
	fields []field
	looked []lookup
	buf    [8]lookup // looked's first array; a header is not copied once used
}

type field struct {
	name  string // as written, without the blanks around it
	value string
}

type lookup struct {
	name   string
	values []string
}

// maxLookups bounds the names a run remembers; a script naming more looks
// the rest up each time.
const maxLookups = 64

// parseFields reads the fields of head and then section, as if they were
// one header section. Names and values are substrings of one copy of the
// two; only a value folded over lines is built apart.
func parseFields(head, section []byte) header {
	raw := string(head) + string(section)
	var h header
	if len(raw) > 0 && isBlank(raw[0]) {
		return h // RFC 5322 2.2: a field starts at the line's start
	}
	h.fields = make([]field, 0, strings.Count(raw, "\n")+1)
	for len(raw) > 0 {
		line, rest := cutLine(raw)
		if len(line) == 0 {
			break // the empty line that ends the section
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 {
			break
		}
		name := trimBlanks(line[:colon])
		if !validName(name) {
			break
		}
		value := trimBlanks(line[colon+1:])
		if len(rest) > 0 && isBlank(rest[0]) {
			// RFC 5322 2.2.3: lines starting with white space continue
			// the field (unfolding).
			b := []byte(value)
			for len(rest) > 0 && isBlank(rest[0]) {
				line, rest = cutLine(rest)
				b = appendPiece(b, line)
			}
			value = string(b)
		}
		raw = rest
		if len(name) == 0 {
			continue
		}
		h.fields = append(h.fields, field{name: name, value: value})
	}
	return h
}

// cutLine returns the first line of s without its LF or CRLF, and what
// follows it.
func cutLine(s string) (line, rest string) {
	line, rest, found := strings.Cut(s, "\n")
	if found {
		line = strings.TrimSuffix(line, "\r")
	}
	return line, rest
}

// appendPiece adds one line of a value, without its blanks, to the value
// so far, a space between the two.
func appendPiece(value []byte, piece string) []byte {
	piece = trimBlanks(piece)
	if len(piece) == 0 {
		return value
	}
	if len(value) > 0 {
		value = append(value, ' ')
	}
	return append(value, piece...)
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// trimBlanks removes the spaces and tabs around s.
func trimBlanks(s string) string { return strings.Trim(s, " \t") }

// validName reports whether s is a field name of printable ASCII but the
// colon (RFC 5322 2.2; empty is valid here and skipped by the caller).
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// values returns the values of the fields named name, in order. The slice
// is shared by later calls and must not be modified (its capacity is its
// length, so an append copies it).
func (h *header) values(name string) []string {
	for _, l := range h.looked {
		if l.name == name {
			return l.values
		}
	}
	var vs []string
	for _, f := range h.fields {
		if sameName(name, f.name) {
			vs = append(vs, f.value)
		}
	}
	vs = vs[:len(vs):len(vs)]
	if h.looked == nil {
		h.looked = h.buf[:0]
	}
	if len(h.looked) < maxLookups {
		h.looked = append(h.looked, lookup{name: name, values: vs})
	}
	return vs
}

// sameName reports whether a test's name q names a field written name,
// as textproto.CanonicalMIMEHeaderKey compares them: two names of token
// characters (RFC 7230 3.2.6) compare ignoring ASCII case, any other name
// only as written.
func sameName(q, name string) bool {
	if len(q) != len(name) {
		return false
	}
	if !isToken(q) || !isToken(name) {
		return q == name
	}
	for i := 0; i < len(q); i++ {
		a, b := q[i], name[i]
		if a == b {
			continue
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// isToken reports whether every byte of s is a tchar (RFC 7230 3.2.6).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
