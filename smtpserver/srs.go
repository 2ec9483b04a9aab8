package smtpserver

import (
	"context"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/srs"
)

// This file is the MX's side of the Sender Rewriting Scheme (package srs):
// mail we re-send for a user (a Sieve redirect) leaves with an envelope
// sender SRS0=HHHH=TT=example.com=bob@<our domain>, and a bounce sent
// back to that address arrives here. With Options.SRS set, a RCPT on the
// MX whose domain is hosted and whose local part has the SRS form is
// checked (srs.Reverse) and, if good, stands for the original sender: the
// message goes to the outbound queue addressed to it, with the null
// sender (postbox's Enqueue; a bounce is never bounced again), or, if the
// original is in a hosted domain, is delivered there as any mail.

// replySRSNotBounce refuses mail other than a bounce to an SRS address.
// A valid SRS address forwards to an address of the world outside, so
// taking anything else there would make the MX an open relay for whoever
// has seen one of our rewritten senders (they appear in every redirected
// message's Return-Path). Only delivery status notifications come back to
// a reverse-path, and those have the null sender (RFC 5321 4.5.5; RFC 3464
// 2), so that is all we take: what postsrsd's Postfix setups do too.
var replySRSNotBounce = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
	Message: "This address accepts only delivery status notifications (MAIL FROM:<>)"}

// srsRecipient looks at a RCPT in a hosted domain: to as given, addr
// normalized. If it is not an SRS address to check, it returns addr as it
// is, hosted. If it is, it returns the sender the address stands for,
// whether that one is hosted (normalized then, as the hosted recipient it
// is), and bounce true; or the reply refusing it: replySRSNotBounce for a
// sender other than the null one, and for an address that does not check
// (malformed, tampered with, expired) replyNoMailbox, as for an unknown
// user, after the same tarpit.
func (ss *session) srsRecipient(ctx context.Context, to, addr string) (rcpt string, hosted, bounce bool, e *smtp.SMTPError) {
	key := ss.s.opts.SRS
	at := strings.LastIndexByte(to, '@')
	if ss.s.opts.Mode != MX || key == nil || at < 0 || !srs.IsSRS(to[:at]) {
		return addr, true, false, nil
	}
	if ss.from != "" {
		ss.s.log.Debug("rcpt: SRS address for a message that is not a bounce", "remote", ss.ip, "rcpt", to)
		return "", false, false, replySRSNotBounce
	}
	orig, err := srs.Reverse(*key, to, ss.s.opts.Now())
	if err != nil {
		ss.s.log.Info("rcpt: SRS address refused", "remote", ss.ip, "err", err)
		ss.s.log.Debug("rcpt: SRS address refused", "remote", ss.ip, "rcpt", to)
		if d := ss.s.tarpit.unknown(ss.ip, ss.s.opts.Now()); d > 0 {
			ss.s.log.Info("rcpt: tarpit", "remote", ss.ip, "delay", d)
			wait(ss.s.ctx, d) // tarpit.go
		}
		return "", false, false, replyNoMailbox
	}
	ss.s.log.Debug("rcpt: SRS bounce", "remote", ss.ip, "rcpt", to, "original", orig)
	norm := sealpost.NormalizeAddress(orig)
	hosted, err = ss.s.svc.IsHostedDomain(ctx, sealpost.DomainOf(norm))
	switch {
	case err != nil:
		ss.s.log.Warn("rcpt: domain lookup failed", "remote", ss.ip, "err", err)
		return "", false, false, reply(err)
	case hosted:
		return norm, true, true, nil
	}
	return orig, false, true, nil
}
