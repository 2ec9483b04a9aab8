package testenv

import (
	"testing"

	"github.com/sealpost/sealpost/internal/dnsserver"
)

// DNS is a real DNS server (internal/dnsserver, on github.com/miekg/dns)
// on a loopback port, UDP and TCP, for the tests of everything that
// resolves mail names: it answers, as a recursive resolver would, from
// the records a test gives it in zone-file form, NXDOMAIN for a name it
// holds nothing for and NODATA for a type it lacks. Point a
// resolver.Resolver at Addr. It stops with the test.
type DNS struct {
	*dnsserver.Server
	// Addr is "127.0.0.1:port", the same for UDP and TCP.
	Addr string
}

// NewDNS starts a DNS server holding rrs (zone-file lines, see Add).
func NewDNS(t testing.TB, rrs ...string) *DNS {
	t.Helper()
	d := &DNS{Server: dnsserver.New()}
	d.Add(t, rrs...)
	addr, stop, err := d.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.Addr = addr
	t.Cleanup(stop)
	return d
}

// Add adds records given as zone-file lines, e.g.
// "example.test. 300 IN MX 10 mx.example.test." (long TXT values as
// several quoted strings on the line); a bad line fails the test.
func (d *DNS) Add(t testing.TB, rrs ...string) {
	t.Helper()
	if err := d.Server.Add(rrs...); err != nil {
		t.Fatal(err)
	}
}
