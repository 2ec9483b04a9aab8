package smtpserver

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/mailauth"
)

// This file is the MX's authentication of arriving mail (package mailauth):
// SPF, DKIM and DMARC, begun when the data starts and fed the message as
// it arrives (SPF and the DMARC policy are looked up meanwhile, DKIM
// hashes the body), completed when the data has ended and before anything
// is sealed or stored. Submission is authenticated and never checked.

// Checker authenticates a message arriving at the MX; *mailauth.Checker is
// one. Begin must be safe for concurrent use, and the Run's Finish never
// block for long (it bounds its own DNS lookups).
type Checker interface {
	Begin(ctx context.Context, env mailauth.Envelope) *mailauth.Run
}

var _ Checker = (*mailauth.Checker)(nil)

var (
	// Reject: RFC 7489 10.3 suggests 550 5.7.1 for a DMARC rejection. The
	// same generic text serves our own domains' rule and a From: field
	// naming no single author; the detail goes to the log.
	replyDMARCRejected = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Message rejected: sender authentication (SPF, DKIM, DMARC) failed"}
	// TempFail: a DNS answer the outcome depends on could not be had.
	replyDMARCTempFail = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Sender authentication (DMARC) could not be completed, try again later"}
)

// authCheck runs the Checker on a message received over MX. It returns the
// message without any Authentication-Results: field that claims our name
// (RFC 8601 section 5), the field to prepend to it (above Received:),
// whether the message is quarantined (filed in Junk), the outcome for the
// message's log line (one line per message: the caller logs it with the
// delivery), or the reply refusing it, logged here. Without a Checker, or
// on submission, it does nothing and the outcome is the empty Attr, which
// slog leaves out.
//
// data is the message's header section; run (from beginAuth) has been
// given the message as it arrived.
func (ss *session) authCheck(id string, data []byte, run *mailauth.Run) (msg, header []byte, junk bool, outcome slog.Attr, err error) {
	if run == nil {
		return data, nil, false, slog.Attr{}, nil
	}
	res := run.Finish()

	dkim := make([]string, len(res.DKIM))
	for i, d := range res.DKIM {
		dkim[i] = string(d.Result)
	}
	outcome = slog.Group("auth", "verdict", res.Verdict.String(), "reason", res.Reason,
		"trusted", res.Trusted, "spf", string(res.SPF.Result), "dkim", dkim,
		"dmarc", string(res.DMARC.Result), "policy", res.DMARC.Policy)
	if res.Err != nil {
		ss.s.log.Warn("mail authentication incomplete", "remote", ss.ip, "id", id, "err", res.Err)
	}
	// Domains (of correspondents) only at debug.
	if ss.s.log.Enabled(ss.s.ctx, slog.LevelDebug) {
		dkimDomains := make([]string, len(res.DKIM))
		for i, d := range res.DKIM {
			dkimDomains[i] = d.Domain
		}
		ss.s.log.Debug("mail authentication domains", "remote", ss.ip, "id", id, "spf_domain", res.SPF.Domain,
			"from_domain", res.DMARC.From, "dkim_domains", dkimDomains)
	}

	switch res.Verdict {
	case mailauth.Reject:
		ss.s.log.Info("message refused", "remote", ss.ip, "id", id, outcome)
		return nil, nil, false, outcome, replyDMARCRejected
	case mailauth.TempFail:
		ss.s.log.Info("message deferred", "remote", ss.ip, "id", id, outcome)
		return nil, nil, false, outcome, replyDMARCTempFail
	}
	if res.Header != "" {
		data = mailauth.RemoveOwnResults(data, res.AuthServID)
	}
	return data, []byte(res.Header), res.Verdict == mailauth.Quarantine, outcome, nil
}

// beginAuth begins the check of the message whose data starts, or
// returns nil without a Checker or on submission. SPF needs only the
// envelope: it is evaluated while the data arrives.
func (ss *session) beginAuth() *mailauth.Run {
	c := ss.s.opts.Checker
	if ss.s.opts.Mode != MX || c == nil {
		return nil
	}
	ip, _ := netip.AddrFromSlice(ss.ip)
	return c.Begin(ss.s.ctx, mailauth.Envelope{IP: ip.Unmap(), Helo: ss.conn.Hostname(), MailFrom: ss.from})
}

// clientAddr is the client's address for the spam engines: zero on
// submission, whose authenticated senders' mail is not judged.
func (ss *session) clientAddr() netip.Addr {
	if ss.s.opts.Mode != MX {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(ss.ip)
	return a.Unmap()
}

// helo is the client's EHLO/HELO name, for the spam engines.
func (ss *session) helo() string { return ss.conn.Hostname() }
