package imapserver

import "strings"

// RFC 3501 6.4.4 / RFC 9051 6.4.4: SEARCH FROM, TO, CC and BCC match
// "messages that contain the specified string in the envelope structure's"
// field, i.e. in the addresses as a client sees them, not only in the
// field's text: `<user-from (comment)@ (comment) domain.org>` is
// user-from@domain.org. A field matches when the needle is in its decoded
// text or in its addresses written plainly.

// isAddressField reports whether a header field is one SEARCH FROM, TO, CC
// and BCC look in.
func isAddressField(name string) bool {
	for _, n := range [...]string{"From", "To", "Cc", "Bcc"} {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// plainAddresses writes the addresses of an address field's value as
// `Display Name <mailbox@host>` (or `mailbox@host`), comma-separated, with
// comments and folding white space gone.
func plainAddresses(v string) string {
	var b strings.Builder
	for _, a := range parseAddressList(stripComments(v)) {
		if a.Mailbox == "" || a.Host == "" {
			continue // group syntax
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if a.Name != "" {
			b.WriteString(a.Name)
			b.WriteString(" <")
		}
		b.WriteString(a.Mailbox)
		b.WriteByte('@')
		b.WriteString(a.Host)
		if a.Name != "" {
			b.WriteByte('>')
		}
	}
	return b.String()
}

// stripComments removes RFC 5322 comments (nested parentheses, outside
// quoted strings, with quoted pairs) from a field value.
func stripComments(v string) string {
	if !strings.Contains(v, "(") {
		return v
	}
	var b strings.Builder
	depth, inQuote := 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case depth == 0 && inQuote:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(v) {
				i++
				b.WriteByte(v[i])
			} else if c == '"' {
				inQuote = false
			}
		case c == '\\' && depth > 0:
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		default:
			if c == '"' {
				inQuote = true
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}
