package sieve

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/migadu/go-sieve/interp"

	"github.com/sealpost/sealpost/errors"
)

// The period between two replies to one sender (RFC 5230 4.1: sites may
// bound :days; we keep it within a day and 90 days).
const (
	MinVacationPeriod = 24 * time.Hour
	MaxVacationPeriod = 90 * 24 * time.Hour
)

// Vacation is a vacation action (RFC 5230 4).
type Vacation struct {
	// Reason is the reply's body: text, or with MIME a whole MIME entity
	// (RFC 5230 4.7).
	Reason string
	// Subject is the script's :subject, "" if it gave none.
	Subject string
	// From is the script's :from, "" if it gave none; the caller decides
	// whether it may be used (RFC 5230 4.4).
	From string
	// Addresses are the user's other addresses (:addresses, RFC 5230 4.5).
	Addresses []string
	// Period is the least time between two replies to one sender (:days,
	// RFC 5230 4.1), within MinVacationPeriod and MaxVacationPeriod.
	Period time.Duration
	// Handle tells this vacation from others for the reply memory: the
	// script's :handle, else one derived from the reply's content (RFC
	// 5230 4.2).
	Handle string
	MIME   bool
}

func vacationOf(r interp.VacationResponse) *Vacation {
	v := &Vacation{
		Reason:    r.Body,
		From:      r.From,
		Addresses: append([]string(nil), r.Addresses...),
		Period:    time.Duration(r.Days) * 24 * time.Hour,
		Handle:    r.Handle,
		MIME:      r.IsMime,
	}
	if r.SubjectGiven {
		v.Subject = r.Subject
	}
	v.Period = min(max(v.Period, MinVacationPeriod), MaxVacationPeriod)
	if v.Handle == "" {
		// RFC 5230 4.2: without :handle, a change of the reply's text
		// makes it a different vacation.
		sum := sha256.Sum256([]byte(fmt.Sprintf("%q %q %q %t", v.Reason, v.Subject, v.From, v.MIME)))
		v.Handle = "auto-" + hex.EncodeToString(sum[:12])
	}
	return v
}

// ShouldReply reports whether a vacation reply may be sent for a message,
// and if not, why (for the log; the reason quotes nothing of the message).
// own are the account's addresses; v.Addresses are added to them.
//
// It implements RFC 5230 4.5 (the message must be addressed to the user)
// and 4.6 with RFC 3834 2 (no reply to automatic mail, lists, bulk mail,
// or null or system senders); whether this sender got a reply within the
// period is Memory's question.
func ShouldReply(env Envelope, header []byte, v *Vacation, own []string) (bool, string) {
	if env.From == "" || env.From == "<>" {
		return false, "null reverse path"
	}
	local, _, _ := strings.Cut(strings.ToLower(env.From), "@")
	switch {
	case local == "mailer-daemon", local == "postmaster", local == "listserv", local == "majordomo",
		strings.HasPrefix(local, "owner-"), strings.HasSuffix(local, "-request"),
		strings.HasSuffix(local, "-owner"), strings.HasPrefix(local, "bounce"):
		// RFC 5230 4.6: "owner-*", "*-request", MAILER-DAEMON and the like.
		return false, "sender is a list or system address"
	}
	mine := make(map[string]bool)
	for _, a := range append(append([]string(nil), own...), v.Addresses...) {
		mine[normalAddress(a)] = true
	}
	if mine[normalAddress(env.From)] {
		return false, "sender is the user"
	}
	h := parseHeader(header)
	// RFC 3834 5: Auto-Submitted other than "no".
	if as := h.Get("Auto-Submitted"); as != "" {
		kw, _, _ := strings.Cut(as, ";")
		if !strings.EqualFold(strings.TrimSpace(kw), "no") {
			return false, "message is auto-submitted"
		}
	}
	// RFC 3834 2: Precedence bulk, list or junk.
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "list", "junk":
		return false, "message has bulk or list precedence"
	}
	// RFC 3834 2, RFC 2369, RFC 2919: mail from a list.
	fields := h.Fields()
	for fields.Next() {
		if strings.HasPrefix(strings.ToLower(fields.Key()), "list-") {
			return false, "message is from a mailing list"
		}
	}
	// RFC 5230 4.5: one of the user's addresses in a recipient field.
	for _, key := range []string{"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"} {
		for _, value := range h.Values(key) {
			for _, a := range addressesIn(value) {
				if mine[normalAddress(a)] || mine[normalAddress(withoutDetail(a))] {
					return true, ""
				}
			}
		}
	}
	return false, "message is not addressed to the user"
}

