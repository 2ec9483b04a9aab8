package smtpserver

import (
	"context"
	stderrors "errors"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/postbox"
)

// Replies this package gives. Every reply carries an RFC 2034 enhanced
// status code (RFC 3463 names them).
var (
	replyRelayDenied = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Relaying denied: this server accepts mail only for its own domains"}
	replyNoMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such user here"}
	replyBadAddress = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3},
		Message: "Bad address syntax"}
	replyPathTooLong = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3},
		Message: "Path too long (RFC 5321 4.5.3.1.3)"}
	replyNeedUTF8 = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7},
		Message: "Non-ASCII address requires the SMTPUTF8 parameter on MAIL"}
	// replyOversizedSource: tarpit.go.
	replyOversizedSource = &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many oversized messages from your address, try again later"}
	replyTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message too big for system"}
	replyAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "Authentication required"}
	replyNotYourAddress = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Sender address is not the authenticated user's address"}
	replyNotYourFrom = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "The From: header is not the authenticated user's address"}
	replyNoFrom = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "The message has no valid From: header (RFC 5322 3.6.2)"}
	replyTempFailure = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Local error in processing, try again later"}
	replyRejected = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Message rejected"}
	replyDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Delivery not authorized"}
	replyShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "Service shutting down, try again later"}
	replyNeedMail = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1},
		Message: "Bad sequence of commands: MAIL first"}
	replyNoRecipients = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1},
		Message: "No valid recipients"}
	replyInternal = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Internal server error"}
)

// reply maps an error from postbox to a generic SMTP reply; the error
// itself goes to the log by the caller.
func reply(err error) *smtp.SMTPError {
	var ref *postbox.Refusal
	if stderrors.As(err, &ref) {
		// The recipient's filter refused it (a Sieve reject, RFC 5429
		// 2.1.1, or spam far above the threshold): its reason is the
		// reply, which the sender's server turns into a bounce.
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: ref.ReplyText()}
	}
	switch errors.KindOf(err) {
	case errors.Invalid:
		return replyRejected
	case errors.TooLarge:
		return replyTooLarge
	case errors.NotExist:
		return replyNoMailbox
	case errors.Permission:
		return replyDenied
	case errors.OverQuota:
		return quotaReply(err)
	}
	return replyTempFailure // Unavailable, Internal, and anything unexpected
}

type backend struct{ s *Server }

// NewSession is called on each EHLO/HELO that starts a session (again
// after STARTTLS, which resets the session, RFC 3207 4.2).
func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	sess := &session{s: b.s, conn: c, netConn: c.Conn(), ip: remoteIP(c.Conn())}
	if ip, ok := netip.AddrFromSlice(sess.ip); ok {
		sess.bl = b.s.dnsbl.start(ip.Unmap()) // dnsbl.go: waited for at MAIL
	}
	if b.s.opts.Mode == Submission {
		return &submissionSession{sess}, nil
	}
	return sess, nil
}

// session is one SMTP session; go-smtp calls its methods from one goroutine
// at a time. Every method recovers its own panics, so that one client
// cannot take the server down.
type session struct {
	s       *Server
	conn    *smtp.Conn
	netConn net.Conn // the connection as it was when the session began
	ip      net.IP   // the client's address
	bl      *blEntry // the client's DNSBL lookups (dnsbl.go), nil if none

	acct         *sealpost.Account // authenticated user (submission)
	authFailures int

	// The transaction (RFC 5321 3.3), cleared by Reset.
	from   string
	mail   bool // MAIL succeeded
	utf8   bool
	size   int64    // declared with MAIL's SIZE (RFC 1870), 0 if not
	local  []string // normalized hosted recipients
	remote []string // recipients elsewhere: normalized (submission), or as an SRS address gave them (srs.go)
	junk   bool     // quarantined by the MX's checks (authcheck.go)
}

