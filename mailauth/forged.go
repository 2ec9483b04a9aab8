package mailauth

import (
	"bytes"
	"strings"
)

// RemoveOwnResults returns msg without the Authentication-Results: fields
// (RFC 8601) whose authserv-id is authservID, compared without regard to
// case. RFC 8601 section 5: a border MTA must remove, from mail arriving
// from outside, any such field that claims to come from itself, or a
// sender could write "dkim=pass" in our name for every reader and filter
// after us. The other fields, their order, their bytes and the body are
// kept as they are; msg is returned itself when nothing is removed.
func RemoveOwnResults(msg []byte, authservID string) []byte {
	var out []byte
	kept := 0  // msg[:kept] is in out already, or nothing was removed
	start := 0 // the current field's first byte
	drop := false
	i := 0
	flush := func(end int) {
		if drop {
			if out == nil {
				out = make([]byte, 0, len(msg))
			}
			out = append(out, msg[kept:start]...)
			kept = end
		}
	}
	for i < len(msg) {
		end := len(msg)
		if j := bytes.IndexByte(msg[i:], '\n'); j >= 0 {
			end = i + j + 1
		}
		line := bytes.TrimRight(msg[i:end], "\r\n")
		if len(line) == 0 {
			break // the blank line ending the header section
		}
		if line[0] != ' ' && line[0] != '\t' {
			flush(i)
			start, drop = i, isOwnResults(msg[i:], authservID)
		}
		i = end
	}
	flush(i)
	if out == nil {
		return msg
	}
	return append(out, msg[kept:]...)
}

// isOwnResults reports whether the field at the start of f is an
// Authentication-Results: field naming authservID.
func isOwnResults(f []byte, authservID string) bool {
	const name = "authentication-results"
	colon := bytes.IndexByte(f, ':')
	if colon < 0 || !strings.EqualFold(strings.TrimRight(string(f[:colon]), " \t"), name) {
		return false
	}
	// The field's value, unfolded enough to read its first token.
	v := f[colon+1:]
	if end := fieldEnd(v); end >= 0 {
		v = v[:end]
	}
	id, ok := firstValue(v)
	return ok && strings.EqualFold(id, authservID)
}

// fieldEnd returns the index in v (a field's value and what follows) of
// the line break that ends the field, or -1 if it runs to the end.
func fieldEnd(v []byte) int {
	for i := 0; i < len(v); i++ {
		if v[i] == '\n' && (i+1 >= len(v) || (v[i+1] != ' ' && v[i+1] != '\t')) {
			return i
		}
	}
	return -1
}

// firstValue reads the authserv-id (RFC 8601 2.2: a "value", RFC 2045's
// token or a quoted-string) after optional CFWS.
func firstValue(v []byte) (string, bool) {
	i := skipCFWS(v, 0)
	if i >= len(v) {
		return "", false
	}
	if v[i] == '"' {
		var b strings.Builder
		for i++; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return b.String(), true
			default:
				b.WriteByte(v[i])
			}
		}
		return "", false
	}
	j := i
	for j < len(v) && !bytes.ContainsRune([]byte(" \t\r\n;()\""), rune(v[j])) {
		j++
	}
	return string(v[i:j]), j > i
}

// skipCFWS skips white space, line breaks and comments (nested, with
// quoted pairs; RFC 5322 3.2.2) from i.
func skipCFWS(v []byte, i int) int {
	depth := 0
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '\\' && depth > 0:
			i++
		case depth > 0:
		default:
			return i
		}
	}
	return i
}
