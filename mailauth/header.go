package mailauth

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strings"
	"unicode"

	"github.com/emersion/go-msgauth/authres"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// This file reads what the checks need from the untrusted message (the
// author's domain) and from the envelope, and validates domain names.

// fromStatus is how the message's From: field (RFC 5322 3.6.2) looked.
type fromStatus int

const (
	fromOK        fromStatus = iota // exactly one field with exactly one address at a domain
	fromMissing                     // no From: field at all
	fromMalformed                   // several fields, zero or several addresses, unparseable, or no usable domain
)

// maxHeader bounds how much of a message is scanned for its header section.
const maxHeader = 1 << 20

// authorDomain extracts the RFC5322.From domain (RFC 7489 3.1, 6.6.1): the
// domain of the one address of the one From: field, lower-cased and in
// A-label form (RFC 8616 4), or a status saying why there is none.
func authorDomain(msg []byte) (string, fromStatus) {
	d, status, _ := scanHeader(msg)
	return d, status
}

// scanHeader reads what the checks need of msg's header section in one
// pass: the author's domain as authorDomain returns it, and how many
// DKIM-Signature fields there are.
func scanHeader(msg []byte) (domain string, status fromStatus, sigs int) {
	var value string
	froms := 0
	for name, v := range rawHeaderFields(msg) {
		switch {
		case len(name) == len("From") && strings.EqualFold(string(name), "From"):
			froms++
			if froms == 1 {
				value = string(bytes.TrimSpace(unfold(v)))
			}
		case len(name) == len("DKIM-Signature") && strings.EqualFold(string(name), "DKIM-Signature"):
			sigs++
		}
	}
	switch froms {
	case 0:
		return "", fromMissing, sigs
	case 1:
	default:
		return "", fromMalformed, sigs // RFC 5322 3.6: at most one From: field
	}
	d, ok := addressDomain(value)
	if !ok {
		return "", fromMalformed, sigs
	}
	return d, fromOK, sigs
}

// addressDomain returns the domain (as domainName returns it) of the one
// address of a From: field's value.
func addressDomain(value string) (string, bool) {
	p := mail.AddressParser{WordDecoder: &lenientWords}
	list, err := p.ParseList(value)
	if err != nil || len(list) != 1 {
		return "", false
	}
	at := strings.LastIndexByte(list[0].Address, '@')
	if at < 0 {
		return "", false
	}
	return domainName(list[0].Address[at+1:])
}

// lenientWords decodes RFC 2047 encoded words in display names whatever
// their charset: only the address matters here, and an unknown charset in
// a display name must not make the From: field unreadable.
var lenientWords = mime.WordDecoder{CharsetReader: anyCharset}

// headerFields yields the name and unfolded value of each field of msg's
// header section (RFC 5322 2.2), up to the first empty line. Lines may end
// in CRLF or LF. A line that is neither a field nor a continuation ends the
// header section, as it would for a mail reader.
func headerFields(msg []byte) func(yield func(name, value string) bool) {
	return func(yield func(name, value string) bool) {
		for n, v := range rawHeaderFields(msg) {
			if !yield(string(n), string(bytes.TrimSpace(unfold(v)))) {
				return
			}
		}
	}
}

// rawHeaderFields is headerFields without copies: the name and the value
// are msg's own bytes, the value still folded (unfold unfolds it).
func rawHeaderFields(msg []byte) func(yield func(name, value []byte) bool) {
	return func(yield func(name, value []byte) bool) {
		if len(msg) > maxHeader {
			msg = msg[:maxHeader]
		}
		var name []byte
		start, end := 0, 0 // the value is msg[start:end]
		have := false
		flush := func() bool {
			if !have {
				return true
			}
			have = false
			return yield(name, msg[start:end])
		}
		for pos := 0; pos < len(msg); {
			next := len(msg)
			line := msg[pos:]
			if i := bytes.IndexByte(line, '\n'); i >= 0 {
				line, next = line[:i], pos+i+1
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) == 0 {
				break // end of the header section
			}
			if line[0] == ' ' || line[0] == '\t' {
				if have { // RFC 5322 2.2.3: unfolding (unfold)
					end = pos + len(line)
				}
				pos = next
				continue
			}
			colon := bytes.IndexByte(line, ':')
			if colon < 0 {
				break
			}
			n := bytes.TrimRight(line[:colon], " \t") // RFC 5322 4.5: obsolete WSP before ':'
			if len(n) == 0 || !fieldName(n) {
				break
			}
			if !flush() {
				return
			}
			name, start, end, have = n, pos+colon+1, pos+len(line), true
			pos = next
		}
		flush()
	}
}

