package outbound

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sealpost/sealpost"
)

// dsnKind is what a delivery status notification reports.
type dsnKind int

const (
	dsnFailed  dsnKind = iota // the message could not be delivered: a bounce
	dsnDelayed                // still trying (sent once, after DelayWarning)
)

// dsnInput is what a notice is built from.
type dsnInput struct {
	kind       dsnKind
	hostname   string
	sender     string
	queued     time.Time
	now        time.Time
	retryUntil time.Time
	outs       []outcome
	original   []byte // the message, or nil
}

// Bounds on what a notice repeats of others' words and of the message.
const (
	maxDiagnostic = 800      // bytes of a remote reply
	maxHeaders    = 64 << 10 // bytes of the original header section
)

// buildDSN builds a delivery status notification (RFC 3464) as a
// multipart/report (RFC 6522): a human-readable part, the machine-readable
// message/delivery-status part, and the original message's header section
// (text/rfc822-headers: the sender has the body in their Sent folder).
// Addresses that are not ASCII make it a message/global-delivery-status
// with utf-8 address types (RFC 6533). Everything taken from a remote
// server's reply is reduced to printable text on one line, so that no
// reply can add a header or a part.
func buildDSN(in dsnInput) []byte {
	global := !isASCII(in.sender)
	for _, o := range in.outs {
		global = global || !isASCII(o.rcpt)
	}
	var b bytes.Buffer
	boundary := randomHex(12)
	id := randomHex(12) + "@" + in.hostname
	subject := "Undelivered Mail Returned to Sender"
	if in.kind == dsnDelayed {
		subject = "Delayed Mail (still being retried)"
	}
	hdr := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	hdr("From", "Mail Delivery System <MAILER-DAEMON@"+in.hostname+">")
	hdr("To", "<"+in.sender+">")
	hdr("Subject", subject)
	hdr("Date", in.now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+id+">")
	hdr("Auto-Submitted", "auto-replied") // RFC 3834 5: never answered automatically
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/report; report-type=delivery-status; boundary="`+boundary+`"`)
	b.WriteString("\r\nThis is a MIME-encapsulated message.\r\n")

	// Part 1: for people.
	fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", boundary)
	if in.kind == dsnDelayed {
		fmt.Fprintf(&b, "This is the mail system at %s.\r\n\r\nYour message has not been delivered yet to the recipients below.\r\n"+
			"The mail system will keep trying until %s; you need not send it again.\r\n\r\n",
			in.hostname, in.retryUntil.UTC().Format(time.RFC1123Z))
	} else {
		fmt.Fprintf(&b, "This is the mail system at %s.\r\n\r\nYour message could not be delivered to the recipients below.\r\n\r\n", in.hostname)
	}
	for _, o := range in.outs {
		fmt.Fprintf(&b, "<%s>: %s\r\n", o.rcpt, oneLine(o.text))
	}

	// Part 2: for programs (RFC 3464 2.2, 2.3).
	ct := "message/delivery-status"
	if global {
		ct = "message/global-delivery-status"
	}
	fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: %s\r\n\r\n", boundary, ct)
	fmt.Fprintf(&b, "Reporting-MTA: dns; %s\r\n", in.hostname)
	if !in.queued.IsZero() {
		fmt.Fprintf(&b, "Arrival-Date: %s\r\n", in.queued.Format(time.RFC1123Z))
	}
	for _, o := range in.outs {
		b.WriteString("\r\n")
		fmt.Fprintf(&b, "Final-Recipient: %s\r\n", addressField(o.rcpt))
		action := "failed"
		if in.kind == dsnDelayed {
			action = "delayed"
		}
		fmt.Fprintf(&b, "Action: %s\r\n", action)
		fmt.Fprintf(&b, "Status: %s\r\n", statusCode(o))
		if o.remote != "" {
			fmt.Fprintf(&b, "Remote-MTA: dns; %s\r\n", oneLine(o.remote))
		}
		if o.code != 0 {
			fmt.Fprintf(&b, "Diagnostic-Code: smtp; %s\r\n", oneLine(o.text))
		} else {
			fmt.Fprintf(&b, "Diagnostic-Code: x-local; %s\r\n", oneLine(o.text))
		}
		fmt.Fprintf(&b, "Last-Attempt-Date: %s\r\n", in.now.Format(time.RFC1123Z))
		if in.kind == dsnDelayed {
			fmt.Fprintf(&b, "Will-Retry-Until: %s\r\n", in.retryUntil.Format(time.RFC1123Z))
		}
	}

	// Part 3: the original header section.
	if h := headerSection(in.original); len(h) > 0 {
		ct := "text/rfc822-headers"
		if !isASCII(string(h)) {
			ct = "message/global-headers" // RFC 6533 3.4
		}
		fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: %s\r\n\r\n", boundary, ct)
		b.Write(h)
	}
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes()
}

// addressField is a Final-Recipient value: "rfc822; addr", or for an
// address that is not ASCII "utf-8; addr" (RFC 6533 3.2).
func addressField(addr string) string {
	if isASCII(addr) {
		return "rfc822; " + oneLine(addr)
	}
	return "utf-8; " + oneLine(addr)
}

// oneLine makes untrusted text safe on one header line: no control
// characters, valid UTF-8, at most maxDiagnostic bytes.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "?")
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxDiagnostic {
			b.WriteString("...")
			break
		}
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			r = ' '
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// headerSection returns msg's header section, CRLF-terminated, without
// the blank line that ends it, bounded by maxHeaders (cut at a line).
func headerSection(msg []byte) []byte {
	if len(msg) == 0 {
		return nil
	}
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(msg)
	} else {
		end += 2
	}
	h := msg[:end]
	if len(h) > maxHeaders {
		h = h[:maxHeaders]
		if i := bytes.LastIndex(h, []byte("\r\n")); i >= 0 {
			h = h[:i+2]
		}
	}
	if !bytes.HasSuffix(h, []byte("\r\n")) {
		h = append(append([]byte(nil), h...), "\r\n"...)
	}
	return h
}

// fromDomain returns the domain of the message's From: address (the one
// DKIM signs for, RFC 7489 3.1), "" if there is not exactly one.
func fromDomain(msg []byte) string {
	h := headerSection(msg)
	if h == nil {
		return ""
	}
	r, err := mail.ReadMessage(bytes.NewReader(append(h, "\r\n"...)))
	if err != nil {
		return ""
	}
	dec := mime.WordDecoder{}
	v, err := dec.DecodeHeader(r.Header.Get("From"))
	if err != nil {
		return ""
	}
	list, err := mail.ParseAddressList(v)
	if err != nil || len(list) != 1 {
		return ""
	}
	return sealpost.DomainOf(sealpost.NormalizeAddress(list[0].Address))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return utf8.ValidString(s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
