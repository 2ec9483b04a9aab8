package outbound

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mtasts"
	"github.com/sealpost/sealpost/resolver"
)

// policyServer serves an MTA-STS policy for example.test over HTTPS with a
// certificate of ca, and returns a cache that fetches it.
func policyServer(t *testing.T, ca *testenv.CA, r *resolver.Resolver, policy string) *mtasts.Cache {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, policy)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, time.Time{}, "mta-sts.example.test")}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := mtasts.Open(mtasts.Options{Resolver: r, RootCAs: ca.Pool, Timeout: 10 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "mta-sts.example.test:443" {
				return nil, fmt.Errorf("no route to %s", addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		}})
	testkit.Must(t, err)
	return c
}

// MTA-STS in enforce mode (RFC 8461): a mail exchanger whose certificate
// is not valid for its name gets nothing, not even in plaintext, and the
// message is deferred; one with a valid certificate gets it; an MX host
// the policy does not name is not used.
func TestMTASTSEnforce(t *testing.T) {
	ca := testenv.NewCA(t)
	good := newPeer(t, "127.0.0.2", peerOptions{tls: &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, time.Time{}, "mx.example.test")}}})
	bad := newPeer(t, "127.0.0.3", peerOptions{port: good.port(), tls: &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, time.Time{}, "wrong.example.test")}}})
	unlisted := newPeer(t, "127.0.0.4", peerOptions{port: good.port()})
	records := []string{
		"example.test. 300 IN MX 5 other.example.net.",
		"example.test. 300 IN MX 10 bad.example.test.",
		"_mta-sts.example.test. 300 IN TXT \"v=STSv1; id=20261207\"",
		"other.example.net. 300 IN A 127.0.0.4",
		"bad.example.test. 300 IN A 127.0.0.3",
		"mx.example.test. 300 IN A 127.0.0.2",
	}
	policy := "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 86400\n"

	e := newEnv(t, Options{Port: good.port(), RootCAs: ca.Pool}, records...)
	e.svc.o.STS = policyServer(t, ca, e.svc.o.Resolver, policy)
	e.enqueue("alice@sealpost.example.test", []string{"bob@example.test"}, msg)
	e.run()
	q := e.queue()
	if len(q) != 1 || !strings.Contains(q[0].LastError, "certificate") {
		t.Fatalf("with only a bad certificate: queue %+v", q)
	}
	if len(bad.messages())+len(unlisted.messages()) != 0 || unlisted.conns.Load() != 0 {
		t.Fatal("mail went to a host the policy rules out, or without TLS")
	}

	// The domain adds a good mail exchanger: the message goes there.
	e2 := newEnv(t, Options{Port: good.port(), RootCAs: ca.Pool}, append(records, "example.test. 300 IN MX 20 mx.example.test.")...)
	e2.svc.o.STS = policyServer(t, ca, e2.svc.o.Resolver, policy)
	e2.enqueue("alice@sealpost.example.test", []string{"bob@example.test"}, msg)
	e2.run()
	if got := good.messages(); len(got) != 1 || !got[0].tls || len(e2.queue()) != 0 {
		t.Fatalf("with a good mail exchanger: delivered %+v, queue %+v", got, e2.queue())
	}

	// In testing mode nothing is enforced: opportunistic TLS as usual.
	e3 := newEnv(t, Options{Port: good.port(), RootCAs: ca.Pool}, records...)
	e3.svc.o.STS = policyServer(t, ca, e3.svc.o.Resolver, strings.Replace(policy, "enforce", "testing", 1))
	e3.enqueue("alice@sealpost.example.test", []string{"bob@example.test"}, msg)
	e3.run()
	if len(e3.queue()) != 0 || len(unlisted.messages())+len(bad.messages()) != 1 {
		t.Fatalf("testing mode: queue %+v", e3.queue())
	}
}

// DANE (RFC 7672): with authenticated TLSA records, the certificate must
// match one; a host whose certificate does not is never used in plaintext.
// Without authentication (a resolver not told to trust the AD bit), DANE
// does not apply.
func TestDANE(t *testing.T) {
	cert := testenv.SelfSigned(t, time.Time{}, "mx.example.test")
	p := newPeer(t, "127.0.0.2", peerOptions{tls: &tls.Config{Certificates: []tls.Certificate{cert}}})
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	tlsa := func(hexdata string) []string {
		return []string{
			"example.test. 300 IN MX 10 mx.example.test.",
			"mx.example.test. 300 IN A 127.0.0.2",
			fmt.Sprintf("_%d._tcp.mx.example.test. 300 IN TLSA 3 1 1 %s", p.port(), hexdata),
		}
	}
	run := func(trust bool, records []string) *env {
		t.Helper()
		e := newEnv(t, Options{Port: p.port()}, records...)
		e.dns.SetAD(true)
		r, err := resolver.New(resolver.Options{Servers: []string{e.dns.Addr}, TrustAD: trust})
		testkit.Must(t, err)
		e.svc.o.Resolver = r
		e.enqueue("alice@sealpost.example.test", []string{"bob@example.test"}, msg)
		e.run()
		return e
	}
	if e := run(true, tlsa(hex.EncodeToString(spki[:]))); len(e.queue()) != 0 || len(p.messages()) != 1 || !p.messages()[0].tls {
		t.Fatalf("matching TLSA: queue %+v, received %d", e.queue(), len(p.messages()))
	}
	wrong := strings.Repeat("ab", 32)
	e := run(true, tlsa(wrong))
	if q := e.queue(); len(q) != 1 || !strings.Contains(q[0].LastError, "4.7.5") && !strings.Contains(q[0].LastError, "TLS") {
		t.Fatalf("non-matching TLSA: queue %+v", q)
	}
	if len(p.messages()) != 1 {
		t.Fatal("a host whose certificate matches no TLSA record got the message")
	}
	// The same records, unauthenticated: DANE does not apply.
	if e := run(false, tlsa(wrong)); len(e.queue()) != 0 || len(p.messages()) != 2 {
		t.Fatalf("unauthenticated TLSA: queue %+v", e.queue())
	}
}
