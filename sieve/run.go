package sieve

import (
	"context"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/migadu/go-sieve/interp"

	"github.com/sealpost/sealpost/errors"
)

// Envelope is the SMTP envelope of one delivery (RFC 5228 5.4).
type Envelope struct {
	From string // the reverse path, "" for the null path
	To   string // the recipient as given in RCPT TO, maybe with a +detail
	Auth string // the authenticated submitter, if any
}

// Message is what a script may look at of the message being delivered.
type Message struct {
	// Header is the raw header section, including the empty line that
	// ends it.
	Header []byte
	// Head, if set, is header fields the script sees before Header's
	// (delivery's X-Spam-Score), each line ending in CRLF: the script
	// sees the section Head then Header, without the caller joining them.
	Head []byte
	// Body returns the body, for the body test (RFC 5173). It is called at
	// most once per Run, and only if the script tests the body; at most
	// MaxBodySize bytes are read. Nil means the message has no body.
	Body func() (io.Reader, error)
	// Size is the message's size in octets, for the size test.
	Size int64
	// Date is the time of arrival, which currentdate sees (RFC 5260 5);
	// the zero time means now.
	Date time.Time
	// MailboxExists answers the mailboxexists test (RFC 5490 3.1) with
	// the account's mailboxes; nil means every mailbox exists.
	MailboxExists func(ctx context.Context, name string) (bool, error)
}

// Plan is what a run decided for one message. The message goes to INBOX
// if Keep, to each of FileInto, and is forwarded to each of Redirects;
// if none of those (and no Reject), it is discarded.
type Plan struct {
	// Keep is the explicit keep or the implicit one (RFC 5228 2.10.2),
	// with the flags the kept message gets (RFC 5232).
	Keep      bool
	KeepFlags []string
	// FileInto lists the mailboxes to store the message in, in the order
	// the script named them, each once.
	FileInto []FileInto
	// Redirects are the addresses to forward the message to (RFC 5228
	// 4.2), at most MaxRedirects.
	Redirects []string
	// Reject is the reason of a reject or ereject (RFC 5429), "" if none;
	// RejectSMTP is set for ereject, which asks that the refusal be made
	// in SMTP where possible. The caller chooses between refusing in SMTP
	// and sending a delivery status notification.
	Reject     string
	RejectSMTP bool
	// Vacation is the reply the vacation action asked for (RFC 5230),
	// nil if none. Whether to send it is ShouldReply's and Memory's.
	Vacation *Vacation
	// Discard is set when the message goes nowhere: no keep, no fileinto,
	// no redirect, no reject.
	Discard bool
}

// FileInto is one fileinto action (RFC 5228 4.1).
type FileInto struct {
	// Mailbox is the name as the script gave it, in UTF-8 ("INBOX" is
	// mapped by the caller).
	Mailbox string
	// Create asks that the mailbox be created if it does not exist (RFC
	// 5490 3.2).
	Create bool
	// Flags are the flags the stored message gets (RFC 5232).
	Flags []string
}

// Run runs the script over one delivery. A run is bounded in time by
// ctx's deadline or MaxRunTime, whichever comes first, and in work by the
// script's bounds. An error is a run-time error (RFC 5228 2.10.6), after
// which the caller keeps the message as if no script ran; its text never
// quotes the message.
func (s *Script) Run(ctx context.Context, env Envelope, msg Message) (p Plan, err error) {
	const op = "sieve.Run"
	ctx, cancel := context.WithTimeout(ctx, MaxRunTime)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			p, err = Plan{}, errors.E(op, errors.Internal, errors.Str("the script's run failed (a bug)"))
		}
	}()
	m, err := newMessage(msg)
	if err != nil {
		return Plan{}, errors.E(op, err)
	}
	d := interp.NewRuntimeData(s.s, policy{exists: msg.MailboxExists}, envelope(env), m)
	d.CurrentTime = msg.Date
	if err := s.s.Execute(ctx, d); err != nil {
		if ctx.Err() != nil || errors.IsErr(err, context.DeadlineExceeded) {
			return Plan{}, errors.E(op, errors.TooLarge, errors.Str("the script ran past its time limit"))
		}
		if m.err != nil {
			return Plan{}, errors.E(op, m.err)
		}
		var re runError
		if errors.As(err, &re) {
			return Plan{}, errors.E(op, errors.Invalid, re)
		}
		// The library's text may quote values taken from the message
		// (variables, matches), which must not reach a log.
		return Plan{}, errors.E(op, errors.Invalid, errors.Str("run-time error in the script"))
	}
	return plan(d)
}

