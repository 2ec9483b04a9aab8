// Package domaincheck checks, from outside, what a hosted domain publishes
// for mail and what its mail host presents: MX, the MX host's addresses
// and their reverse DNS, SPF, DKIM, DMARC, MTA-STS, TLS reporting, the
// records clients configure themselves from, and the TLS certificates of
// SMTP (STARTTLS), submission and IMAP. It is pure policy over the I/O
// passed in (a resolver, a dialer): `sealpost check` runs it against the
// Internet, the tests against a DNS server and a server on loopback. Each
// item gives one Result: OK, WARN or FAIL, with what to do.
package domaincheck

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dmarc"
	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/resolver"
)

// Status is how an item fared.
type Status int

const (
	OK   Status = iota // as it should be
	Warn               // works, but should be improved
	Fail               // broken: mail is lost, refused or forgeable
)

func (s Status) String() string {
	return [...]string{"OK", "WARN", "FAIL"}[s]
}

// Result is what one item's check found.
type Result struct {
	Item   string // e.g. "MX", "SPF", "TLS imaps"
	Status Status
	Detail string // what was found
	Fix    string // what to do, when not OK
}

// String is the result as one line: status, item, what was found and, when
// not OK, what to do.
func (r Result) String() string {
	s := fmt.Sprintf("%-4s %-22s %s", r.Status, r.Item, r.Detail)
	if r.Fix != "" {
		s += " — " + r.Fix
	}
	return s
}

// Ports are the ports the mail host serves (0: not served, not checked).
type Ports struct {
	SMTP, Submissions, Submission, IMAPS, IMAP, ManageSieve int
	// HTTPS is the web app's port (MTA-STS, autoconfig), 443 on the
	// Internet.
	HTTPS int
}

// StandardPorts are the ports of RFC 5321 (25), RFC 8314 (465, 993), RFC
// 6409 (587), RFC 9051 (143), RFC 5804 (4190) and HTTPS (443).
func StandardPorts() Ports {
	return Ports{SMTP: 25, Submissions: 465, Submission: 587, IMAPS: 993, IMAP: 143, ManageSieve: 4190, HTTPS: 443}
}

// DKIMKey is a DKIM key record the domain should publish.
type DKIMKey struct {
	Selector string
	Value    string // the TXT value, as dkimsign.Records makes it
}

// Expect is what the domain should publish.
type Expect struct {
	Domain string // the mail domain
	Host   string // the mail host its MX names
	Ports  Ports
	// DKIM are the keys held for the domain (with access to the
	// configuration); each must be published as is. Without them, the
	// records of Selectors are checked to be present and parseable.
	DKIM      []DKIMKey
	Selectors []string
	// MTASTSID is the id the _mta-sts record should carry; "" accepts
	// any.
	MTASTSID string
}

// Options are the I/O the checks use.
type Options struct {
	Resolver *resolver.Resolver // required
	// DialContext connects to "host:port" once the host is resolved
	// (with Resolver) to an address; nil is a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs validate certificates; nil means the system's roots.
	RootCAs *x509.CertPool
	// Timeout bounds each network check (default 15 s).
	Timeout time.Duration
	// Now is the clock certificates' expiry is judged by.
	Now func() time.Time
}

// renewBefore: a certificate valid for less than this is a warning.
const renewBefore = 14 * 24 * time.Hour

// checker runs the checks of one domain.
type checker struct {
	e   Expect
	o   Options
	out []Result
	ips []netip.Addr // the mail host's addresses
}

func (c *checker) add(item string, st Status, detail, fix string) {
	c.out = append(c.out, Result{Item: item, Status: st, Detail: detail, Fix: fix})
}

// Check checks e's domain and returns one Result per item, in a fixed
// order. It fails only when the arguments are unusable.
func Check(ctx context.Context, e Expect, o Options) ([]Result, error) {
	const op = "domaincheck.Check"
	if o.Resolver == nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("no resolver"))
	}
	e.Domain = strings.ToLower(strings.TrimSuffix(e.Domain, "."))
	e.Host = strings.ToLower(strings.TrimSuffix(e.Host, "."))
	if _, ok := dns.IsDomainName(e.Domain); !ok || !strings.Contains(e.Domain, ".") {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("%q is not a domain", e.Domain))
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DialContext == nil {
		o.DialContext = (&net.Dialer{}).DialContext
	}
	c := &checker{e: e, o: o}
	c.mx(ctx)
	c.addresses(ctx)
	c.reverse(ctx)
	c.spf(ctx)
	c.dkim(ctx)
	c.dmarc(ctx)
	c.mtaSTS(ctx)
	c.tlsRPT(ctx)
	c.clients(ctx)
	c.certificates(ctx)
	return c.out, nil
}

