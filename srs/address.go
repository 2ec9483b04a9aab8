package srs

import (
	"strings"

	"github.com/sealpost/sealpost/errors"
)

// This file is the address syntax SRS needs: splitting an address, and
// local parts as dot-strings or quoted strings (RFC 5321 4.1.2).

// split returns addr's local part (unquoted) and domain: at the last '@',
// both non-empty, no control characters, a domain SRS can carry.
func split(addr string) (local, domain string, err error) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", errors.Str("address needs a local part and a domain")
	}
	for j := 0; j < len(addr); j++ {
		if c := addr[j]; c < 0x20 || c == 0x7f {
			return "", "", errors.Str("control character in address")
		}
	}
	local, domain = addr[:i], addr[i+1:]
	if !validDomain(domain) {
		return "", "", errors.Str("bad domain")
	}
	local, err = unquote(local)
	if err != nil {
		return "", "", err
	}
	if local == "" {
		return "", "", errors.Str("empty local part")
	}
	return local, domain, nil
}

// validDomain reports whether d can be an SRS field: a domain name (with
// U-labels, RFC 6531 3.3) or an address literal, never holding '=', the
// field separator.
func validDomain(d string) bool {
	if d == "" || len(d) > 255 {
		return false
	}
	if d[0] == '[' {
		if len(d) < 3 || d[len(d)-1] != ']' {
			return false
		}
		for i := 1; i < len(d)-1; i++ {
			// RFC 5321 4.1.3: dcontent, less '='.
			if c := d[i]; c < 33 || c > 126 || c == '[' || c == ']' || c == '\\' || c == '=' {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		ok := c >= 0x80 || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return d[0] != '.' && d[len(d)-1] != '.'
}

// unquote returns a quoted-string local part's content (RFC 5321 4.1.2:
// quoted-pairSMTP is a backslash and any of %d32-126); any other local
// part as it is.
func unquote(local string) (string, error) {
	if local == "" || local[0] != '"' {
		return local, nil
	}
	if len(local) < 2 || local[len(local)-1] != '"' {
		return "", errors.Str("unterminated quoted string")
	}
	var b strings.Builder
	for i := 1; i < len(local)-1; i++ {
		c := local[i]
		switch {
		case c == '\\':
			i++
			if i == len(local)-1 {
				return "", errors.Str("backslash ends quoted string")
			}
			b.WriteByte(local[i])
		case c == '"':
			return "", errors.Str("unescaped quote in quoted string")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// quote returns s as a local part: as it is if it is a dot-string, else a
// quoted string with '"' and '\' escaped.
func quote(s string) string {
	if isDotString(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isDotString reports whether s is RFC 5321's Dot-string: atoms of atext
// (RFC 5322 3.2.3, with UTF-8 as RFC 6531 3.3 allows) joined by single
// dots.
func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 0x80 || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
