package imapserver

import (
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// addrParser decodes RFC 2047 display names in the charsets text.go knows.
var addrParser = mail.AddressParser{WordDecoder: wordDecoder}

// envelope returns the ENVELOPE of a message entity (RFC 9051 7.5.2). The
// subject is the raw field value, unfolded: encoded words stay encoded for
// the client to decode, as the RFC intends; go-imap only Q-encodes a value
// that has 8-bit bytes.
func (e *entity) envelope() *imap.Envelope {
	env := &imap.Envelope{}
	if v, ok := e.get("Date"); ok {
		// RFC 3501 7.4.2 / RFC 9051 7.5.2: the envelope's date is the
		// field's text (unfolded), not a reformatted time.
		env.Date, env.DateText = parseDate(v), v
	}
	env.Subject, _ = e.get("Subject")
	env.From = e.addresses("From")
	env.Sender = e.addresses("Sender")
	env.ReplyTo = e.addresses("Reply-To")
	env.To = e.addresses("To")
	env.Cc = e.addresses("Cc")
	env.Bcc = e.addresses("Bcc")
	if v, ok := e.get("In-Reply-To"); ok {
		env.InReplyTo = msgIDs(v)
	}
	if v, ok := e.get("Message-Id"); ok {
		if ids := msgIDs(v); len(ids) > 0 {
			env.MessageID = ids[0]
		} else if v != "" && !strings.ContainsAny(v, " \t<>") {
			env.MessageID = v
		}
	}
	return env
}

// addresses parses every field named name as an address list; go-imap writes
// Sender and Reply-To as From when they are nil (RFC 9051 7.5.2).
func (e *entity) addresses(name string) []imap.Address {
	var out []imap.Address
	for _, v := range e.values(name) {
		out = append(out, parseAddressList(v)...)
	}
	return out
}

// parseAddressList parses an RFC 5322 address list leniently, keeping group
// syntax as IMAP represents it: a group start (mailbox = group name, no host)
// and a group end (no mailbox, no host). Unparseable entries are skipped.
func parseAddressList(v string) []imap.Address {
	var out []imap.Address
	var inQuote, inAngle, inGroup bool
	depth := 0
	start := 0
	flush := func(end int) {
		if a, ok := parseOneAddress(v[start:end]); ok {
			out = append(out, a)
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case depth > 0:
			if c == '\\' {
				i++
			} else if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
		case c == '"':
			inQuote = true
		case c == '(':
			depth++
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case inAngle:
		case c == ':' && !inGroup:
			name := strings.Trim(strings.TrimSpace(v[start:i]), `"`)
			if dec, err := wordDecoder.DecodeHeader(name); err == nil {
				name = dec
			}
			if name == "" {
				name = "undisclosed-recipients"
			}
			out = append(out, imap.Address{Mailbox: name})
			inGroup = true
			start = i + 1
		case c == ';' && inGroup:
			flush(i)
			out = append(out, imap.Address{})
			inGroup = false
			start = i + 1
		case c == ',':
			flush(i)
			start = i + 1
		}
	}
	flush(len(v))
	if inGroup {
		out = append(out, imap.Address{})
	}
	return out
}

func parseOneAddress(s string) (imap.Address, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return imap.Address{}, false
	}
	var name, addr string
	if a, err := addrParser.Parse(s); err == nil {
		name, addr = a.Name, a.Address
	} else {
		// Salvage what a client would show: the angle-addr, or the
		// token with an @.
		if i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>'); i >= 0 && j > i {
			// Folding white space around an addr-spec's dots and @
			// (RFC 5322 obs-local-part, obs-domain) is not part of it.
			addr = strings.Join(strings.Fields(stripComments(s[i+1:j])), "")
			name = strings.Trim(strings.TrimSpace(s[:i]), `"`)
		} else if joined := strings.Join(strings.Fields(stripComments(s)), ""); strings.Count(joined, "@") == 1 && !strings.ContainsAny(joined, `"<>,;:`) {
			addr = joined // "user @ host": a bare addr-spec with folding white space
		} else {
			for _, tok := range strings.Fields(s) {
				if strings.Contains(tok, "@") {
					addr = strings.Trim(tok, "<>\"'")
				}
			}
		}
	}
	// An obsolete source route ("<@relay,@other:user@host>", RFC 5322
	// 4.4 obs-route) is the address structure's at-domain-list (RFC 3501
	// 7.4.2), not part of the mailbox name.
	var route string
	if strings.HasPrefix(addr, "@") {
		if colon := strings.IndexByte(addr, ':'); colon > 0 {
			route, addr = addr[:colon], addr[colon+1:]
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return imap.Address{}, false
	}
	return imap.Address{Name: name, Route: route, Mailbox: addr[:at], Host: addr[at+1:]}, true
}

// msgIDs returns the msg-ids of a field value without their angle brackets.
func msgIDs(v string) []string {
	var ids []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return ids
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return ids
		}
		if id := strings.TrimSpace(v[i+1 : i+j]); id != "" && !strings.ContainsAny(id, " \t") {
			ids = append(ids, id)
		}
		v = v[i+j+1:]
	}
}

// dateLayouts are tried, in order, after net/mail's RFC 5322 parser.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon, 2 Jan 06 15:04:05 -0700",
	time.RFC3339,
}

// parseDate parses a Date field leniently; the zero time if it cannot.
func parseDate(v string) time.Time {
	if t, err := mail.ParseDate(v); err == nil {
		return t
	}
	v = strings.Join(strings.Fields(v), " ")
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t
		}
	}
	return time.Time{}
}