// submissionSession adds AUTH (see auth.go); MX sessions do not offer it.
type submissionSession struct{ *session }

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*submissionSession)(nil)
)

// recover turns a panic in a session method into a 421 reply.
func (ss *session) recover(errp *error) {
	if v := recover(); v != nil {
		ss.s.panics.Add(1)
		ss.s.log.Error("panic in SMTP session", "remote", ss.ip, "panic", v, "stack", string(debug.Stack()))
		if errp != nil {
			*errp = replyInternal
		}
	}
}

func (ss *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(ss.s.ctx, opTimeout)
}

// Reset discards the transaction (RSET, a new EHLO, or the end of DATA).
func (ss *session) Reset() {
	defer ss.recover(nil)
	ss.from, ss.mail, ss.utf8, ss.size, ss.local, ss.remote, ss.junk = "", false, false, 0, nil, nil, false
}

// Logout ends the session.
func (ss *session) Logout() error {
	defer ss.recover(nil)
	ss.Reset()
	ss.acct = nil
	return nil
}

// Mail starts a transaction (RFC 5321 4.1.1.2). Size and parameters were
// checked by go-smtp (SIZE over the limit: 552 5.3.4, RFC 1870 6).
func (ss *session) Mail(from string, opts *smtp.MailOptions) (err error) {
	defer ss.recover(&err)
	ss.Reset()
	if e := ss.checkDNSBL(); e != nil {
		return e
	}
	if ss.acct == nil && ss.s.tarpit.sendsOversized(ss.ip, ss.s.opts.Now) {
		ss.s.log.Info("mail refused: oversized messages from this source", "remote", ss.ip)
		return replyOversizedSource
	}
	utf8Mail := opts != nil && opts.UTF8
	if e := checkPath(from, utf8Mail); e != nil {
		return e
	}
	if ss.s.opts.Mode == Submission {
		// RFC 6409 4.3 and 6.1: the MSA authenticates the submitter and
		// may refuse a sender address the user does not own.
		if ss.acct == nil {
			return replyAuthRequired
		}
		if sealpost.NormalizeAddress(from) != ss.acct.Address {
			ss.s.log.Debug("sender not owned", "remote", ss.ip, "from", from, "user", ss.acct.Address)
			return replyNotYourAddress
		}
	}
	ss.from, ss.mail, ss.utf8 = from, true, utf8Mail
	if opts != nil {
		ss.size = opts.Size
	}
	return nil
}