// Failed reports whether any result is a FAIL.
func Failed(rs []Result) bool {
	return slices.ContainsFunc(rs, func(r Result) bool { return r.Status == Fail })
}

func fqdn(s string) string { return strings.ToLower(dns.Fqdn(s)) }

// mx: the domain's MX names the host (RFC 5321 5.1), and nothing else
// (another MX would receive mail this server never sees).
func (c *checker) mx(ctx context.Context) {
	mxs, _, err := c.o.Resolver.MX(ctx, c.e.Domain)
	fix := fmt.Sprintf("publish %q", c.e.Domain+". MX 10 "+c.e.Host+".")
	switch {
	case err != nil:
		c.add("MX", Fail, "no answer: "+err.Error(), "check the domain's name servers answer")
	case len(mxs) == 0:
		c.add("MX", Fail, "none: mail to "+c.e.Domain+" goes nowhere", fix)
	default:
		var names []string
		ours := false
		for _, m := range mxs {
			names = append(names, fmt.Sprintf("%d %s", m.Pref, strings.TrimSuffix(m.Host, ".")))
			ours = ours || fqdn(m.Host) == fqdn(c.e.Host)
		}
		switch {
		case !ours:
			c.add("MX", Fail, "points at "+strings.Join(names, ", ")+", not "+c.e.Host, fix+" instead")
		case len(mxs) > 1:
			c.add("MX", Warn, strings.Join(names, ", ")+": the others receive mail this server never sees", "remove the other MX records")
		default:
			c.add("MX", OK, names[0], "")
		}
	}
}

// addresses: the mail host has addresses (A/AAAA).
func (c *checker) addresses(ctx context.Context) {
	ips, _, err := c.o.Resolver.IPs(ctx, c.e.Host)
	if err != nil || len(ips) == 0 {
		c.add("A/AAAA", Fail, c.e.Host+" has no address", "publish A (and AAAA) records of "+c.e.Host)
		return
	}
	c.ips = ips
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	c.add("A/AAAA", OK, c.e.Host+" is "+strings.Join(s, ", "), "")
}

// reverse: each address of the host has a PTR record naming the host,
// which resolves back to it (forward-confirmed reverse DNS): receivers
// distrust mail from addresses without it.
func (c *checker) reverse(ctx context.Context) {
	for _, ip := range c.ips {
		item := "PTR " + ip.String()
		names, err := c.o.Resolver.LookupAddr(ctx, ip.String())
		fix := "ask the address's provider to set its reverse DNS (PTR) to " + c.e.Host
		if err != nil || len(names) == 0 {
			c.add(item, Fail, "no reverse DNS", fix)
			continue
		}
		if !slices.ContainsFunc(names, func(n string) bool { return fqdn(n) == fqdn(c.e.Host) }) {
			c.add(item, Fail, "names "+strings.Join(names, ", ")+", not "+c.e.Host, fix)
			continue
		}
		c.add(item, OK, "names "+c.e.Host+", which resolves back to it", "")
	}
}

