package smtpserver

import (
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"net/netip"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/netlimit"
)

// maxAuthFailures is how many failed AUTH attempts a connection gets before
// every further attempt is refused without checking the password.
const maxAuthFailures = 3

var (
	replyAuthFailed   = smtp.ErrAuthFailed // 535 5.7.8, RFC 4954 6
	replyAuthTempFail = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Temporary authentication failure"}
	replyAuthTooMany = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many failed authentication attempts, closing"}
)

// AuthMechanisms lists the SASL mechanisms offered (RFC 4954). go-smtp
// offers them only over TLS (AllowInsecureAuth is false) and refuses AUTH
// on a cleartext connection with 523 5.7.10.
func (ss *submissionSession) AuthMechanisms() []string {
	return []string{sasl.Plain, sasl.Login}
}

// Auth starts a SASL exchange: PLAIN (RFC 4616) or LOGIN
// (draft-murchison-sasl-login), both checked with postbox.Authenticate.
func (ss *submissionSession) Auth(mech string) (srv sasl.Server, err error) {
	defer ss.recover(&err)
	if ss.authFailures >= maxAuthFailures {
		return nil, replyAuthTooMany
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			// RFC 4616 2: an authorization identity other than the
			// user's own is not supported.
			if identity != "" && sealpost.NormalizeAddress(identity) != sealpost.NormalizeAddress(username) {
				ss.authFailures++
				return replyAuthFailed
			}
			return ss.authenticate(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{auth: ss.authenticate}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// authenticate checks a user name (the account's address) and password.
// The password is never logged; the user name only at debug level.
func (ss *submissionSession) authenticate(username, password string) (err error) {
	defer ss.recover(&err)
	ctx, cancel := ss.ctx()
	defer cancel()
	src, _ := netip.AddrFromSlice(ss.ip)
	ctx = sealpost.WithClient(ctx, sealpost.Client{Source: src.Unmap(), Service: sealpost.ServiceSubmission})
	acct, err := ss.s.svc.Authenticate(ctx, username, password)
	switch {
	case err == nil:
		ss.acct = &acct
		netlimit.Promote(ss.conn.Conn()) // out of the listener's unauthenticated bounds
		ss.s.log.Info("authenticated", "remote", ss.ip)
		ss.s.log.Debug("authenticated user", "remote", ss.ip, "user", acct.Address)
		return nil
	case errors.Is(errors.Permission, err):
		ss.authFailures++
		ss.s.log.Info("authentication failed", "remote", ss.ip, "failures", ss.authFailures)
		ss.s.log.Debug("authentication failed for user", "remote", ss.ip, "user", username)
		return replyAuthFailed
	case errors.Is(errors.Unavailable, err):
		// The login queue is full or the penalty outlasted the command.
		ss.s.log.Info("authentication deferred", "remote", ss.ip, "err", err)
		return replyAuthTempFail
	default:
		ss.s.log.Warn("authentication error", "remote", ss.ip, "err", err)
		return replyAuthTempFail
	}
}

// loginServer is the server side of the LOGIN mechanism, which go-sasl
// lacks: the server asks "Username:", then "Password:"; a client may send
// the user name as the initial response.
type loginServer struct {
	step int
	user string
	auth func(user, pass string) error
}

var _ sasl.Server = (*loginServer)(nil)

func (l *loginServer) Next(resp []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		if resp == nil {
			l.step = 1
			return []byte("Username:"), false, nil
		}
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.auth(l.user, string(resp))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}
