// Package certs is the server's certificate source: the one
// tls.Config.GetCertificate callback behind every public TLS listener
// (SMTP's STARTTLS, 465 and 587, IMAP's 143 and 993, ManageSieve, the web
// app and the MTA-STS and autoconfig hosts it serves). A source is one of
//   - Files: a certificate and key in PEM files, read again when they
//     change (polled) or when Reload is called (SIGHUP); a pair that does
//     not load is logged and the previous one kept;
//   - ACME: certificates issued and renewed by an ACME CA (RFC 8555) on
//     golang.org/x/crypto/acme/autocert, for the names a Policy allows,
//     answering HTTP-01 (RFC 8555 8.3) on an HTTP handler and TLS-ALPN-01
//     (RFC 8737) in the handshake;
//   - Static: one certificate for the process's life (the self-signed
//     demo).
//
// Every handshake asks the source afresh, so a reloaded or renewed
// certificate is served to the next connection without a restart.
package certs

import (
	"crypto/tls"
	"slices"

	"golang.org/x/crypto/acme"
)

// Source gives the certificate of each handshake. Implementations are safe
// for concurrent use.
type Source interface {
	// GetCertificate is tls.Config.GetCertificate: the certificate for
	// the client's hello, or an error that fails the handshake.
	GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
	// AnswersALPN01 reports whether the source answers ACME TLS-ALPN-01
	// validations (RFC 8737), so that the acme-tls/1 protocol is offered
	// to a validator's hello.
	AnswersALPN01() bool
	// Close stops the source's background work (polling, renewals).
	Close() error
}

// Apply makes cfg take its certificates from src: cfg's GetCertificate
// asks src, and a hello that offers only acme-tls/1 (RFC 8737 3: the CA's
// validation) gets a copy of cfg negotiating that protocol, when src
// answers such validations. No other hello sees acme-tls/1 offered, so a
// client that asks for an application protocol we do not speak ("imap",
// "smtp") is not refused for it (RFC 7301 3.2). The validator's copy is
// made here: what a listener later sets on its own clone of cfg (netlimit's
// handshake bound) does not reach it, so a validation connection is closed
// at that listener's first deadline, which is all it needs.
func Apply(cfg *tls.Config, src Source) {
	cfg.Certificates = nil
	cfg.GetCertificate = src.GetCertificate
	if !src.AnswersALPN01() {
		return
	}
	alpn := cfg.Clone()
	alpn.NextProtos = []string{acme.ALPNProto}
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if isALPN01(hello) {
			return alpn, nil
		}
		return nil, nil
	}
}

// isALPN01 reports whether hello is a TLS-ALPN-01 validation: RFC 8737 3
// has the CA offer acme-tls/1 and nothing else.
func isALPN01(hello *tls.ClientHelloInfo) bool {
	return slices.Equal(hello.SupportedProtos, []string{acme.ALPNProto})
}

// Static serves one certificate to every hello.
type Static struct{ cert *tls.Certificate }

var _ Source = (*Static)(nil)

// NewStatic returns a source that always serves cert.
func NewStatic(cert tls.Certificate) *Static { return &Static{&cert} }

// GetCertificate implements Source.
func (s *Static) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert, nil }

// AnswersALPN01 implements Source: no.
func (s *Static) AnswersALPN01() bool { return false }

// Close implements Source.
func (s *Static) Close() error { return nil }