// spf: one SPF record (RFC 7208 4.5), which passes the mail host's
// addresses (evaluated as a receiver would, RFC 7208 4) and ends in -all.
func (c *checker) spf(ctx context.Context) {
	txts, _, err := c.o.Resolver.TXT(ctx, c.e.Domain)
	if err != nil {
		c.add("SPF", Fail, "no answer: "+err.Error(), "check the domain's name servers answer")
		return
	}
	var recs []string
	for _, t := range txts {
		if t == "v=spf1" || strings.HasPrefix(strings.ToLower(t), "v=spf1 ") {
			recs = append(recs, t)
		}
	}
	fix := fmt.Sprintf("publish %q at %s", "v=spf1 mx -all", c.e.Domain)
	switch len(recs) {
	case 0:
		c.add("SPF", Fail, "no SPF record: anyone may send as "+c.e.Domain, fix)
		return
	case 1:
	default:
		c.add("SPF", Fail, "more than one SPF record (a permanent error, RFC 7208 4.5)", "keep one: "+fix)
		return
	}
	for _, ip := range c.ips {
		res, err := spf.CheckHostWithSender(net.IP(ip.AsSlice()), c.e.Host, "postmaster@"+c.e.Domain,
			spf.WithResolver(c.o.Resolver), spf.WithContext(ctx))
		if res != spf.Pass {
			detail := fmt.Sprintf("%q gives %s for %s", recs[0], res, ip)
			if err != nil {
				detail += " (" + err.Error() + ")"
			}
			c.add("SPF", Fail, detail, "allow the mail host: "+fix)
			return
		}
	}
	f := strings.Fields(strings.ToLower(recs[0]))
	switch last := f[len(f)-1]; {
	case last == "-all":
		c.add("SPF", OK, fmt.Sprintf("%q passes the mail host", recs[0]), "")
	case last == "~all":
		c.add("SPF", Warn, fmt.Sprintf("%q ends in ~all: forgeries only soft-fail", recs[0]), "end it with -all")
	default:
		c.add("SPF", Warn, fmt.Sprintf("%q does not end in -all: forgeries pass or stay neutral", recs[0]), "end it with -all")
	}
}

// dkimTags parses a DKIM key record (RFC 6376 3.6.1) into its tags.
func dkimTags(v string) map[string]string {
	tags := map[string]string{}
	for _, f := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(f, "=")
		if ok {
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(val), "")
		}
	}
	return tags
}

// dkim: each key held is published as is; without the keys, each named
// selector's record parses (RFC 6376 3.6.1: v=DKIM1, a known k=, p= a key).
func (c *checker) dkim(ctx context.Context) {
	if len(c.e.DKIM) == 0 && len(c.e.Selectors) == 0 {
		c.add("DKIM", Warn, "no selector to check", "run with --config (the keys held) or --dkim-selector")
		return
	}
	for _, k := range c.e.DKIM {
		name := k.Selector + "._domainkey." + c.e.Domain
		txts, _, err := c.o.Resolver.TXT(ctx, name)
		fix := "publish the record 'sealpost domain records " + c.e.Domain + "' prints for " + k.Selector
		want := dkimTags(k.Value)["p"]
		switch {
		case err != nil:
			c.add("DKIM "+k.Selector, Fail, "no answer: "+err.Error(), "check the domain's name servers answer")
		case len(txts) == 0:
			c.add("DKIM "+k.Selector, Fail, "no record at "+name+": signatures do not verify", fix)
		case len(txts) > 1 || dkimTags(txts[0])["p"] != want:
			c.add("DKIM "+k.Selector, Fail, "the record at "+name+" is not the key held here", fix+" (and only it)")
		default:
			c.add("DKIM "+k.Selector, OK, "the key held here is published", "")
		}
	}
	for _, sel := range c.e.Selectors {
		name := sel + "._domainkey." + c.e.Domain
		txts, _, err := c.o.Resolver.TXT(ctx, name)
		if err != nil || len(txts) != 1 {
			c.add("DKIM "+sel, Fail, fmt.Sprintf("%d records at %s", len(txts), name), "publish one key record there")
			continue
		}
		if err := parseDKIM(txts[0]); err != nil {
			c.add("DKIM "+sel, Fail, "the record does not parse: "+err.Error(), "publish the record as 'sealpost domain records' prints it")
			continue
		}
		c.add("DKIM "+sel, OK, "a valid key record", "")
	}
}

func parseDKIM(v string) error {
	tags := dkimTags(v)
	if ver, ok := tags["v"]; ok && ver != "DKIM1" {
		return errors.Errorf("v=%s", ver)
	}
	der, err := base64.StdEncoding.DecodeString(tags["p"])
	if err != nil || len(der) == 0 {
		return errors.Str("p= is not a key (revoked, or not base64)")
	}
	switch tags["k"] {
	case "", "rsa":
		if _, err := x509.ParsePKIXPublicKey(der); err != nil {
			return errors.Errorf("p= is not an RSA key: %v", err)
		}
	case "ed25519":
		if len(der) != 32 {
			return errors.Str("p= is not an Ed25519 key")
		}
	default:
		return errors.Errorf("unknown k=%s", tags["k"])
	}
	return nil
}

