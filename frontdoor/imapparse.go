package frontdoor

import (
	"bytes"
	"strconv"
	"strings"
)

// imapParser reads the arguments of one command (RFC 9051 9, formal
// syntax), line by line: a literal ends a line, and after its bytes the
// command goes on in the next line.
type imapParser struct {
	ic   *imapClient
	line []byte
	pos  int
}

// isAtomChar reports whether c is an ATOM-CHAR: any CHAR except
// atom-specials ("(" ")" "{" SP CTL list-wildcards quoted-specials
// resp-specials).
func isAtomChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune(`(){%*"\]`, rune(c))
}

// isAStringChar reports whether c is an ASTRING-CHAR: an ATOM-CHAR or "]".
func isAStringChar(c byte) bool { return isAtomChar(c) || c == ']' }

func (p *imapParser) peek() byte {
	if p.pos < len(p.line) {
		return p.line[p.pos]
	}
	return 0
}

// tag reads a command's tag and the space after it: 1*<any ASTRING-CHAR
// except "+">. It returns "" if there is none.
func (p *imapParser) tag() string {
	start := p.pos
	for p.pos < len(p.line) && isAStringChar(p.line[p.pos]) && p.line[p.pos] != '+' {
		p.pos++
	}
	if p.pos == start || p.peek() != ' ' {
		p.pos = start
		return ""
	}
	tag := string(p.line[start:p.pos])
	p.pos++
	return tag
}

func (p *imapParser) sp() error {
	if p.peek() != ' ' || p.pos >= len(p.line) {
		return imapBad("Expected space")
	}
	p.pos++
	return nil
}

// end checks that the command has no more arguments.
func (p *imapParser) end() error {
	if p.pos != len(p.line) {
		return imapBad("Unexpected arguments")
	}
	return nil
}

func (p *imapParser) atom() (string, error) {
	start := p.pos
	for p.pos < len(p.line) && isAtomChar(p.line[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", imapBad("Expected atom")
	}
	return string(p.line[start:p.pos]), nil
}

// rest returns the rest of the line.
func (p *imapParser) rest() string {
	s := string(p.line[p.pos:])
	p.pos = len(p.line)
	return s
}

// astring reads an atom of ASTRING-CHARs, a quoted string or a literal.
func (p *imapParser) astring() (string, error) {
	switch p.peek() {
	case '"', '{':
		return p.str()
	}
	start := p.pos
	for p.pos < len(p.line) && isAStringChar(p.line[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", imapBad("Expected string")
	}
	return string(p.line[start:p.pos]), nil
}

// nstring reads a string or NIL (false).
func (p *imapParser) nstring() (string, bool, error) {
	if p.peek() == '"' || p.peek() == '{' {
		s, err := p.str()
		return s, true, err
	}
	a, err := p.atom()
	if err != nil || !strings.EqualFold(a, "NIL") {
		return "", false, imapBad("Expected string or NIL")
	}
	return "", false, nil
}

// str reads a quoted string or a literal.
func (p *imapParser) str() (string, error) {
	switch p.peek() {
	case '"':
		return p.quoted()
	case '{':
		return p.literal()
	}
	return "", imapBad("Expected string")
}

// quoted reads a quoted string: any octet but CR, LF and NUL, with only
// DQUOTE and backslash escaped (RFC 9051 9, quoted; UTF-8 allowed as in
// IMAP4rev2's utf8-quoted).
func (p *imapParser) quoted() (string, error) {
	p.pos++ // the opening quote
	var b strings.Builder
	for p.pos < len(p.line) {
		c := p.line[p.pos]
		p.pos++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.pos == len(p.line) || (p.line[p.pos] != '"' && p.line[p.pos] != '\\') {
				return "", imapBad("Bad escape in quoted string")
			}
			b.WriteByte(p.line[p.pos])
			p.pos++
		case 0:
			return "", imapBad("NUL in quoted string")
		default:
			b.WriteByte(c)
		}
	}
	return "", imapBad("Unterminated quoted string")
}

// literal reads a literal: "{" number ["+"] "}" at the end of the line,
// then that many octets, after which the command goes on in the next line.
// A synchronizing literal is invited with a continuation request; a
// non-synchronizing one (RFC 7888 LITERAL+) is sent without.
func (p *imapParser) literal() (string, error) {
	n, sync, ok := literalAt(p.line[p.pos:])
	if !ok {
		return "", imapBad("Bad literal")
	}
	if n > imapMaxLiteral {
		if !sync {
			return "", errLiteralTooLarge
		}
		// The client waits for a continuation request that will not
		// come; the BAD ends the command (RFC 9051 7.5).
		return "", imapBad("Literal too large")
	}
	p.pos = len(p.line)
	if sync {
		if err := p.ic.write("+ Ready for literal data\r\n"); err != nil {
			return "", err
		}
	}
	data, err := p.ic.readFull(n)
	if err != nil {
		return "", err
	}
	next, err := p.ic.readLine(imapMaxLine)
	if err != nil {
		return "", err
	}
	p.line, p.pos = next, 0
	return string(data), nil
}

// literalAt parses b as exactly a literal's announcement, "{n}" or "{n+}",
// ending the line.
func literalAt(b []byte) (n int, sync, ok bool) {
	if len(b) < 3 || b[0] != '{' || b[len(b)-1] != '}' {
		return 0, false, false
	}
	num := b[1 : len(b)-1]
	sync = true
	if len(num) > 0 && num[len(num)-1] == '+' {
		num, sync = num[:len(num)-1], false
	}
	if len(num) == 0 || len(num) > 10 {
		return 0, false, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	v, err := strconv.ParseUint(string(num), 10, 32)
	if err != nil {
		return 0, false, false
	}
	return int(v), sync, true
}

// discard skips what is left of a command after a BAD: the current line
// is already read, but if it announced a non-synchronizing literal, that
// literal's octets and the lines after it are on their way too.
func (p *imapParser) discard() error {
	for {
		i := bytes.LastIndexByte(p.line, '{')
		if i < 0 {
			return nil
		}
		n, sync, ok := literalAt(p.line[i:])
		if !ok || sync {
			return nil
		}
		if n > imapMaxLiteral {
			return errLiteralTooLarge
		}
		if err := p.ic.skip(n); err != nil {
			return err
		}
		next, err := p.ic.readLine(imapMaxLine)
		if err != nil {
			return err
		}
		p.line, p.pos = next, 0
	}
}
