// Package dane owns DANE for outbound SMTP (RFC 7672, over RFC 6698 and
// RFC 7671): whether it applies to an MX host, and whether a server's
// certificate chain matches the host's TLSA records.
//
// DANE rests on DNSSEC: TLSA records count only when the answer was
// authenticated, which the resolver reports only when it is configured to
// trust a validating resolver's AD bit ([dns] trust_ad). Without that, DANE
// never applies, and delivery falls back to MTA-STS or opportunistic TLS.
//
// # What the delivery code does with it
//
// For each MX host (after MTA-STS has said it may be used), before
// connecting:
//
//	p, err := dane.Lookup(ctx, r, host, port)
//
// An error (Unavailable) means DNS could not say whether DANE applies to a
// host in a signed zone (RFC 7672 2.1.1, 2.2.3): skip the host, and defer the
// message if no host is left. Otherwise, if p.Applies:
//
//  1. TLS is mandatory: if the host offers no STARTTLS, or the handshake
//     fails, skip it; never send in plaintext.
//  2. Start TLS with p.TLSConfig(base) (base possibly already wrapped by
//     mtasts' Policy.TLSConfig): it sends the host as SNI and, when p has
//     usable records, fails the handshake unless Verify accepts the chain.
//     A failed verification skips the host, and the message is deferred
//     if no host is left.
//  3. If p.Records is empty (every record was of an unusable kind), TLS is
//     still mandatory but not authenticated (RFC 7672 2.2; Postfix's
//     "encrypt").
//
// If !p.Applies, DANE says nothing about the host: its TLS is what MTA-STS
// or opportunistic TLS makes it.
package dane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/resolver"
)

// TLSA certificate usages (RFC 7218 names), selectors and matching types.
const (
	UsagePKIXTA = 0 // unusable for SMTP (RFC 7672 3.1.3)
	UsagePKIXEE = 1 // unusable for SMTP (RFC 7672 3.1.3)
	UsageDANETA = 2
	UsageDANEEE = 3

	SelectorCert = 0 // the whole certificate (DER)
	SelectorSPKI = 1 // its SubjectPublicKeyInfo (DER)

	MatchFull   = 0
	MatchSHA256 = 1
	MatchSHA512 = 2
)

// Policy is what DANE says about one MX host.
type Policy struct {
	// Host is the MX host, the TLSA base domain: lower-case, without the
	// trailing dot.
	Host string
	// Applies: the host's TLSA records were found in an authenticated
	// answer, for a host whose addresses were authenticated too. TLS is
	// then mandatory (RFC 7672 2.2).
	Applies bool
	// Records are the usable records (Usable): the certificate must match
	// one. Empty when none is usable: TLS mandatory, unauthenticated.
	Records []*dns.TLSA
}

// Lookup says whether DANE applies to mxHost's SMTP service on port
// (RFC 7672 2.2):
//   - the host's address records (A, AAAA) are looked up first; if no
//     answer came, the error is Unavailable; if the answers were not
//     authenticated, the host's zone is not signed (or not trusted) and
//     DANE does not apply;
//   - then its TLSA records (_port._tcp.host); no answer is Unavailable
//     (a bogus or indeterminate answer in a signed zone: the host must not
//     be used without them, RFC 7672 2.1.1, 2.2.3); none, or an unauthenticated
//     answer, and DANE does not apply;
//   - otherwise it applies, with the usable records.
//
// The resolver caches answers, so the lookups the delivery code made
// already cost nothing more.
func Lookup(ctx context.Context, r *resolver.Resolver, mxHost string, port int) (Policy, error) {
	const op = "dane.Lookup"
	p := Policy{Host: strings.ToLower(strings.TrimSuffix(mxHost, "."))}
	// A secure answer for either address type means the host's zone is
	// signed. Asked separately (not with r.IPs, which is Authenticated only
	// when both are), so that an attacker who drops one question cannot
	// make a signed zone look unsigned.
	secure, answered := false, false
	var lastErr error
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		a, err := r.Lookup(ctx, p.Host, qtype)
		if err != nil {
			lastErr = err
			continue
		}
		answered = true
		secure = secure || a.Authenticated
	}
	if !answered {
		return p, errors.E(op, errors.Unavailable, lastErr)
	}
	if !secure {
		return p, nil
	}
	rrs, a, err := r.TLSA(ctx, p.Host, port)
	if err != nil {
		return p, errors.E(op, errors.Unavailable, err)
	}
	if len(rrs) == 0 || !a.Authenticated {
		return p, nil
	}
	p.Applies = true
	for _, rr := range rrs {
		if Usable(rr) {
			p.Records = append(p.Records, rr)
		}
	}
	return p, nil
}

