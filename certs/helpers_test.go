package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/sealpost/sealpost/certs"
	"github.com/sealpost/sealpost/internal/testkit"
)

// serveTLS serves implicit TLS on loopback with cfg, completing each
// handshake and closing; it returns the address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	return serveTLSOn(t, "127.0.0.1:0", cfg)
}

// serveTLSOn is serveTLS on a given address.
func serveTLSOn(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute))
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					// Let the client finish reading the handshake.
					var b [1]byte
					tc.Read(b[:])
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// peerCert makes a TLS handshake to addr with SNI name (none if "") and
// returns the server's leaf; roots nil accepts any certificate, else the
// chain must lead to roots for name.
func peerCert(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	return peerCertVerify(addr, name, name, roots)
}

// peerCertVerify makes a handshake with SNI name (none if "") and, with
// roots, checks the chain against them for the name verifyAs.
func peerCertVerify(addr, name, verifyAs string, roots *x509.CertPool) (*x509.Certificate, error) {
	cfg := &tls.Config{ServerName: name, InsecureSkipVerify: true}
	if roots != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: verifyAs, Roots: roots, Intermediates: inter})
			return err
		}
	}
	d := &net.Dialer{Timeout: time.Minute}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// testTLS is the listeners' configuration over src, as the server makes it.
func testTLS(src certs.Source) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	certs.Apply(cfg, src)
	return cfg
}

// logTo returns a logger writing text to a buffer the test reads.
func logTo() (*slog.Logger, *testkit.Buffer) {
	var b testkit.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// eventually polls cond every 20 ms until it holds or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