// unfold removes the line breaks (CRLF, or a lone LF) of a folded field
// value (RFC 5322 2.2.3).
func unfold(v []byte) []byte {
	i := bytes.IndexByte(v, '\n')
	if i < 0 {
		return v
	}
	out := make([]byte, 0, len(v))
	for i >= 0 {
		line := v[:i]
		out = append(out, bytes.TrimSuffix(line, []byte("\r"))...)
		v = v[i+1:]
		i = bytes.IndexByte(v, '\n')
	}
	return append(out, v...)
}

// fieldName reports whether n is an RFC 5322 2.2 field name.
func fieldName(n []byte) bool {
	for _, c := range n {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// domainName returns d lower-cased in A-label form (RFC 5890; RFC 8616 4:
// the DNS is asked in A-labels) if it is a multi-label domain name that the
// DNS can hold (RFC 1035 2.3.4, RFC 7208 4.3), with "_" allowed in labels as
// in DKIM selectors and DMARC names.
func domainName(d string) (string, bool) {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", false
	}
	ascii := true
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", false
		}
		d = a
	}
	d = strings.ToLower(d)
	if len(d) > 253 || !strings.Contains(d, ".") {
		return "", false
	}
	for rest := d; rest != ""; {
		label, after, found := strings.Cut(rest, ".")
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
		if found && after == "" {
			return "", false // an empty last label ("a.b.." had one dot cut)
		}
		rest = after
	}
	return d, true
}

// domainOf returns the domain of an envelope address ("" for the null
// reverse-path or a bare local part).
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// orgDomain is the Organizational Domain of RFC 7489 3.2: the public suffix
// (golang.org/x/net/publicsuffix) plus one label; a name that is itself a
// public suffix is its own.
func orgDomain(d string) string {
	o, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return o
}

// aligned reports whether two domains are in alignment (RFC 7489 3.1):
// identical in strict mode, of the same Organizational Domain in relaxed.
func aligned(a, b string, strict bool) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	return !strict && orgDomain(a) == orgDomain(b)
}

// mailFromProperty is the smtp.mailfrom value (RFC 8601 2.7.2): the
// address, or only its domain when the local part is not a dot-atom
// (RFC 5322 3.2.3); "" without a usable domain.
func mailFromProperty(mailFrom, domain string) string {
	if domain == "" {
		return ""
	}
	local := mailFrom[:max(strings.LastIndexByte(mailFrom, '@'), 0)]
	if !dotAtom(local) {
		return domain
	}
	return local + "@" + domain
}

// dotAtom reports whether s is an RFC 5322 3.2.3 dot-atom (with UTF-8
// letters, RFC 6532 3.2).
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80 && unicode.IsPrint(r) ||
			strings.ContainsRune(".!#$%&'*+-/=?^_`{|}~", r)
		if !ok {
			return false
		}
	}
	return true
}

// anyCharset is mime.WordDecoder's CharsetReader: the bytes as they are,
// whatever the charset.
func anyCharset(_ string, r io.Reader) (io.Reader, error) { return r, nil }

