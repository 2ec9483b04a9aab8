package server

import (
	"time"

	"github.com/sealpost/sealpost/internal/netlimit"
)

// connectionPool raises the descriptor limit to its hard limit and
// returns the bound all listeners share: limits.connections, or the
// descriptors less a reserve.
func (s *Server) connectionPool() *netlimit.Pool {
	nofile, err := netlimit.RaiseFileLimit()
	if err != nil {
		s.log.Warn("could not raise the descriptor limit", "err", err, "limit", nofile)
	}
	max := s.cfg.Limits.Connections
	if max == 0 {
		max = netlimit.Budget(nofile)
	}
	s.log.Info("connection limits", "descriptors", nofile, "connections", max,
		"per_listener", max*s.cfg.Limits.ListenerShare/100)
	return &netlimit.Pool{Max: int64(max)}
}

// listenerLimits are the bounds of the listener named name (as in
// config.Listen: smtp, submission, submissions, imap, imaps, web), and
// the line a refused client reads, in its protocol: RFC 5321 4.2.2's 421
// (enhanced code 4.7.0, RFC 3463), RFC 9051 7.1.5's BYE with RFC 5530's
// UNAVAILABLE, HTTP's 503. On an implicit-TLS port nothing is written.
func (s *Server) listenerLimits(name string, pool *netlimit.Pool) netlimit.Options {
	l := s.cfg.Limits
	o := netlimit.Options{
		Name: name, Pool: pool, Max: int(pool.Max) * l.ListenerShare / 100,
		FirstDeadline: l.HandshakeTime.D(), Log: s.log,
	}
	preAuth := func() {
		o.PreAuthPerSource, o.PreAuthLifetime = l.PreAuthPerSource, l.PreAuthTime.D()
	}
	switch name {
	case "smtp":
		o.PerSource = l.PerSource.MX
		o.Refusal = []byte("421 4.7.0 " + s.cfg.Hostname + " Too many connections, try again later\r\n")
	case "submission", "submissions":
		o.PerSource = l.PerSource.Submission
		preAuth()
		if name == "submission" {
			o.Refusal = []byte("421 4.7.0 " + s.cfg.Hostname + " Too many connections, try again later\r\n")
		}
	case "imap", "imaps":
		o.PerSource = l.PerSource.IMAP
		preAuth()
		if name == "imap" {
			o.Refusal = []byte("* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
		}
	case "managesieve":
		// An owner's Sieve editor: bounded as IMAP, its sibling (the same
		// logins, the same clients); RFC 5804 1.3's TRYLATER refusal.
		o.PerSource = l.PerSource.IMAP
		preAuth()
		o.Refusal = []byte("BYE (TRYLATER) \"Too many connections, try again later\"\r\n")
	case "web", "acme-http", "metrics":
		// The web app, and ACME's HTTP-01 responder (port 80): HTTP from
		// anyone, bounded as the web app; the metrics listener too, with
		// room for a scraper or two per source.
		o.PerSource = l.PerSource.Web
		if name == "metrics" {
			o.PerSource = metricsPerSource // a scraper or two
		}
		o.Refusal = []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	default:
		// A listener this switch does not know yet still faces the
		// Internet: bounded per source as the web app is, and said.
		o.PerSource = l.PerSource.Web
		s.log.Error("listener has no limits of its own: bounded per source as the web app", "listener", name)
	}
	if o.FirstDeadline == 0 {
		o.FirstDeadline = 10 * time.Second
	}
	return o
}
