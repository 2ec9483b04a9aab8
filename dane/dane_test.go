package dane_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/dane"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mtasts"
	"github.com/sealpost/sealpost/resolver"
)

const host = "mx.example.test"

// record returns the TLSA record usage/selector/matching of cert, its data
// computed by miekg/dns (not by the code under test).
func record(t *testing.T, usage, selector, matching uint8, cert *x509.Certificate) *dns.TLSA {
	t.Helper()
	data, err := dns.CertificateToDANE(selector, matching, cert)
	testkit.Must(t, err)
	return &dns.TLSA{Hdr: dns.RR_Header{Name: "_25._tcp." + host + ".", Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 300},
		Usage: usage, Selector: selector, MatchingType: matching, Certificate: data}
}

// rr writes a TLSA record as a zone-file line.
func rr(r *dns.TLSA) string { return r.String() }

func chain(c tls.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range c.Certificate {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		out = append(out, x)
	}
	return out
}

// DANE-EE (RFC 7672 3.1.1): the record pins the leaf, whatever its names
// and dates, with each selector and matching type.
func TestVerifyDANEEE(t *testing.T) {
	leaf := testenv.SelfSigned(t, time.Time{}, "some.other.name")
	expired := testenv.SelfSigned(t, time.Now().Add(-time.Hour), host)
	stranger := testenv.SelfSigned(t, time.Time{}, host)
	for _, sel := range []uint8{dane.SelectorCert, dane.SelectorSPKI} {
		for _, m := range []uint8{dane.MatchFull, dane.MatchSHA256, dane.MatchSHA512} {
			t.Run(fmt.Sprintf("3 %d %d", sel, m), func(t *testing.T) {
				r := record(t, dane.UsageDANEEE, sel, m, leaf.Leaf)
				testkit.Must(t, dane.Verify([]*dns.TLSA{r}, chain(leaf), host))
				upper := *r
				upper.Certificate = strings.ToUpper(r.Certificate)
				testkit.Must(t, dane.Verify([]*dns.TLSA{&upper}, chain(leaf), host))
				old := record(t, dane.UsageDANEEE, sel, m, expired.Leaf)
				testkit.Must(t, dane.Verify([]*dns.TLSA{old}, chain(expired), host))
				err := dane.Verify([]*dns.TLSA{r}, chain(stranger), host)
				testkit.WantKind(t, "a certificate the record does not describe", err, errors.Permission)
			})
		}
	}
	// One matching record among others is enough.
	records := []*dns.TLSA{record(t, 3, 1, 1, stranger.Leaf), record(t, 3, 1, 1, leaf.Leaf)}
	testkit.Must(t, dane.Verify(records, chain(leaf), host))
}

// DANE-TA (RFC 7672 3.1.2): the record pins a trust anchor the server
// sends; the leaf must chain to it, be in date and be valid for the host.
func TestVerifyDANETA(t *testing.T) {
	ca := testenv.NewCA(t)
	good := ca.Issue(t, time.Time{}, "mail.example.test", host)
	wildcard := ca.Issue(t, time.Time{}, "*.example.test")
	expired := ca.Issue(t, time.Now().Add(-time.Minute), host)
	byOther := testenv.NewCA(t).Issue(t, time.Time{}, host)
	for _, r := range []*dns.TLSA{record(t, 2, 0, 1, ca.Cert), record(t, 2, 1, 1, ca.Cert), record(t, 2, 1, 2, ca.Cert), record(t, 2, 0, 0, ca.Cert)} {
		records := []*dns.TLSA{r}
		name := fmt.Sprintf("2 %d %d", r.Selector, r.MatchingType)
		testkit.Must(t, dane.Verify(records, chain(good), host))
		testkit.Must(t, dane.Verify(records, chain(good), "MX.Example.Test."))
		testkit.Must(t, dane.Verify(records, chain(wildcard), host))
		for what, err := range map[string]error{
			"wrong name":            dane.Verify(records, chain(good), "mx.other.test"),
			"wildcard two labels":   dane.Verify(records, chain(wildcard), "a.mx.example.test"),
			"expired leaf":          dane.Verify(records, chain(expired), host),
			"anchor not sent":       dane.Verify(records, chain(good)[:1], host),
			"leaf of another CA":    dane.Verify(records, chain(byOther), host),
			"no certificate":        dane.Verify(records, nil, host),
			"the leaf as a DANE-EE": dane.Verify([]*dns.TLSA{record(t, 3, 1, 1, ca.Cert)}, chain(good), host),
		} {
			if !errors.Is(errors.Permission, err) {
				t.Errorf("%s, %s: %v, want Permission", name, what, err)
			}
		}
	}
}

