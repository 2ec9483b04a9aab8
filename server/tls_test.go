package server

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/sealpost/sealpost/certs"
	"github.com/sealpost/sealpost/internal/testenv"
)

// TestPublicTLSSuites: a TLS 1.2 client offering only CBC suites with
// SHA-1 MACs is refused; one offering AES-GCM, and a TLS 1.3 client, are
// served.
func TestPublicTLSSuites(t *testing.T) {
	cert, _ := testenv.TestCert()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", publicTLS(certs.NewStatic(cert)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	dial := func(max uint16, suites ...uint16) error {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		return tls.Client(c, &tls.Config{InsecureSkipVerify: true, MaxVersion: max, CipherSuites: suites}).Handshake()
	}
	for _, cbc := range []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA} {
		if err := dial(tls.VersionTLS12, cbc); err == nil {
			t.Errorf("TLS 1.2 with %s was accepted", tls.CipherSuiteName(cbc))
		}
	}
	if err := dial(tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256); err != nil {
		t.Errorf("TLS 1.2 with AES-GCM: %v", err)
	}
	if err := dial(tls.VersionTLS13); err != nil {
		t.Errorf("TLS 1.3: %v", err)
	}
}
