package smtpserver

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"mime"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
)

var (
	replyBareLF = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Bare LF not allowed: lines must end with CRLF (RFC 5321 2.3.8)"}
	replyBareCR = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Bare CR not allowed: lines must end with CRLF (RFC 5321 2.3.8)"}
	replyLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
		Message: "Line too long (RFC 5321 4.5.3.1.6)"}
	replyReadFailed = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: "Error reading message data"}
)

// checkLineEndings refuses a bare LF or a bare CR (RFC 5321 2.3.8: CR and
// LF appear only together as a line ending), in data held whole; receive
// applies the same rule to data in pieces (lineChecker), and the tests
// hold the two to the same answers.
func checkLineEndings(data []byte) *smtp.SMTPError {
	for i := 0; ; {
		j := bytes.IndexAny(data[i:], "\r\n")
		if j < 0 {
			return nil
		}
		i += j
		if data[i] == '\n' {
			return replyBareLF // an LF not after a CR
		}
		if i+1 >= len(data) || data[i+1] != '\n' {
			return replyBareCR
		}
		i += 2
	}
}

// receivedHeader builds the trace header of RFC 5321 4.4:
//
//	Received: from helo.example ([192.0.2.1])
//	        by mx.example (Sealpost) with ESMTPS id 7XK2Q9F0001
//	        for <rcpt@example.org>; Mon, 2 Jan 2006 15:04:05 +0000
//
// "with" names the protocol as RFC 3848 and RFC 6531 3.7.3 register it.
// "for" is given only for a single recipient, so that Bcc recipients are
// not disclosed to each other.
func (ss *session) receivedHeader(id string, now time.Time) []byte {
	var b strings.Builder
	b.WriteString("Received: from ")
	helo := ss.conn.Hostname()
	if !validHelo(helo) {
		helo = "unknown"
	}
	b.WriteString(helo)
	if ss.ip != nil {
		b.WriteString(" (")
		b.WriteString(addressLiteral(ss.ip))
		b.WriteString(")")
	}
	b.WriteString("\r\n\tby ")
	b.WriteString(ss.s.opts.Hostname)
	b.WriteString(" (Sealpost) with ")
	state, isTLS := ss.conn.TLSConnectionState()
	b.WriteString(withProtocol(ss.utf8, isTLS, ss.acct != nil))
	if isTLS {
		b.WriteString(" (")
		b.WriteString(strings.ReplaceAll(tls.VersionName(state.Version), " ", ""))
		b.WriteString(" ")
		b.WriteString(tls.CipherSuiteName(state.CipherSuite))
		b.WriteString(")")
	}
	b.WriteString(" id ")
	b.WriteString(id)
	if rcpts := append(append([]string(nil), ss.local...), ss.remote...); len(rcpts) == 1 {
		b.WriteString("\r\n\tfor <")
		b.WriteString(rcpts[0])
		b.WriteString(">")
	}
	b.WriteString(";\r\n\t")
	b.WriteString(now.Format(time.RFC1123Z)) // RFC 5322 3.3 date-time
	b.WriteString("\r\n")
	return []byte(b.String())
}

// withProtocol returns the "with" keyword: ESMTP, ESMTPS, ESMTPA, ESMTPSA
// (RFC 3848) or their UTF8SMTP forms (RFC 6531 3.7.3). go-smtp does not
// tell whether the client said HELO or EHLO, so HELO clients are recorded
// as ESMTP too.
func withProtocol(utf8, tls, auth bool) string {
	p := "ESMTP"
	if utf8 {
		p = "UTF8SMTP"
	}
	if tls {
		p += "S"
	}
	if auth {
		p += "A"
	}
	return p
}

// validHelo reports whether the HELO/EHLO argument can go into a Received:
// header as it is: a domain or an address literal (RFC 5321 4.1.1.1).
func validHelo(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']'
		if !ok {
			return false
		}
	}
	return true
}

// addressLiteral formats ip as RFC 5321 4.1.3 does.
func addressLiteral(ip net.IP) string {
	if ip4 := ip.To4(); ip4 != nil {
		return "[" + ip4.String() + "]"
	}
	return "[IPv6:" + ip.String() + "]"
}

// addSubmissionHeaders adds Date: (RFC 6409 8.2) and Message-ID: (RFC 6409
// 8.3) when the submitted message lacks them; nothing else is changed.
func addSubmissionHeaders(msg []byte, now time.Time, hostname string) []byte {
	hasDate, hasID := false, false
	for rest := msg; len(rest) > 0; {
		line := rest
		if i := bytes.Index(rest, []byte("\r\n")); i >= 0 {
			line, rest = rest[:i], rest[i+2:]
		} else {
			rest = nil
		}
		if len(line) == 0 {
			break // end of the header section
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // folded continuation
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimRight(name, " \t")
		hasDate = hasDate || bytes.EqualFold(name, []byte("Date"))
		hasID = hasID || bytes.EqualFold(name, []byte("Message-ID"))
	}
	if hasDate && hasID {
		return msg
	}
	var add []byte
	if !hasDate {
		add = append(add, "Date: "+now.Format(time.RFC1123Z)+"\r\n"...)
	}
	if !hasID {
		add = append(add, "Message-ID: <"+strings.ToLower(randomToken(15))+"@"+hostname+">\r\n"...)
	}
	return append(add, msg...)
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomToken returns n random bytes in base32.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return b32.EncodeToString(b)
}

// checkFrom refuses a submitted message whose From: header names anyone
// but the authenticated account (RFC 6409 8.1 lets the MSA refuse what the
// user does not own; DMARC receivers would anyway), or has no From: at
// all (RFC 5322 3.6: it is required). Every address of a From: with
// several must be the account's.
func (ss *session) checkFrom(msg []byte) *smtp.SMTPError {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(msg)
	}
	h, err := mail.ReadMessage(bytes.NewReader(append(msg[:end:end], "\r\n\r\n"...)))
	if err != nil {
		return replyNoFrom
	}
	froms := h.Header["From"]
	if len(froms) != 1 {
		return replyNoFrom
	}
	dec := mime.WordDecoder{}
	v, err := dec.DecodeHeader(froms[0])
	if err != nil {
		v = froms[0]
	}
	list, err := mail.ParseAddressList(v)
	if err != nil || len(list) == 0 {
		return replyNoFrom
	}
	for _, a := range list {
		if sealpost.NormalizeAddress(a.Address) != ss.acct.Address {
			return replyNotYourFrom
		}
	}
	return nil
}
