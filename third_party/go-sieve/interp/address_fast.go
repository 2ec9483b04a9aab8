package interp

import (
	"strings"

	"github.com/emersion/go-message/mail"
)

// Sealpost patch 78: the commonest address fields are parsed without
// net/mail.
//
// mail.ParseAddressList (net/mail underneath) costs about 20 allocations
// for "Name <user@example.org>", trying the value as a bare addr-spec
// first and building errors on the way: the larger part of a run's
// address tests. simpleAddress reads the two shapes most From fields
// take, a bare addr-spec and a display name of plain words before an
// angle-addr (RFC 5322 3.4), both of ASCII atext without comments, quotes,
// groups, lists or encoded words, and returns exactly what
// mail.ParseAddressList returns for them (FuzzSimpleAddress compares the
// two); anything else is left to mail.ParseAddressList.

// simpleAddress returns the one address of s, or ok false if s is not of
// a shape it reads.
func simpleAddress(s string) (list []*mail.Address, ok bool) {
	s = strings.Trim(s, " \t")
	lt := strings.IndexByte(s, '<')
	if lt < 0 {
		if !isAddrSpec(s) {
			return nil, false
		}
		return []*mail.Address{{Address: s}}, true
	}
	if !strings.HasSuffix(s, ">") {
		return nil, false
	}
	spec := s[lt+1 : len(s)-1]
	if !isAddrSpec(spec) {
		return nil, false
	}
	name, ok := plainPhrase(s[:lt])
	if !ok {
		return nil, false
	}
	return []*mail.Address{{Name: name, Address: spec}}, true
}

// isAddrSpec reports whether s is local@domain, each a dot-atom of ASCII
// atext (RFC 5322 3.4.1, 3.2.3): no quoted local part, no domain literal,
// no blanks.
func isAddrSpec(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && isDotAtom(local) && isDotAtom(domain)
}

// isDotAtom reports whether s is 1*atext *("." 1*atext) of ASCII atext.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && !isASCIIAtext(c) {
			return false
		}
	}
	return true
}

// isASCIIAtext reports whether c is an ASCII atext character (RFC 5322
// 3.2.3).
func isASCIIAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// plainPhrase returns the display name of words p holds (RFC 5322 3.2.5,
// with obs-phrase's dots), joined by single spaces as net/mail joins them:
// ok false if a word could be an encoded word (RFC 2047: '=' or '?'), or
// holds anything but ASCII atext and dots.
func plainPhrase(p string) (name string, ok bool) {
	p = strings.TrimRight(p, " \t")
	single := true // words already one space apart
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == ' ' || c == '\t':
			if c == '\t' || p[i+1] == ' ' || p[i+1] == '\t' {
				single = false
			}
		case c == '=' || c == '?':
			return "", false
		case c != '.' && !isASCIIAtext(c):
			return "", false
		}
	}
	if single {
		return p, true
	}
	return strings.Join(strings.FieldsFunc(p, func(r rune) bool { return r == ' ' || r == '\t' }), " "), true
}