// Rcpt adds a recipient (RFC 5321 4.1.1.3). go-smtp enforces
// MaxRecipients with 452 4.5.3 (RFC 5321 4.5.3.1.10).
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) (err error) {
	defer func() { ss.s.stats.record(StageRcpt, err) }() // after recover
	defer ss.recover(&err)
	if !ss.mail { // go-smtp keeps its own state even when our Mail refused
		return replyNeedMail
	}
	if e := checkPath(to, ss.utf8); e != nil {
		return e
	}
	addr := sealpost.NormalizeAddress(to)
	domain := sealpost.DomainOf(addr)
	if !validDomain(domain) {
		return replyBadAddress
	}
	ctx, cancel := ss.ctx()
	defer cancel()
	hosted, herr := ss.s.svc.IsHostedDomain(ctx, domain)
	if herr != nil {
		ss.s.log.Warn("rcpt: domain lookup failed", "remote", ss.ip, "err", herr)
		return reply(herr)
	}
	bounce := false // a bounce to an SRS address, for the sender it stands for (srs.go)
	if hosted {
		var e *smtp.SMTPError
		if addr, hosted, bounce, e = ss.srsRecipient(ctx, to, addr); e != nil {
			return e
		}
	}
	switch {
	case hosted:
		if _, lerr := ss.s.svc.LookupRecipient(ctx, addr); errors.Is(errors.NotExist, lerr) {
			ss.s.log.Debug("rcpt: no such user", "remote", ss.ip, "rcpt", addr)
			if d := ss.s.tarpit.unknown(ss.ip, ss.s.opts.Now()); d > 0 {
				ss.s.log.Info("rcpt: tarpit", "remote", ss.ip, "delay", d)
				wait(ss.s.ctx, d) // tarpit.go
			}
			return replyNoMailbox
		} else if lerr != nil {
			ss.s.log.Warn("rcpt: account lookup failed", "remote", ss.ip, "err", lerr)
			return reply(lerr)
		}
		if qerr := ss.s.svc.CheckQuota(ctx, addr, ss.size); qerr != nil {
			ss.s.log.Info("rcpt refused", "remote", ss.ip, "rcpt", addr, "err", qerr)
			return reply(qerr)
		}
		if e := ss.checkGreylist(ctx, addr); e != nil { // greylist.go: the last check
			return e
		}
		if !slices.Contains(ss.local, addr) {
			ss.local = append(ss.local, addr)
		}
	case ss.s.opts.Mode == Submission || bounce:
		// RFC 6409 4.3: an authenticated user may send anywhere; a
		// checked SRS address stands for the sender it rewrote.
		if bounce {
			if e := ss.checkGreylist(ctx, addr); e != nil {
				return e
			}
		}
		if !slices.Contains(ss.remote, addr) {
			ss.remote = append(ss.remote, addr)
		}
	default:
		// RFC 5321 3.6.2: an MX that is not a relay refuses other domains.
		ss.s.log.Debug("rcpt: relaying denied", "remote", ss.ip, "rcpt", addr)
		return replyRelayDenied
	}
	ss.s.log.Debug("rcpt accepted", "remote", ss.ip, "rcpt", addr)
	return nil
}

// Data receives the message and answers only when it is durable (RFC 5321
// 4.1.1.4: the 250 reply takes responsibility for the message).
func (ss *session) Data(r io.Reader) (err error) {
	defer func() { ss.s.stats.record(StageData, err) }() // after recover
	defer ss.recover(&err)
	if !ss.s.begin() {
		return replyShuttingDown
	}
	defer ss.s.active.Done()
	start := time.Now()
	// go-smtp checks the sequence, but keeps recipients across a refused
	// or repeated MAIL; ours were reset then.
	if !ss.mail {
		return replyNeedMail
	}
	if len(ss.local)+len(ss.remote) == 0 {
		return replyNoRecipients
	}
	run := ss.beginAuth() // authcheck.go: nil unless checking
	var tap bodyTap
	if run != nil {
		defer run.Abort()
		tap = run
	}
	m, err := receive(&deadlineReader{r: r, c: ss.netConn, d: ss.s.opts.ReadTimeout}, ss.s.opts.MaxMessageSize, ss.s.opts.TempDir, tap)
	if err != nil {
		var de errDisk
		if stderrors.As(err, &de) {
			ss.s.log.Warn("message not received", "remote", ss.ip, "err", de.err)
			return replyTempFailure
		}
		ss.s.log.Info("message refused", "remote", ss.ip, "reason", err.Error())
		if err == replyTooLarge && ss.acct == nil {
			ss.s.tarpit.oversized(ss.ip, ss.s.opts.Now()) // tarpit.go
		}
		return err
	}
	defer m.discard()
	id := ss.s.newID()
	now := ss.s.opts.Now()
	header := m.header
	if ss.s.opts.Mode == Submission {
		if e := ss.checkFrom(header); e != nil {
			ss.s.log.Info("message refused", "remote", ss.ip, "reason", e.Message)
			return e
		}
		header = addSubmissionHeaders(header, now, ss.s.opts.Hostname)
	}
	header, ar, junk, auth, err := ss.authCheck(id, header, run)
	if err != nil {
		return err
	}
	ss.junk = junk
	trace := ss.receivedHeader(id, now)
	full := composed{head: append(append(append(make([]byte, 0, len(ar)+len(trace)+len(header)), ar...), trace...), header...), m: m}

	ctx, cancel := ss.ctx()
	defer cancel()
	if err := ss.store(ctx, full, composed{head: header, m: m}); err != nil {
		ss.s.log.Warn("message not stored", "remote", ss.ip, "id", id, "err", err)
		return reply(err)
	}
	ss.s.log.Info("message accepted", "remote", ss.ip, "id", id, "size", full.Size(),
		"local", len(ss.local), "remote_rcpts", len(ss.remote), "dur", time.Since(start), auth)
	return nil
}

