package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

// The demo's contract (tools and checks rely on it): loopback listeners on
// these ports, these accounts and passwords, and a line "ready" once every
// listener accepts connections.
const (
	demoDomain = "demo.example"
)

// demoAccounts live in two regions, so the demo shows residency: alice's
// mailbox is in Ireland (EU), bob's in the United States.
var demoAccounts = []server.DemoAccount{
	{Address: "alice@demo.example", Password: "alice-demo-pass", Region: "ie"},
	{Address: "bob@demo.example", Password: "bob-demo-pass", Region: "us"},
}

// demoOfficers are the demo's legal officers (name, password): two, since a
// disclosure needs two different officers' approval.
var demoOfficers = [][2]string{{"officer-a", "officer-a-demo-pass"}, {"officer-b", "officer-b-demo-pass"}}

// demoRegions are the demo's two regions, each with its own embedded
// storage under data/regions/<id>.
var demoRegions = []config.Region{
	{ID: "ie", Name: "Ireland", Country: "IE", Zones: []string{"EU"}, Entity: "Sealpost Ireland Ltd", EntityCountry: "IE"},
	{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}, Entity: "Sealpost Inc.", EntityCountry: "US"},
}

func demoConfig(data string) config.Config {
	c := config.Default()
	c.Hostname = "localhost"
	c.DataDir = data
	c.TLS.SelfSigned = true
	c.Regions = append([]config.Region(nil), demoRegions...)
	c.Listen = config.Listen{
		SMTP:        "127.0.0.1:2525",
		Submission:  "127.0.0.1:2587",
		Submissions: "127.0.0.1:2465",
		IMAP:        "127.0.0.1:1143",
		IMAPS:       "127.0.0.1:1993",
		ManageSieve: "127.0.0.1:4190",
	}
	c.Legal.Web = "127.0.0.1:8080"
	c.Metrics.Listen = "127.0.0.1:9090"
	return c
}

