package domaincheck

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mtasts"
)

// dial connects to host:port, host resolved with the check's resolver (so
// a test's DNS server, or the one --resolver names, decides where), and
// port 443 replaced by Ports.HTTPS.
func (c *checker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if port == "443" && c.e.Ports.HTTPS != 0 {
		port = strconv.Itoa(c.e.Ports.HTTPS)
	}
	ips, _, err := c.o.Resolver.IPs(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, errors.Errorf("%s has no address", host)
	}
	var last error
	for _, ip := range ips {
		conn, err := c.o.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		last = err
	}
	return nil, last
}

// mtaSTS: one _mta-sts record with the expected id (RFC 8461 3.1), and the
// policy at https://mta-sts.DOMAIN (fetched as a sender would, with
// package mtasts: WebPKI, no redirects, text/plain, bounded) in enforce
// mode, naming the mail host.
func (c *checker) mtaSTS(ctx context.Context) {
	name := "_mta-sts." + c.e.Domain
	txts, _, err := c.o.Resolver.TXT(ctx, name)
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1") {
			recs = append(recs, t)
		}
	}
	fix := "publish the _mta-sts record 'sealpost domain records " + c.e.Domain + "' prints"
	switch {
	case err != nil || len(recs) == 0:
		c.add("MTA-STS", Warn, "no _mta-sts record: senders may deliver without TLS", fix)
		return
	case len(recs) > 1:
		c.add("MTA-STS", Fail, "more than one _mta-sts record: senders ignore them all", "keep one: "+fix)
		return
	case c.e.MTASTSID != "" && !strings.Contains(recs[0], "id="+c.e.MTASTSID):
		c.add("MTA-STS", Fail, fmt.Sprintf("%q has not the policy's id %s: senders keep an older policy", recs[0], c.e.MTASTSID), fix)
		return
	}
	cache, err := mtasts.Open(mtasts.Options{Resolver: c.o.Resolver, RootCAs: c.o.RootCAs, DialContext: c.dial, Timeout: c.o.Timeout})
	if err != nil {
		c.add("MTA-STS", Fail, err.Error(), "")
		return
	}
	p, err := cache.Fetch(ctx, c.e.Domain)
	fetchFix := "serve it: route mta-sts." + c.e.Domain + " to the web app, with a certificate valid for that name"
	switch {
	case err != nil:
		c.add("MTA-STS", Fail, "the policy could not be fetched: "+err.Error(), fetchFix)
	case !p.Match(c.e.Host):
		c.add("MTA-STS", Fail, "the policy does not name "+c.e.Host+": senders refuse to deliver", fetchFix)
	case p.Mode != mtasts.Enforce:
		c.add("MTA-STS", Warn, "the policy's mode is "+string(p.Mode), "set mta_sts.mode = \"enforce\" once TLS-RPT reports are clean")
	default:
		c.add("MTA-STS", OK, "policy fetched, enforce, names "+c.e.Host, "")
	}
}

// certificates: the mail host's certificate on SMTP (STARTTLS, RFC 3207),
// submission and IMAP over TLS (RFC 8314) is valid for its name and not
// about to expire.
func (c *checker) certificates(ctx context.Context) {
	p := c.e.Ports
	for _, s := range []struct {
		item     string
		port     int
		starttls bool
	}{{"TLS smtp", p.SMTP, true}, {"TLS submissions", p.Submissions, false}, {"TLS imaps", p.IMAPS, false}} {
		if s.port == 0 {
			continue
		}
		addr := net.JoinHostPort(c.e.Host, strconv.Itoa(s.port))
		cs, err := c.handshake(ctx, addr, s.starttls)
		if err != nil {
			c.add(s.item, Fail, addr+": "+err.Error(), "give the server a certificate valid for "+c.e.Host+" ([tls] cert and key)")
			continue
		}
		leaf := cs.PeerCertificates[0]
		left := leaf.NotAfter.Sub(c.o.Now())
		if left < renewBefore {
			c.add(s.item, Warn, fmt.Sprintf("%s: the certificate expires on %s", addr, leaf.NotAfter.Format(time.DateOnly)), "renew it now")
			continue
		}
		c.add(s.item, OK, fmt.Sprintf("%s: valid for %s until %s", addr, c.e.Host, leaf.NotAfter.Format(time.DateOnly)), "")
	}
}

// handshake connects to addr (implicit TLS, or SMTP's STARTTLS) and
// verifies the certificate for the host name, bounded by the timeout.
func (c *checker) handshake(ctx context.Context, addr string, starttls bool) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	conn, err := c.dial(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(addr)
	cfg := &tls.Config{ServerName: host, RootCAs: c.o.RootCAs, MinVersion: tls.VersionTLS12}
	if !starttls {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return tls.ConnectionState{}, err
		}
		return tc.ConnectionState(), nil
	}
	sc, err := smtp.NewClient(conn, host)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer sc.Close()
	if err := sc.Hello("check.sealpost.invalid"); err != nil {
		return tls.ConnectionState{}, err
	}
	if ok, _ := sc.Extension("STARTTLS"); !ok {
		return tls.ConnectionState{}, errors.Str("no STARTTLS offered")
	}
	if err := sc.StartTLS(cfg); err != nil {
		return tls.ConnectionState{}, err
	}
	cs, _ := sc.TLSConnectionState()
	sc.Quit()
	return cs, nil
}