// parseHeader parses a header section, adding its ending empty line if it
// lacks one; a malformed one yields the fields before the fault.
func parseHeader(header []byte) textproto.Header {
	raw := header
	if !bytes.HasSuffix(raw, []byte("\n\n")) && !bytes.HasSuffix(raw, []byte("\n\r\n")) {
		raw = append(append([]byte(nil), raw...), "\r\n"...)
	}
	h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	return h
}

// normalAddress is an address compared case-insensitively.
func normalAddress(a string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(a), "<>"))
}

// withoutDetail strips a +detail from a local part (RFC 5233).
func withoutDetail(a string) string {
	local, domain, ok := strings.Cut(a, "@")
	if !ok {
		return a
	}
	user, _, _ := strings.Cut(local, "+")
	return user + "@" + domain
}

// addressesIn returns the addresses of an address-list field, falling back
// to anything that looks like one when the field does not parse.
func addressesIn(value string) []string {
	if list, err := mail.ParseAddressList(value); err == nil {
		out := make([]string, len(list))
		for i, a := range list {
			out[i] = a.Address
		}
		return out
	}
	var out []string
	for _, part := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if i := strings.IndexByte(part, '<'); i >= 0 {
			part = part[i+1:]
		}
		part = strings.TrimRight(part, ">")
		if strings.Contains(part, "@") {
			out = append(out, part)
		}
	}
	return out
}

// BuildReply returns the vacation reply to a message (RFC 5230 5, RFC
// 3834 3): from from (the caller's choice, RFC 5230 4.4), to the envelope
// sender, with Auto-Submitted: auto-replied, In-Reply-To and References,
// "Auto: " and the original subject unless the script gave one, and the
// reason as its text (or, with :mime, as its MIME entity). Lines end in
// CRLF.
func BuildReply(v *Vacation, env Envelope, header []byte, from string, now time.Time) ([]byte, error) {
	const op = "sieve.BuildReply"
	if env.From == "" {
		return nil, errors.E(op, errors.Invalid, errors.Str("no reply to a null reverse path"))
	}
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("invalid From address"))
	}
	to, err := mail.ParseAddress("<" + strings.Trim(env.From, "<>") + ">")
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("invalid envelope sender"))
	}
	h := parseHeader(header)
	subject := v.Subject
	if subject == "" {
		// RFC 5230 4.3: "Auto: " and the original subject.
		subject = "Auto: " + decodeWords(oneLine(h.Get("Subject")))
	}
	var b bytes.Buffer
	field := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	field("From", fromAddr.String())
	field("To", to.String())
	field("Subject", mime.QEncoding.Encode("utf-8", oneLine(subject)))
	field("Date", now.Format(time.RFC1123Z))
	field("Message-ID", messageID(fromAddr.Address))
	// RFC 3834 3.1.5, RFC 5322 3.6.4.
	if id := oneLine(h.Get("Message-Id")); id != "" {
		field("In-Reply-To", id)
		refs := oneLine(h.Get("References"))
		if refs == "" {
			refs = oneLine(h.Get("In-Reply-To"))
		}
		field("References", strings.TrimSpace(refs+" "+id))
	}
	field("Auto-Submitted", "auto-replied") // RFC 3834 5, RFC 5230 5
	field("MIME-Version", "1.0")
	if v.MIME {
		// RFC 5230 4.7: the reason is a MIME entity, its header first.
		entity := crlf(v.Reason)
		if _, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(entity))); err != nil {
			return nil, errors.E(op, errors.Invalid, errors.Str(":mime reason is not a MIME entity"))
		}
		b.WriteString(entity)
		return b.Bytes(), nil
	}
	field("Content-Type", "text/plain; charset=utf-8")
	field("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(crlf(v.Reason)))
	qp.Close()
	return b.Bytes(), nil
}

// oneLine unfolds a field's value and drops any other line break.
func oneLine(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", "", "\r", "", "\n", "").Replace(s))
}

func decodeWords(s string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// crlf makes every line end in CRLF.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func messageID(from string) string {
	_, domain, _ := strings.Cut(from, "@")
	if domain == "" {
		domain = "localhost"
	}
	var r [16]byte
	rand.Read(r[:])
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">"
}