// RFC 7672 3.1.3: PKIX-TA and PKIX-EE records are unusable for SMTP, and so
// are unknown selectors and matching types and malformed data; with only
// those, nothing verifies.
func TestUnusable(t *testing.T) {
	leaf := testenv.SelfSigned(t, time.Time{}, host)
	short := record(t, 3, 1, 1, leaf.Leaf)
	short.Certificate = short.Certificate[:40]
	notHex := record(t, 3, 1, 0, leaf.Leaf)
	notHex.Certificate = "zz" + notHex.Certificate[2:]
	unknownMatch := record(t, 3, 1, 1, leaf.Leaf)
	unknownMatch.MatchingType = 3
	unknownSel := record(t, 3, 1, 1, leaf.Leaf)
	unknownSel.Selector = 2
	unusable := []*dns.TLSA{record(t, 0, 0, 1, leaf.Leaf), record(t, 1, 1, 1, leaf.Leaf), short, notHex, unknownMatch, unknownSel}
	for _, r := range unusable {
		if dane.Usable(r) {
			t.Errorf("%s is usable", r)
		}
	}
	err := dane.Verify(unusable, chain(leaf), host)
	if !errors.Is(errors.Permission, err) || !strings.Contains(err.Error(), "no usable") {
		t.Errorf("Verify with only unusable records: %v", err)
	}
	testkit.Must(t, dane.Verify(append(unusable, record(t, 3, 1, 1, leaf.Leaf)), chain(leaf), host))
}

// dnsFor serves host's address and records over a real DNS server; trustAD
// configures the resolver, SetAD the server (a validating resolver's
// verdict).
func dnsFor(t *testing.T, trustAD bool, records ...string) (*testenv.DNS, *resolver.Resolver) {
	t.Helper()
	d := testenv.NewDNS(t, append([]string{host + ". 300 IN A 127.0.0.1"}, records...)...)
	r, err := resolver.New(resolver.Options{Servers: []string{d.Addr}, TrustAD: trustAD, CacheSize: -1})
	testkit.Must(t, err)
	return d, r
}

// RFC 7672 2.2: TLSA records count only in an authenticated answer, for a
// host whose addresses were authenticated; a lookup without an answer in a
// signed zone defers.
func TestLookup(t *testing.T) {
	ctx := context.Background()
	leaf := testenv.SelfSigned(t, time.Time{}, host)
	ee := record(t, 3, 1, 1, leaf.Leaf)
	pkix := record(t, 1, 1, 1, leaf.Leaf)

	d, r := dnsFor(t, true, rr(ee), rr(pkix))
	d.SetAD(true)
	p, err := dane.Lookup(ctx, r, "MX.example.test.", 25)
	testkit.Must(t, err)
	if !p.Applies || p.Host != host || len(p.Records) != 1 || p.Records[0].Usage != 3 {
		t.Fatalf("authenticated: %+v", p)
	}

	d.SetAD(false) // an unsigned zone
	if p, err := dane.Lookup(ctx, r, host, 25); err != nil || p.Applies {
		t.Fatalf("unauthenticated: %+v %v", p, err)
	}

	d2, untrusting := dnsFor(t, false, rr(ee))
	d2.SetAD(true)
	if p, err := dane.Lookup(ctx, untrusting, host, 25); err != nil || p.Applies {
		t.Fatalf("AD set but not trusted (no trust_ad): %+v %v", p, err)
	}

	d.SetAD(true)
	if p, err := dane.Lookup(ctx, r, host, 587); err != nil || p.Applies {
		t.Fatalf("no TLSA records for the port: %+v %v", p, err)
	}
	d.Fail("_25._tcp."+host, dns.RcodeServerFailure)
	_, err = dane.Lookup(ctx, r, host, 25)
	testkit.WantKind(t, "TLSA SERVFAIL in a signed zone", err, errors.Unavailable)
	d.SetAD(false)
	if p, err := dane.Lookup(ctx, r, host, 25); err != nil || p.Applies {
		t.Fatalf("TLSA SERVFAIL in an unsigned zone: %+v %v", p, err)
	}
	d.Fail(host, dns.RcodeServerFailure)
	_, err = dane.Lookup(ctx, r, host, 25)
	testkit.WantKind(t, "address lookups without an answer", err, errors.Unavailable)

	// Only unusable records: TLS mandatory, unauthenticated.
	d3, r3 := dnsFor(t, true, rr(pkix))
	d3.SetAD(true)
	if p, err := dane.Lookup(ctx, r3, host, 25); err != nil || !p.Applies || len(p.Records) != 0 {
		t.Fatalf("only unusable records: %+v %v", p, err)
	}
}

