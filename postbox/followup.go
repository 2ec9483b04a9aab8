package postbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/sieve"
	"github.com/sealpost/sealpost/srs"
)

// followup.go: what the filters send on after a delivery is durable:
// redirected copies (RFC 5228 4.2, with the sender rewritten by SRS so
// that SPF passes at the next hop), vacation replies (RFC 5230), the
// rejection notice to the sender of a message refused by some recipients'
// scripts (RFC 5429 2.1), and a note to the owner when their script failed.

// Refusal is the detail of the error Deliver returns when the filters
// refuse a message for every recipient: the MX answers 550 5.7.1 with the
// reason (RFC 5429 2.1.1: reject's reason goes in the SMTP reply).
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "refused: " + r.Reason }

// ReplyText is the reason as one line of printable ASCII for an SMTP reply.
func (r *Refusal) ReplyText() string {
	var b strings.Builder
	for _, c := range r.Reason {
		if b.Len() >= 200 {
			break
		}
		if c >= 0x20 && c < 0x7f {
			b.WriteRune(c)
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}

// prefixed is a message with header fields put before it.
type prefixed struct {
	head []byte
	m    Message
}

func (p prefixed) Size() int64 { return int64(len(p.head)) + p.m.Size() }
func (p prefixed) NewReader() io.Reader {
	return io.MultiReader(bytes.NewReader(p.head), p.m.NewReader())
}

// followUp sends what one recipient's plan asks for besides filing.
func (s *Service) followUp(ctx context.Context, env Envelope, t *target, rcpt string, p recipientPlan, msg Message) error {
	const op = "postbox.followUp"
	if len(p.redirects) > 0 {
		// Delivered-To marks the hop (and bounds loops: filter.go).
		fwd := prefixed{head: fmt.Appendf(nil, "Delivered-To: %s\r\n", t.acct.Address), m: msg}
		from := env.From
		if from != "" {
			if s.opts.SRS != nil {
				f, err := srs.Forward(*s.opts.SRS, from, sealpost.DomainOf(t.acct.Address), s.opts.Now())
				if err != nil {
					return errors.E(op, err)
				}
				from = f
			} else {
				from = t.acct.Address
			}
		}
		if err := s.send(ctx, from, p.redirects, fwd); err != nil {
			return errors.E(op, err)
		}
	}
	if p.vacation != nil {
		if err := s.send(ctx, "", []string{env.From}, Bytes(p.vacation)); err != nil {
			return errors.E(op, err)
		}
	}
	if p.reject != "" && env.From != "" {
		n := rejectionNotice(env.From, t.acct.Address, rcpt, p.reject, msg, s.opts.Now())
		if err := s.send(ctx, "", []string{env.From}, Bytes(n)); err != nil {
			return errors.E(op, err)
		}
	}
	if p.errNote != "" {
		s.noteScriptError(ctx, t, p.errNote)
	}
	return nil
}

// Relay delivers what the filters send on to hosted addresses in any
// region: the region router (SetRelay). Without one, only accounts homed
// here are reached directly.
type Relay interface {
	LookupRecipient(ctx context.Context, addr string) (sealpost.Account, error)
	Deliver(ctx context.Context, env Envelope, msg Message) error
}

// SetRelay sets the relay, once, before any delivery.
func (s *Service) SetRelay(r Relay) { s.relay = r }

// send files a message for hosted addresses (through the relay, so in
// whichever region they live) and queues it for every other address.
func (s *Service) send(ctx context.Context, from string, to []string, msg Message) error {
	var remote []string
	for _, addr := range to {
		if addr == "" {
			continue
		}
		var err error
		if s.relay != nil {
			_, err = s.relay.LookupRecipient(ctx, addr)
		} else {
			_, err = s.target(ctx, sealpost.NormalizeAddress(addr))
		}
		switch {
		case err == nil:
			env := Envelope{From: from, Recipients: []string{addr}}
			if s.relay != nil {
				err = s.relay.Deliver(ctx, env, msg)
			} else {
				err = s.Deliver(ctx, env, msg)
			}
			if err != nil {
				return err
			}
			continue
		case !errors.Is(errors.NotExist, err):
			return err
		}
		remote = append(remote, addr)
	}
	if len(remote) == 0 {
		return nil
	}
	return s.Enqueue(ctx, from, remote, msg)
}

// scriptNoteEvery bounds how often an owner is told of their script's
// failures.
const scriptNoteEvery = time.Hour

// noteScriptError files a short notice in the owner's INBOX when their
// script failed (the message itself was kept), at most once an hour.
func (s *Service) noteScriptError(ctx context.Context, t *target, note string) {
	now := s.opts.Now()
	s.mu.Lock()
	if s.scriptNotes == nil {
		s.scriptNotes = make(map[sealpost.AccountID]time.Time)
	}
	last := s.scriptNotes[t.acct.ID]
	if !last.IsZero() && now.Sub(last) < scriptNoteEvery {
		s.mu.Unlock()
		return
	}
	s.scriptNotes[t.acct.ID] = now
	s.mu.Unlock()
	body := "Your Sieve script could not do everything it asked for with a message\r\n" +
		"that arrived at " + now.UTC().Format(time.RFC1123Z) + ". The message was kept in your INBOX.\r\n\r\n" +
		"What went wrong: " + note + "\r\n\r\n" +
		"You will not be told again of failures within the hour.\r\n"
	n := notice(t.acct.Address, "Your mail filter failed", body, now)
	if err := s.Deliver(ctx, Envelope{Recipients: []string{t.acct.Address}, Notice: true}, Bytes(n)); err != nil {
		s.log.Warn("script failure notice", "account", t.acct.ID, "err", err)
	}
}

// notice is a plain text message from the server to an address.
func notice(to, subject, body string, now time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Mail Delivery System <postmaster@%s>\r\n", sealpost.DomainOf(to))
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", randomID(), sealpost.DomainOf(to))
	b.WriteString("Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(body)
	return b.Bytes()
}

func randomID() string {
	var r [12]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// rejectionNotice is the delivery status notification (RFC 3464, in a
// multipart/report, RFC 6522) that tells a sender a recipient's filter
// refused their message (RFC 5429 2.1: when the refusal cannot be given
// in the SMTP reply because other recipients took the message). It holds
// the original's header section only.
func rejectionNotice(to, acct, rcpt, reason string, msg Message, now time.Time) []byte {
	boundary := "=_" + randomID()
	domain := sealpost.DomainOf(acct)
	var header []byte
	if head, err := io.ReadAll(io.LimitReader(msg.NewReader(), 64<<10)); err == nil {
		if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
			header = head[:i+2]
		}
	}
	r := (&Refusal{Reason: reason}).ReplyText()
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", domain)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	b.WriteString("Subject: Message refused by its recipient\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", randomID(), domain)
	b.WriteString("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary)
	fmt.Fprintf(&b, "Your message to <%s> was refused by the recipient's mail filter:\r\n\r\n    %s\r\n\r\n", rcpt, r)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary)
	fmt.Fprintf(&b, "Reporting-MTA: dns; %s\r\nArrival-Date: %s\r\n\r\n", domain, now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.7.1\r\nDiagnostic-Code: smtp; 550 5.7.1 %s\r\n\r\n", rcpt, r)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary)
	b.Write(header)
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes()
}

// vacationReply decides whether the account's vacation action answers
// this message (RFC 5230 4.5, 4.6 and RFC 3834 via sieve.ShouldReply; at
// most once per sender and handle in the period, remembered sealed under
// the account's filter key) and builds the reply.
func (s *Service) vacationReply(ctx context.Context, st *filterState, t *target, env Envelope, rcpt string, a *arrival, v *sieve.Vacation) ([]byte, error) {
	const op = "postbox.vacationReply"
	own := []string{t.acct.Address, sealpost.NormalizeAddress(rcpt)}
	ok, why := sieve.ShouldReply(sieve.Envelope{From: env.From, To: rcpt}, a.header, v, own)
	if !ok {
		s.log.Debug("no vacation reply", "account", t.acct.ID, "why", why)
		return nil, nil
	}
	s.vacMu.Lock()
	defer s.vacMu.Unlock()
	bind := objectBinding(t.acct.Address, sealpost.ObjectVacation)
	mem := sieve.NewMemory(st.key.Derive("vacation"))
	if o, err := s.store.Object(ctx, t.acct.ID, sealpost.ObjectVacation, ""); err == nil {
		if plain, err := st.key.OpenObject(bind, o.Data); err == nil {
			_ = mem.UnmarshalBinary(plain) // a damaged memory starts afresh
		}
	} else if !errors.Is(errors.NotExist, err) {
		return nil, errors.E(op, err)
	}
	now := s.opts.Now()
	if !mem.Due(env.From, v.Handle, v.Period, now) {
		return nil, nil
	}
	mem.Record(env.From, v.Handle, now)
	plain, err := mem.MarshalBinary()
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	sealed, err := st.key.SealObject(bind, plain)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if err := s.store.PutObject(ctx, sealpost.AccountObject{Account: t.acct.ID, Kind: sealpost.ObjectVacation, Data: sealed}, 0); err != nil {
		return nil, errors.E(op, err)
	}
	reply, err := sieve.BuildReply(v, sieve.Envelope{From: env.From, To: rcpt}, a.header, t.acct.Address, now)
	if err != nil {
		return nil, errors.E(op, err)
	}
	return reply, nil
}