// Usable reports whether a TLSA record can authenticate an SMTP server
// (RFC 7672 3.1): usage DANE-TA or DANE-EE (PKIX-TA and PKIX-EE are
// unusable for SMTP, 3.1.3), selector 0 or 1, matching type 0, 1 or 2 with
// data of the right form (hex; the digest's length).
func Usable(rr *dns.TLSA) bool {
	if rr.Usage != UsageDANETA && rr.Usage != UsageDANEEE {
		return false
	}
	if rr.Selector != SelectorCert && rr.Selector != SelectorSPKI {
		return false
	}
	data, err := hex.DecodeString(rr.Certificate)
	if err != nil {
		return false
	}
	switch rr.MatchingType {
	case MatchFull:
		return len(data) > 0
	case MatchSHA256:
		return len(data) == sha256.Size
	case MatchSHA512:
		return len(data) == sha512.Size
	}
	return false
}

// matches reports whether cert is what rr describes.
func matches(rr *dns.TLSA, cert *x509.Certificate) bool {
	in := cert.Raw
	if rr.Selector == SelectorSPKI {
		in = cert.RawSubjectPublicKeyInfo
	}
	switch rr.MatchingType {
	case MatchSHA256:
		sum := sha256.Sum256(in)
		in = sum[:]
	case MatchSHA512:
		sum := sha512.Sum512(in)
		in = sum[:]
	}
	want, err := hex.DecodeString(rr.Certificate)
	return err == nil && bytes.Equal(in, want)
}

// Verify checks a server's certificate chain (leaf first, as
// tls.ConnectionState.PeerCertificates) against the TLSA records of host,
// the TLSA base domain (RFC 7672 3.1). It succeeds if one usable record
// matches:
//   - DANE-EE (3): the record matches the leaf; the leaf's names and
//     validity dates are not checked (RFC 7672 3.1.1, 3.2.1);
//   - DANE-TA (2): the record matches a certificate of the chain (servers
//     must send their trust anchor, RFC 7672 3.1.2), the leaf chains to it
//     through the chain's other certificates, every certificate on the way
//     is within its validity dates, and the leaf is valid for host (RFC
//     7672 3.2.2, 3.2.3: its DNS names, "*." matching one label; the
//     subject's common name only if it has none).
//
// Records that are not Usable are ignored; with none usable, it fails. The
// error is Permission.
func Verify(records []*dns.TLSA, chain []*x509.Certificate, host string) error {
	const op = "dane.Verify"
	if len(chain) == 0 {
		return errors.E(op, errors.Permission, errors.Str("no certificate"))
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	usable := false
	var taErr error
	for _, rr := range records {
		if !Usable(rr) {
			continue
		}
		usable = true
		if rr.Usage == UsageDANEEE {
			if matches(rr, chain[0]) {
				return nil
			}
			continue
		}
		for i, c := range chain {
			if !matches(rr, c) {
				continue
			}
			if taErr = verifyToAnchor(chain, i, host); taErr == nil {
				return nil
			}
		}
	}
	switch {
	case !usable:
		return errors.E(op, errors.Permission, errors.Str("no usable TLSA record"))
	case taErr != nil:
		return errors.E(op, errors.Permission, taErr)
	}
	return errors.E(op, errors.Permission, errors.Errorf("no TLSA record of %s matches the certificate chain", host))
}

// verifyToAnchor checks that chain[0] chains to chain[ta] (the trust
// anchor a DANE-TA record matched), that every certificate on the way is
// valid now, and that the leaf is valid for host.
func verifyToAnchor(chain []*x509.Certificate, ta int, host string) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[ta])
	for i, c := range chain[1:] {
		if i+1 != ta {
			inter.AddCert(c)
		}
	}
	leaf := chain[0]
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: time.Now(),
		// SMTP servers' certificates need not say serverAuth.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return err
	}
	if len(leaf.DNSNames) == 0 {
		if strings.EqualFold(strings.TrimSuffix(leaf.Subject.CommonName, "."), host) {
			return nil
		}
		return errors.Errorf("certificate for %q, not %s", leaf.Subject.CommonName, host)
	}
	return leaf.VerifyHostname(host)
}

// TLSConfig returns a copy of base (nil: a zero Config) that applies p to
// a connection to p.Host. If p does not apply, the copy is unchanged.
// Otherwise ServerName is p.Host (SNI, RFC 7672 8.1), InsecureSkipVerify
// replaces Go's WebPKI check (a DANE-EE certificate need not satisfy it),
// and VerifyConnection runs Verify with p.Records (when there are any)
// before base's own VerifyConnection, e.g. mtasts' WebPKI check for an
// enforced policy: every check that applies must pass.
func (p Policy) TLSConfig(base *tls.Config) *tls.Config {
	c := &tls.Config{}
	if base != nil {
		c = base.Clone()
	}
	if !p.Applies {
		return c
	}
	c.ServerName = p.Host
	c.InsecureSkipVerify = true
	records, host, next := p.Records, p.Host, c.VerifyConnection
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(records) > 0 {
			if err := Verify(records, cs.PeerCertificates, host); err != nil {
				return err
			}
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
	return c
}