// handshake runs a real TLS handshake over loopback: a server with cert,
// a client with cfg. It returns the client's error.
func handshake(t *testing.T, cert tls.Certificate, cfg *tls.Config) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testkit.Must(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		s.SetDeadline(time.Now().Add(10 * time.Second))
		if s.Handshake() == nil {
			s.Read(make([]byte, 1)) // until the client closes
		}
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), cfg)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}

// opportunistic is the delivery code's base configuration: TLS when
// offered, any certificate (RFC 7435); the policies add their checks.
func opportunistic() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
}

// The tls.Config of an applying DANE policy completes a handshake only with
// a server whose certificate matches; found through real DNS.
func TestHandshake(t *testing.T) {
	ctx := context.Background()
	leaf := testenv.SelfSigned(t, time.Time{}, host)
	other := testenv.SelfSigned(t, time.Time{}, host)
	ca := testenv.NewCA(t)
	issued := ca.Issue(t, time.Time{}, host)
	d, r := dnsFor(t, true, rr(record(t, 3, 1, 1, leaf.Leaf)), rr(record(t, 2, 1, 1, ca.Cert)))
	d.SetAD(true)
	p, err := dane.Lookup(ctx, r, host, 25)
	testkit.Must(t, err)
	cfg := p.TLSConfig(opportunistic())
	if cfg.ServerName != host {
		t.Errorf("SNI %q, want %s", cfg.ServerName, host)
	}
	testkit.Must(t, handshake(t, leaf, cfg))
	testkit.Must(t, handshake(t, issued, cfg))
	if err := handshake(t, other, cfg); err == nil || !strings.Contains(err.Error(), "no TLSA record") {
		t.Errorf("handshake with a certificate no record matches: %v", err)
	}

	// Layered with an enforced MTA-STS policy, both checks must pass: a
	// DANE-EE self-signed certificate is not valid under WebPKI.
	sts := &mtasts.Policy{Mode: mtasts.Enforce, MX: []string{host}, MaxAge: time.Hour}
	base := opportunistic()
	base.RootCAs = ca.Pool
	both := p.TLSConfig(sts.TLSConfig(base, host))
	testkit.Must(t, handshake(t, issued, both))
	if err := handshake(t, leaf, both); err == nil {
		t.Error("a self-signed certificate passed an enforced MTA-STS policy")
	}

	// DANE that does not apply changes nothing: opportunistic TLS.
	d.SetAD(false)
	none, err := dane.Lookup(ctx, r, host, 25)
	testkit.Must(t, err)
	testkit.Must(t, handshake(t, other, none.TLSConfig(opportunistic())))
	// Only unusable records: TLS with any certificate.
	testkit.Must(t, handshake(t, other, dane.Policy{Host: host, Applies: true}.TLSConfig(opportunistic())))
}
