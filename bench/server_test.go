package bench

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// selfSignedTLS returns a server TLS configuration with the tests'
// self-signed certificate for 127.0.0.1, as a test mail server would have.
func selfSignedTLS(t *testing.T) *tls.Config {
	cert, _ := testenv.TestCert()
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// listen returns a listener on a free loopback port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