// store makes the message durable everywhere it goes. On submission, if
// the account keeps server copies (AccountSettings.SaveSent; mail clients
// save their own with APPEND, so it is off by default), the sender's Sent
// copy is filed first: if a later step fails the client retries, and the
// only duplicate is in the sender's own Sent folder.
func (ss *session) store(ctx context.Context, full, msg postbox.Message) error {
	if ss.acct != nil && ss.acct.Settings.SaveSent {
		// The Sent copy is the message as submitted (with the fields of
		// RFC 6409 8.2 and 8.3 if they were missing), without the trace
		// header, which describes its transfer to the recipients.
		if err := ss.s.svc.AppendByUse(ctx, *ss.acct, sealpost.UseSent, msg, []sealpost.Flag{`\Seen`}); err != nil {
			return err
		}
	}
	if len(ss.local) > 0 {
		env := postbox.Envelope{From: ss.from, Recipients: ss.local, Junk: ss.junk, Client: ss.clientAddr(), Helo: ss.helo()}
		if err := ss.s.svc.Deliver(ctx, env, full); err != nil {
			return err
		}
	}
	if len(ss.remote) > 0 {
		if ss.acct == nil && ss.from != "" { // cannot happen: only submission, or a bounce to an SRS address, takes remote recipients
			return errors.E("smtpserver.store", errors.Internal, errors.Str("remote recipients without authentication"))
		}
		if err := ss.s.svc.Enqueue(ctx, ss.from, ss.remote, full); err != nil {
			return err
		}
	}
	return nil
}

// checkPath applies RFC 5321 4.5.3.1.3 (path length) and RFC 6531 3.4
// (non-ASCII only with SMTPUTF8) to an envelope address; "" is the null
// reverse-path.
func checkPath(addr string, utf8Allowed bool) *smtp.SMTPError {
	if len(addr) > 254 { // 256 octets with the angle brackets
		return replyPathTooLong
	}
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		if c < 0x20 || c == 0x7f {
			return replyBadAddress
		}
		if c >= 0x80 && !utf8Allowed {
			return replyNeedUTF8
		}
	}
	if !utf8.ValidString(addr) {
		return replyBadAddress
	}
	return nil
}

// validDomain reports whether d is a domain name (RFC 5321 4.1.2 Domain,
// with U-labels allowed, RFC 6531 3.3) or an address literal.
func validDomain(d string) bool {
	if d == "" || len(d) > 255 {
		return false
	}
	if d[0] == '[' {
		return d[len(d)-1] == ']'
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			ok := r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80
			if !ok {
				return false
			}
		}
	}
	return true
}

// deadlineReader renews the connection's read deadline before each read of
// message data: go-smtp sets it only when reading a command line, so
// without this a large message would have to arrive within one
// ReadTimeout. go-smtp's data reader returns only when it has filled the
// buffer it was given, so reads are cut to dataChunk bytes: a client must
// send at least that much per ReadTimeout.
type deadlineReader struct {
	r io.Reader
	c net.Conn
	d time.Duration
}

const dataChunk = 1024

func (d *deadlineReader) Read(p []byte) (int, error) {
	if len(p) > dataChunk {
		p = p[:dataChunk]
	}
	if d.c != nil {
		d.c.SetReadDeadline(time.Now().Add(d.d))
	}
	return d.r.Read(p)
}
