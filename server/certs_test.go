package server_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/server"
)

// TestCertFilesEveryListener: with [tls] cert and key files, every TLS
// listener (SMTP's STARTTLS on the MX and 587, 465, IMAP's STARTTLS and
// 993, ManageSieve's STARTTLS) serves the files' certificate; after the
// files are replaced and the process gets SIGHUP, every listener serves
// the new one to new connections, without a restart; a bad replacement
// and SIGHUP keep the certificate in service and log why.
func TestCertFilesEveryListener(t *testing.T) {
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	testenv.WritePEMPair(t, ca.Issue(t, time.Time{}, "mx.test"), certFile, keyFile)
	c := config.Default()
	c.Hostname = "mx.test"
	c.DataDir = t.TempDir()
	c.TLS.Cert, c.TLS.Key = certFile, keyFile
	c.Argon2 = config.Argon2{Time: 1, MemoryKiB: 1024, Threads: 1}
	c.Regions = []config.Region{{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}, Entity: "Sealpost Inc.", EntityCountry: "US"}}
	c.Listen = config.Listen{SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", Submissions: "127.0.0.1:0",
		IMAP: "127.0.0.1:0", IMAPS: "127.0.0.1:0", ManageSieve: "127.0.0.1:0"}
	var logs testkit.Buffer
	srv, err := server.Open(c, slog.New(slog.NewTextHandler(&logs, nil)), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	serials := func() map[string]string {
		out := map[string]string{}
		for _, name := range []string{"smtp", "submission", "submissions", "imap", "imaps", "managesieve"} {
			leaf, err := listenerCert(srv.Addr(name), name, ca.Pool)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = leaf.SerialNumber.Text(16)
		}
		return out
	}
	check := func(want string) {
		t.Helper()
		for name, got := range serials() {
			if got != want {
				t.Errorf("%s serves serial %s, want %s", name, got, want)
			}
		}
	}
	first := serials()["imaps"]
	check(first)

	next := ca.Issue(t, time.Time{}, "mx.test")
	testenv.WritePEMPair(t, next, certFile, keyFile)
	check(first) // not polled yet (every 30 s): still the first
	hup(t, &logs, "reading the certificate files again", 1)
	check(next.Leaf.SerialNumber.Text(16))

	if err := os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nbroken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup(t, &logs, "do not load", 1)
	check(next.Leaf.SerialNumber.Text(16))
}

// hup sends this process SIGHUP and waits until the log says what (its
// n-th time).
func hup(t *testing.T, logs *testkit.Buffer, what string, n int) {
	t.Helper()
	before := strings.Count(logs.String(), what)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), what) < before+n {
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP the log does not say %q:\n%s", what, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listenerCert makes a TLS handshake to the named listener as its
// clients do (implicit TLS, or the protocol's STARTTLS) and returns the
// leaf, verified against roots for mx.test.
func listenerCert(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	cfg := &tls.Config{ServerName: "mx.test", RootCAs: roots}
	if name == "submissions" || name == "imaps" {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		cs := c.ConnectionState()
		return cs.PeerCertificates[0], nil
	}
	// The greeting, STARTTLS, its OK: RFC 3207 4, RFC 9051 6.2.1,
	// RFC 5804 2.2. Each step: what to send, the line to wait for.
	steps := map[string][][2]string{
		"smtp":        {{"", "220 "}, {"EHLO t.test\r\n", "250 "}, {"STARTTLS\r\n", "220 "}},
		"imap":        {{"", "* OK"}, {"a STARTTLS\r\n", "a OK"}},
		"managesieve": {{"", "OK"}, {"STARTTLS\r\n", "OK"}},
	}
	steps["submission"] = steps["smtp"]
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	for _, st := range steps[name] {
		if _, err := c.Write([]byte(st[0])); err != nil {
			return nil, err
		}
		if err := readUntil(r, st[1]); err != nil {
			return nil, err
		}
	}
	tc := tls.Client(c, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	cs := tc.ConnectionState()
	return cs.PeerCertificates[0], nil
}

// readUntil reads lines until one starts with prefix.
func readUntil(r *bufio.Reader, prefix string) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, prefix) {
			return nil
		}
	}
}
