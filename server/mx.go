package server

import (
	"log/slog"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mailauth"
	"github.com/sealpost/sealpost/resolver"
	"github.com/sealpost/sealpost/smtpserver"
)

// This file wires DNS for mail and the MX's authentication of arriving mail
// (package mailauth).

// openResolver builds the process's one DNS resolver from cfg.DNS. With no
// servers configured it reads /etc/resolv.conf; if that names none, it
// returns nil (logged) rather than fail, since only the MX's checks and
// outbound delivery need DNS, and Start refuses to run those without it.
func openResolver(cfg config.Config, log *slog.Logger) (*resolver.Resolver, error) {
	r, err := resolver.New(resolver.Options{Servers: cfg.DNS.Servers, Timeout: cfg.DNS.Timeout.D(), TrustAD: cfg.DNS.TrustAD})
	if err != nil && len(cfg.DNS.Servers) == 0 {
		log.Warn("no DNS resolver: /etc/resolv.conf names no server and [dns] servers is empty", "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, errors.E("server.openResolver", err)
	}
	return r, nil
}

// mxChecker returns the checker of the MX listener: SPF, DKIM and DMARC
// through s.Resolver, our own domains as the router knows them, the
// configured trusted relays. It returns nil when [mx] no_auth_checks is
// set, and an Invalid error when there is no resolver to check with.
func (s *Server) mxChecker() (smtpserver.Checker, error) {
	const op = "server.mxChecker"
	if s.cfg.MX.NoAuthChecks {
		s.log.Warn("the MX does not authenticate mail ([mx] no_auth_checks): forged senders are delivered")
		return nil, nil
	}
	if s.Resolver == nil {
		return nil, errors.E(op, errors.Invalid,
			errors.Str("the MX needs DNS to check SPF, DKIM and DMARC: set [dns] servers (or --dns), or [mx] no_auth_checks"))
	}
	c, err := mailauth.New(mailauth.Options{
		Hostname:      s.cfg.Hostname,
		Resolver:      s.Resolver,
		Hosted:        s.Router.IsHostedDomain,
		TrustedRelays: s.cfg.MX.TrustedRelayPrefixes(),
	})
	if err != nil {
		return nil, errors.E(op, err)
	}
	s.log.Info("the MX checks SPF, DKIM and DMARC", "dns", s.Resolver.Servers(), "trusted_relays", len(s.cfg.MX.TrustedRelays))
	return c, nil
}