// dmarc: a DMARC record (RFC 7489 6.1) whose policy rejects or
// quarantines what fails.
func (c *checker) dmarc(ctx context.Context) {
	name := "_dmarc." + c.e.Domain
	txts, _, err := c.o.Resolver.TXT(ctx, name)
	fix := fmt.Sprintf("publish %q at %s", "v=DMARC1; p=reject", name)
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=DMARC1") {
			recs = append(recs, t)
		}
	}
	if err != nil || len(recs) != 1 {
		c.add("DMARC", Fail, fmt.Sprintf("%d DMARC records at %s", len(recs), name), fix)
		return
	}
	rec, err := dmarc.Parse(recs[0])
	if err != nil {
		c.add("DMARC", Fail, "the record does not parse: "+err.Error(), fix)
		return
	}
	switch rec.Policy {
	case dmarc.PolicyReject, dmarc.PolicyQuarantine:
		c.add("DMARC", OK, "p="+string(rec.Policy), "")
	default:
		c.add("DMARC", Warn, "p="+string(rec.Policy)+": failing mail is delivered", "move to p=quarantine, then p=reject")
	}
}

// tlsRPT: a TLS reporting record (RFC 8460 3).
func (c *checker) tlsRPT(ctx context.Context) {
	name := "_smtp._tls." + c.e.Domain
	txts, _, err := c.o.Resolver.TXT(ctx, name)
	n := 0
	for _, t := range txts {
		if strings.HasPrefix(t, "v=TLSRPTv1") && strings.Contains(t, "rua=") {
			n++
		}
	}
	if err != nil || n != 1 {
		c.add("TLS-RPT", Warn, fmt.Sprintf("%d TLS-RPT records at %s", n, name),
			fmt.Sprintf("publish %q there to learn of failed TLS deliveries", "v=TLSRPTv1; rua=mailto:tlsrpt@"+c.e.Domain))
		return
	}
	c.add("TLS-RPT", OK, "present", "")
}

// clients: the SRV records of RFC 6186 (and RFC 5804 1.8) name the host
// and the ports served, or say "not offered"; autoconfig and autodiscover
// reach the host.
func (c *checker) clients(ctx context.Context) {
	p := c.e.Ports
	for _, s := range []struct {
		name string
		port int
	}{
		{"_submissions._tcp", p.Submissions}, {"_imaps._tcp", p.IMAPS}, {"_submission._tcp", p.Submission},
		{"_imap._tcp", p.IMAP}, {"_sieve._tcp", p.ManageSieve}, {"_autodiscover._tcp", p.HTTPS},
	} {
		name := s.name + "." + c.e.Domain
		item := "SRV " + s.name
		want := "0 0 0 ."
		if s.port != 0 {
			want = fmt.Sprintf("0 1 %d %s.", s.port, c.e.Host)
		}
		fix := fmt.Sprintf("publish %q", name+". SRV "+want)
		a, err := c.o.Resolver.Lookup(ctx, name, dns.TypeSRV)
		if err != nil || len(a.RRs) == 0 {
			c.add(item, Warn, "none: clients guess", fix)
			continue
		}
		srv := a.RRs[0].(*dns.SRV)
		switch {
		case s.port == 0 && srv.Target == ".":
			c.add(item, OK, "not offered", "")
		case s.port != 0 && fqdn(srv.Target) == fqdn(c.e.Host) && int(srv.Port) == s.port:
			c.add(item, OK, fmt.Sprintf("%s:%d", c.e.Host, s.port), "")
		default:
			c.add(item, Warn, fmt.Sprintf("%s port %d, not what is served", srv.Target, srv.Port), fix)
		}
	}
	for _, sub := range []string{"autoconfig", "autodiscover"} {
		name := sub + "." + c.e.Domain
		ips, _, err := c.o.Resolver.IPs(ctx, name)
		if err != nil || len(ips) == 0 || !slices.ContainsFunc(ips, func(ip netip.Addr) bool { return slices.Contains(c.ips, ip) }) {
			c.add(sub, Warn, name+" does not reach the mail host", fmt.Sprintf("publish %q (and give the web app a certificate for it)", name+". CNAME "+c.e.Host+"."))
			continue
		}
		c.add(sub, OK, name+" reaches the mail host", "")
	}
}