// header formats the Authentication-Results: field (RFC 8601 2.2) with
// go-msgauth/authres, one method a line: spf with smtp.mailfrom (or
// smtp.helo for the null sender), dkim with header.d for each signature (or
// dkim=none), dmarc with header.from. Every domain in it was validated as a
// domain name and a local part is kept only when it is a plain dot-atom, so
// no sender can break the field or add a result to it (many readers split
// it at every ";", quoted or not).
func (c *Checker) header(res *Result, mailFrom string) string {
	spfRes := &authres.SPFResult{Value: res.SPF.Result}
	if res.SPF.Helo {
		spfRes.Helo = res.SPF.Domain
	} else {
		spfRes.From = mailFromProperty(mailFrom, res.SPF.Domain)
	}
	var b strings.Builder
	b.Grow(256)
	b.WriteString("Authentication-Results: ")
	b.WriteString(c.o.Hostname)
	writeResult(&b, spfRes)
	if len(res.DKIM) == 0 {
		writeResult(&b, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, s := range res.DKIM {
		writeResult(&b, &authres.DKIMResult{Value: s.Result, Domain: s.Domain, Reason: dkimReasons[s.Result]})
	}
	dm := &authres.DMARCResult{Value: res.DMARC.Result, From: res.DMARC.From}
	if res.DMARC.Policy != "" {
		dm.Reason = "p=" + res.DMARC.Policy
		if !res.DMARC.Sampled {
			dm.Reason += " (not sampled by pct)"
		}
	}
	writeResult(&b, dm)
	b.WriteString("\r\n")
	return b.String()
}

// writeResult writes ";", a folding line break and one result as
// authres.Format writes it (without the authserv-id, and trimmed). The
// results we write have a reason and at most one property; when their
// text is plain ASCII that needs no escape it is written here, as
// authres would write it, else authres writes it.
func writeResult(b *strings.Builder, r authres.Result) {
	b.WriteString(";\r\n\t")
	var method, prop, pvalue, reason string
	var value authres.ResultValue
	switch r := r.(type) {
	case *authres.SPFResult:
		method, value, reason = "spf", r.Value, r.Reason
		switch {
		case r.From != "" && r.Helo != "":
			method = "" // two properties: authres writes them
		case r.From != "":
			prop, pvalue = "smtp.mailfrom", r.From
		case r.Helo != "":
			prop, pvalue = "smtp.helo", r.Helo
		}
	case *authres.DKIMResult:
		method, value, reason, prop, pvalue = "dkim", r.Value, r.Reason, "header.d", r.Domain
		if r.Identifier != "" {
			method = ""
		}
	case *authres.DMARCResult:
		method, value, reason, prop, pvalue = "dmarc", r.Value, r.Reason, "header.from", r.From
	}
	if method == "" || !lowerWord(string(value)) || !plainASCII(reason) || !pvalueAsIs(pvalue) {
		b.WriteString(strings.TrimSpace(strings.TrimPrefix(authres.Format("", []authres.Result{r}), ";")))
		return
	}
	b.WriteString(method)
	b.WriteByte('=')
	b.WriteString(string(value))
	if reason != "" {
		// RFC 8601 2.2: reasonspec is "reason" "=" value; a value
		// with a space or a tspecial is a quoted-string.
		b.WriteString(" reason=")
		if needsQuotes(reason) {
			b.WriteByte('"')
			b.WriteString(reason)
			b.WriteByte('"')
		} else {
			b.WriteString(reason)
		}
	}
	if pvalue != "" {
		b.WriteByte(' ')
		b.WriteString(prop)
		b.WriteByte('=')
		b.WriteString(pvalue)
	}
}

// lowerWord reports whether s is lower-case ASCII letters, as result
// values are (RFC 8601 2.7).
func lowerWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// plainASCII reports whether s is printable ASCII without a quote or a
// backslash: what writeResult writes itself.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// needsQuotes reports whether authres would quote s as a value: it holds
// a space, a control character or a tspecial (RFC 2045 5.1).
func needsQuotes(s string) bool {
	return strings.ContainsAny(s, " ()<>@,;:\\\"/[]?=") || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' })
}

// pvalueAsIs reports whether authres writes s, a property value, as it
// is: letters, digits and its address punctuation only (ASCII here).
func pvalueAsIs(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("#$%&'*+,./-@[]^_`{|}~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// dkimReasons explain a DKIM result that is not pass in the header.
var dkimReasons = map[authres.ResultValue]string{
	authres.ResultFail:      "signature did not verify",
	authres.ResultPermError: "bad signature or key",
	authres.ResultTempError: "key unavailable",
}
