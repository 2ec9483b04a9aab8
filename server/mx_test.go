package server_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/server"
)

// startMX opens and starts a server with only an MX listener, resolving
// with dns, hosting demo.example with bob.
func startMX(t *testing.T, dns *testenv.DNS, edit func(*config.Config)) *server.Server {
	t.Helper()
	c := config.Default()
	c.Hostname = "mx.test"
	c.DataDir = t.TempDir()
	c.TLS.SelfSigned = true
	c.Argon2 = config.Argon2{Time: 1, MemoryKiB: 1024, Threads: 1}
	c.Regions = []config.Region{{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}, Entity: "Sealpost Inc.", EntityCountry: "US"}}
	c.Listen = config.Listen{SMTP: "127.0.0.1:0"}
	c.DNS.Servers = []string{dns.Addr}
	if edit != nil {
		edit(&c)
	}
	srv, err := server.Open(c, mlog.Discard(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.EnsureDemo(t.Context(), "demo.example",
		[]server.DemoAccount{{Address: "bob@demo.example", Password: "bob-demo-pass", Region: "us"}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	return srv
}

func sendMX(t *testing.T, addr, from, header string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := []byte("From: " + header + "\r\nTo: bob@demo.example\r\nSubject: x\r\n\r\nx\r\n")
	return c.SendMail(from, []string{"bob@demo.example"}, bytes.NewReader(raw))
}

// The server builds one resolver from [dns] and gives the MX a checker
// that knows the hosted domains: a forged MAIL FROM of demo.example is
// refused, mail from example.org (SPF and DMARC published) accepted. With
// [mx] no_auth_checks nothing is checked.
func TestMXChecksWired(t *testing.T) {
	dns := testenv.SenderDNS(t)
	srv := startMX(t, dns, nil)
	if srv.Resolver == nil || !slices.Equal(srv.Resolver.Servers(), []string{dns.Addr}) {
		t.Fatalf("Resolver asks %v, want %s", srv.Resolver, dns.Addr)
	}
	var se *smtp.SMTPError
	if err := sendMX(t, srv.Addr("smtp"), "alice@demo.example", "alice@demo.example"); !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("forged own domain: %v, want 550", err)
	}
	if err := sendMX(t, srv.Addr("smtp"), "carol@example.org", "carol@example.org"); err != nil {
		t.Errorf("authenticated mail: %v", err)
	}

	off := startMX(t, dns, func(c *config.Config) { c.MX.NoAuthChecks = true })
	if err := sendMX(t, off.Addr("smtp"), "alice@demo.example", "alice@demo.example"); err != nil {
		t.Errorf("no_auth_checks: %v", err)
	}
}
