package main

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/sealpost/sealpost/dkimsign"
	"github.com/sealpost/sealpost/domaincheck"
	"github.com/sealpost/sealpost/resolver"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newCheckCmd() *cobra.Command {
	var cf configFlags
	var servers, selectors []string
	var host, caFile string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check DOMAIN [--config FILE] [--resolver HOST:PORT]",
		Short: "Check a domain's published DNS and the mail host's certificates, from outside",
		Long: `Check, as another mail server or a mail client would see them, what DOMAIN
publishes and what its mail host presents, one line per item (OK, WARN or
FAIL, and what to do): MX, the host's A/AAAA records and their reverse DNS,
SPF (evaluated for the host's addresses), DKIM, DMARC, MTA-STS (the record,
and the policy fetched over HTTPS), TLS reporting, the SRV and
autoconfig/autodiscover records clients configure themselves from, and the
TLS certificate on SMTP (STARTTLS), submission (465) and IMAP (993).

With --config (or --data) it knows the host, the ports, the DKIM keys held
and the MTA-STS policy's id, and checks each is what is published.
Without, the host is the domain's first MX, the ports are the standard
ones, and the DKIM records of --dkim-selector are checked to parse.

--resolver HOST:PORT (repeatable) asks these DNS servers (default: those
of /etc/resolv.conf). It exits with an error when any item FAILs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			domain := args[0]
			e := domaincheck.Expect{Domain: domain, Host: host, Ports: domaincheck.StandardPorts(), Selectors: selectors}
			if cf.path != "" || cf.data != "" {
				c, err := cf.load()
				if err != nil {
					return err
				}
				if e.Host == "" {
					e.Host = c.Hostname
				}
				l := c.Listen
				e.Ports = domaincheck.Ports{SMTP: portOf(l.SMTP), Submissions: portOf(l.Submissions), Submission: portOf(l.Submission),
					IMAPS: portOf(l.IMAPS), IMAP: portOf(l.IMAP), ManageSieve: portOf(l.ManageSieve), HTTPS: portOf(c.Legal.Web)}
				if e.Ports.HTTPS == 0 {
					e.Ports.HTTPS = 443
				}
				keys, err := dkimsign.Records(server.DKIMDir(c), domain)
				if err != nil {
					return fmt.Errorf("the DKIM keys of %s: %w", domain, err)
				}
				for _, k := range keys {
					e.DKIM = append(e.DKIM, domaincheck.DKIMKey{Selector: k.Selector, Value: k.Value})
				}
				e.MTASTSID = mtaSTSID(c)
			}
			res, err := resolver.New(resolver.Options{Servers: servers, CacheSize: -1})
			if err != nil {
				return err
			}
			if e.Host == "" {
				mxs, _, err := res.MX(cmd.Context(), domain)
				if err != nil || len(mxs) == 0 {
					return fmt.Errorf("%s has no MX record, and no --host or --config says which host to check", domain)
				}
				e.Host = mxs[0].Host
			}
			o := domaincheck.Options{Resolver: res, Timeout: timeout}
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return err
				}
				if o.RootCAs, err = x509.SystemCertPool(); err != nil {
					o.RootCAs = x509.NewCertPool()
				}
				if !o.RootCAs.AppendCertsFromPEM(pem) {
					return fmt.Errorf("%s holds no PEM certificate", caFile)
				}
			}
			results, err := domaincheck.Check(cmd.Context(), e, o)
			if err != nil {
				return err
			}
			n := 0
			for _, r := range results {
				fmt.Fprintln(cmd.OutOrStdout(), r)
				if r.Status == domaincheck.Fail {
					n++
				}
			}
			if n > 0 {
				return fmt.Errorf("%d of %d checks failed", n, len(results))
			}
			return nil
		},
	}
	cf.register(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&servers, "resolver", nil, "DNS server HOST:PORT to ask (repeatable; default /etc/resolv.conf)")
	f.StringVar(&host, "host", "", "the mail host (default: from --config, else the domain's first MX)")
	f.StringSliceVar(&selectors, "dkim-selector", nil, "a DKIM selector to check without --config (repeatable)")
	f.StringVar(&caFile, "ca", "", "also trust the CA certificates in this PEM file (a private CA)")
	f.DurationVar(&timeout, "timeout", 15*time.Second, "bound on each network check")
	return cmd
}

// portOf is the port of a listener address, 0 when none.
func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