// runError is a run-time error whose text is ours and quotes nothing of
// the message.
type runError string

func (e runError) Error() string { return string(e) }

func plan(d *interp.RuntimeData) (Plan, error) {
	const op = "sieve.Run"
	var p Plan
	if len(d.Mailboxes) > MaxFileInto {
		return Plan{}, errors.E(op, errors.Invalid, runError("more than 32 fileinto actions"))
	}
	for _, name := range d.Mailboxes {
		if !validMailbox(name) {
			return Plan{}, errors.E(op, errors.Invalid, runError("fileinto: invalid mailbox name"))
		}
		p.FileInto = append(p.FileInto, FileInto{
			Mailbox: name,
			Create:  contains(d.MailboxesCreate, name),
			Flags:   imapFlags(d.MailboxFlags[name]),
		})
	}
	p.Redirects = append(p.Redirects, d.RedirectAddr...)
	p.Keep = d.Keep || d.ImplicitKeep
	switch {
	case d.Keep:
		p.KeepFlags = imapFlags(d.KeepFlags)
	case p.Keep:
		// RFC 5232 3: the implicit keep stores the message with the
		// internal variable's final value.
		p.KeepFlags = imapFlags(d.Flags)
	}
	for _, r := range d.VacationResponses {
		p.Vacation = vacationOf(r)
	}
	if d.Rejected {
		// RFC 5429 2.3: reject is incompatible with vacation, and we
		// refuse it beside any action that delivers the message.
		if p.Vacation != nil {
			return Plan{}, errors.E(op, errors.Invalid, runError("reject cannot be combined with vacation"))
		}
		if d.Keep || len(p.FileInto) > 0 || len(p.Redirects) > 0 {
			return Plan{}, errors.E(op, errors.Invalid, runError("reject cannot be combined with keep, fileinto or redirect"))
		}
		p.Reject, p.RejectSMTP = d.Reject, d.RejectExtended
		if p.Reject == "" {
			p.Reject = "rejected"
		}
	}
	p.Discard = !p.Keep && len(p.FileInto) == 0 && len(p.Redirects) == 0 && !d.Rejected
	return p, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// validMailbox refuses names no store could hold: empty, not UTF-8,
// control characters, longer than 1,000 bytes.
func validMailbox(name string) bool {
	if name == "" || len(name) > 1000 || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// policy answers the library's questions of the account.
type policy struct {
	exists func(ctx context.Context, name string) (bool, error)
}

// RedirectAllowed refuses a redirect to anything but a bare address
// (RFC 5228 4.2: the argument is an RFC 5322 address).
func (p policy) RedirectAllowed(_ context.Context, _ *interp.RuntimeData, addr string) (bool, error) {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(addr) {
		return false, runError("redirect: invalid address")
	}
	return true, nil
}

func (p policy) MailboxExists(ctx context.Context, name string) (bool, error) {
	if p.exists == nil {
		return true, nil
	}
	return p.exists(ctx, name)
}

var (
	_ interp.PolicyReader   = policy{}
	_ interp.MailboxChecker = policy{}
)

type envelope Envelope

func (e envelope) EnvelopeFrom() string { return e.From }
func (e envelope) EnvelopeTo() string   { return e.To }
func (e envelope) AuthUsername() string { return e.Auth }

// message is the library's view of a Message: its header parsed once, its
// body read when first asked for.
type message struct {
	header  header
	size    int
	body    func() (io.Reader, error)
	read    bool
	content []byte
	err     error
}

func newMessage(msg Message) (*message, error) {
	// A malformed header section yields the fields before the fault.
	h := parseFields(msg.Head, msg.Header)
	size := msg.Size
	if size > int64(^uint32(0)>>1) {
		size = int64(^uint32(0) >> 1)
	}
	return &message{header: h, size: int(size), body: msg.Body}, nil
}

func (m *message) HeaderGet(key string) ([]string, error) {
	return m.header.values(key), nil
}

func (m *message) MessageSize() int { return m.size }

func (m *message) BodyRaw() ([]byte, bool, error) {
	if m.body == nil {
		return nil, false, nil
	}
	if !m.read {
		m.read = true
		r, err := m.body()
		if err == nil {
			m.content, err = io.ReadAll(io.LimitReader(r, MaxBodySize))
		}
		if err != nil {
			m.err = errors.E(errors.Unavailable, errors.Str("reading the message body failed"))
		}
	}
	return m.content, m.err == nil, m.err
}