func newDemoCmd() *cobra.Command {
	var data, pprofAddr string
	var dnsServers []string
	var clockOffset time.Duration
	c := demoConfig("")
	cmd := &cobra.Command{
		Use:   "demo --data DIR",
		Short: "Run a demo server on loopback with demo accounts",
		Long: `Run a Sealpost server on 127.0.0.1 with embedded storage under DIR, a
self-signed TLS certificate, and two DEMO-ONLY accounts in two regions,
each region with its own storage (DIR/regions/ie, DIR/regions/us):

  alice@demo.example  password alice-demo-pass  region ie (Ireland, EU)
  bob@demo.example    password bob-demo-pass    region us (United States)

Listeners (each can be moved with its flag):
  SMTP (MX)                127.0.0.1:2525
  submission (STARTTLS)    127.0.0.1:2587
  submission (TLS)         127.0.0.1:2465
  IMAP (STARTTLS)          127.0.0.1:1143
  IMAP (TLS)               127.0.0.1:1993
  ManageSieve (STARTTLS)   127.0.0.1:4190 (Sieve scripts, run at delivery)
  web app and JSON API     http://127.0.0.1:8080 (legal console)
  Prometheus metrics       http://127.0.0.1:9090/metrics (--metrics "" turns them off)

Two DEMO-ONLY legal officers may act on government demands in the legal
console and with 'sealpost demand ...':

  officer-a  password officer-a-demo-pass
  officer-b  password officer-b-demo-pass

The MX authenticates mail from outside (SPF, DKIM, DMARC) with the DNS
servers of /etc/resolv.conf, or those given with --dns HOST:PORT; mail
claiming to be from demo.example is refused there. Submit as a demo account
(port 2465 or 2587) to send mail between them.

It prints "ready" on a line of its own once every listener accepts
connections. Restarting with the same DIR keeps all mail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				return fmt.Errorf("--data DIR is required")
			}
			abs, err := filepath.Abs(data)
			if err != nil {
				return err
			}
			c.DataDir = abs
			if len(dnsServers) > 0 {
				c.DNS.Servers = dnsServers
			}
			if err := startPprof(pprofAddr); err != nil {
				return err
			}
			return runDemo(cmd, c, clockOffset)
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "data folder (created if missing)")
	f.StringVar(&c.Listen.SMTP, "smtp", c.Listen.SMTP, "SMTP (MX) address")
	f.StringVar(&c.Listen.Submission, "submission", c.Listen.Submission, "submission (STARTTLS) address")
	f.StringVar(&c.Listen.Submissions, "submissions", c.Listen.Submissions, "submission (implicit TLS) address")
	f.StringVar(&c.Listen.IMAP, "imap", c.Listen.IMAP, "IMAP (STARTTLS) address")
	f.StringVar(&c.Listen.IMAPS, "imaps", c.Listen.IMAPS, "IMAP (implicit TLS) address")
	f.StringVar(&c.Listen.ManageSieve, "managesieve", c.Listen.ManageSieve, "ManageSieve (RFC 5804, STARTTLS; plain login allowed on loopback) address")
	f.StringVar(&c.Filter.Rspamd, "rspamd", "", "rspamd worker URL, e.g. http://127.0.0.1:11333 (default: each account's own classifier only)")
	f.StringVar(&c.Metrics.Listen, "metrics", c.Metrics.Listen, `Prometheus metrics address (GET /metrics); "" turns them off`)
	f.StringVar(&c.Legal.Web, "web", c.Legal.Web, "web app and JSON API (legal console) address")
	f.StringSliceVar(&dnsServers, "dns", nil, "DNS server HOST:PORT for the MX's SPF, DKIM and DMARC checks (repeatable; default: /etc/resolv.conf)")
	f.BoolVar(&c.MX.NoAuthChecks, "no-auth-checks", false, "turn the MX's SPF, DKIM and DMARC checks off (benchmarks against servers that check nothing)")
	f.StringVar(&c.Log.Level, "log-level", c.Log.Level, "log level: debug, info, warn, error")
	f.Int64Var(&c.Limits.MemoryLimit, "memory-limit", 0, "the Go runtime's soft memory limit in bytes, as limits.memory_limit (0: none, or GOMEMLIMIT's)")
	f.StringVar(&pprofAddr, "pprof", "", "serve Go's profiler on this loopback address (for benchmarks)")
	f.DurationVar(&clockOffset, "clock-offset", 0, "run the legal gateway, the log and the web app this far ahead (to show a nondisclosure order lapse)")
	f.MarkHidden("clock-offset")
	return cmd
}

// runDemo runs the demo; clockOffset moves its legal clock ahead (a hidden
// flag, for tests and demonstrations).
func runDemo(cmd *cobra.Command, c config.Config, clockOffset time.Duration) error {
	out := cmd.OutOrStdout()
	log := newLogger(c, cmd.ErrOrStderr())
	applyMemoryLimit(c, log)
	var opts server.Options
	if clockOffset != 0 {
		opts.Now = func() time.Time { return time.Now().Add(clockOffset) }
	}
	srv, err := server.Open(c, log, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	ctx := context.Background()
	created, err := srv.EnsureDemo(ctx, demoDomain, demoAccounts)
	if err != nil {
		return err
	}
	gw, err := srv.OpenGateway()
	if err != nil {
		return err
	}
	srv.Gateway = gw
	if names, err := gw.Store().Officers(ctx); err == nil && len(names) == 0 {
		for _, o := range demoOfficers {
			if err := gw.Store().AddOfficer(ctx, o[0], o[1]); err != nil {
				return err
			}
		}
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Fprintln(out, "Sealpost demo — data in", c.DataDir)
	fmt.Fprintln(out, "!!! DEMO ONLY: these accounts have published passwords; never expose this server !!!")
	for _, a := range demoAccounts {
		r, _ := c.RegionByID(string(a.Region))
		fmt.Fprintf(out, "  account %-20s password %-16s region %s (%s, %s)\n", a.Address, a.Password, a.Region, r.Name, strings.Join(r.Zones, ","))
	}
	for _, o := range demoOfficers {
		fmt.Fprintf(out, "  legal officer %-14s password %s\n", o[0], o[1])
	}
	if len(created) > 0 {
		fmt.Fprintln(out, "  (created now; recovery codes are not shown for demo accounts)")
	}
	for _, l := range srv.Listeners() {
		fmt.Fprintf(out, "  %-12s %s\n", l[0], l[1])
	}
	fmt.Fprintln(out, "  TLS certificate is self-signed:", filepath.Join(c.DataDir, "tls", "cert.pem"))
	if web := srv.Addr("web"); web != "" {
		fmt.Fprintf(out, "  in a browser: http://%s/me (an account's privacy page), /transparency (the public report), /console (legal officers)\n", web)
	}
	fmt.Fprintln(out, "ready")
	return waitForSignal()
}

func waitForSignal() error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}
