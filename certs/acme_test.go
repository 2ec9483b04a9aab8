package certs_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/sealpost/sealpost/certs"
	"github.com/sealpost/sealpost/internal/testenv"
)

const (
	host    = "mail.example.test"
	hosted  = "example.test"
	mtaSTS  = "mta-sts.example.test"
	foreign = "elsewhere.example.net" // DNS points here, but it is not ours
)

// acmeRig is an ACME source against a real Pebble, whose validations reach
// this process's listeners: an implicit-TLS one (TLS-ALPN-01) and an HTTP
// one (HTTP-01), on loopback ports Pebble is told of, for names a real DNS
// server answers with 127.0.0.1.
type acmeRig struct {
	pebble     *testenv.Pebble
	src        *certs.ACME
	tlsAddr    string
	cacheDir   string
	challenges atomic.Int64 // HTTP-01 requests answered
	alpnHellos atomic.Int64 // TLS-ALPN-01 validations' hellos
	log        interface{ String() string }
	opts       certs.ACMEOptions
}

type rigOptions struct {
	http01, alpn01 bool // which validations can reach us
	validity       time.Duration
}

func newACMERig(t *testing.T, o rigOptions) *acmeRig {
	t.Helper()
	dns := testenv.NewDNS(t)
	// autoconfig.example.test is hosted but has no record: its
	// validation fails.
	for _, n := range []string{host, mtaSTS, foreign} {
		dns.Add(t, n+". 60 IN A 127.0.0.1")
	}
	r := &acmeRig{cacheDir: filepath.Join(t.TempDir(), "acme")}
	tlsLn, httpLn := listen(t), listen(t)
	po := testenv.PebbleOptions{DNS: dns.Addr, Validity: o.validity}
	if o.alpn01 {
		po.TLSPort = tlsLn.Addr().(*net.TCPAddr).Port
	}
	if o.http01 {
		po.HTTPPort = httpLn.Addr().(*net.TCPAddr).Port
	}
	r.pebble = testenv.StartPebble(t, po)
	pem, err := os.ReadFile(r.pebble.DirectoryCA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	log, buf := logTo()
	r.log = buf
	r.opts = certs.ACMEOptions{
		DirectoryURL: r.pebble.Directory, Email: "postmaster@example.test", CacheDir: r.cacheDir,
		Default: host, Roots: roots, Log: log,
		Policy: certs.Policy{Prefixes: []string{"mta-sts.", "autoconfig."},
			Hosted: func(ctx context.Context, d string) (bool, error) { return d == hosted, nil }},
	}
	r.src = r.newSource(t)
	tlsLn.Close() // serveTLS binds its own; Pebble was told this port
	cfg := testTLS(r.src)
	pick := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		c, err := pick(hello)
		if c != nil && slices.Equal(c.NextProtos, []string{acme.ALPNProto}) {
			r.alpnHellos.Add(1)
		}
		return c, err
	}
	r.tlsAddr = serveTLSOn(t, tlsLn.Addr().String(), cfg)
	if o.http01 {
		// As the server: the HTTP-01 responder only where configured
		// (calling HTTPHandler makes autocert try HTTP-01).
		h := r.src.HTTPHandler()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.HasPrefix(req.URL.Path, "/.well-known/acme-challenge/") {
				r.challenges.Add(1)
			}
			h.ServeHTTP(w, req)
		}), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(httpLn)
		t.Cleanup(func() { srv.Close() })
	}
	return r
}

func (r *acmeRig) newSource(t *testing.T) *certs.ACME {
	t.Helper()
	src, err := certs.NewACME(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// leaf connects with SNI name and checks the chain against Pebble's root
// (only this client trusts it).
func (r *acmeRig) leaf(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	return r.leafAs(t, name, name)
}

// leafAs is leaf, the chain checked for the name verifyAs.
func (r *acmeRig) leafAs(t *testing.T, name, verifyAs string) *x509.Certificate {
	t.Helper()
	leaf, err := peerCertVerify(r.tlsAddr, name, verifyAs, r.pebble.Roots(t))
	if err != nil {
		t.Fatalf("TLS to %q: %v", name, err)
	}
	return leaf
}

// TestACMEChallenges: with only one way of validation reachable, the
// first handshake for a name gets a certificate Pebble issued after
// validating that way: TLS-ALPN-01 (RFC 8737) on our TLS listener for the
// host name, HTTP-01 (RFC 8555 8.3, Pebble's TLS-ALPN-01 port has nothing
// listening) through the HTTP handler for a hosted domain's mta-sts name.
// The account key and the certificate are cached 0600 in a 0700 folder.
func TestACMEChallenges(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    rigOptions
		sni  string
	}{
		{"tls-alpn-01", rigOptions{alpn01: true}, host},
		{"http-01", rigOptions{http01: true}, mtaSTS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newACMERig(t, tc.o)
			if leaf := r.leaf(t, tc.sni); leaf.DNSNames[0] != tc.sni {
				t.Fatalf("names %v", leaf.DNSNames)
			}
			if alpn, http := r.alpnHellos.Load() > 0, r.challenges.Load() > 0; alpn != tc.o.alpn01 || http != tc.o.http01 {
				t.Errorf("validations reaching us: TLS-ALPN-01 %v, HTTP-01 %v; want %v, %v", alpn, http, tc.o.alpn01, tc.o.http01)
			}
			checkPrivate(t, r.cacheDir)
		})
	}
}

// TestACMERenewal: certificates that live 12 s are renewed in the
// background (at two thirds of their life); a client connecting afterwards
// sees the new serial, with no restart and nothing asked of the source.
func TestACMERenewal(t *testing.T) {
	r := newACMERig(t, rigOptions{alpn01: true, validity: 12 * time.Second})
	first := r.leaf(t, host)
	eventually(t, 30*time.Second, "the certificate was not renewed", func() bool {
		return r.leaf(t, host).SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if next := r.leaf(t, host); !next.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed certificate ends %v, not after the first's %v", next.NotAfter, first.NotAfter)
	}
}

// TestACMEPolicy: a name outside the policy (its DNS points here) and a
// hello without a name get the host name's certificate, and cause no ACME
// order; the HTTP-01 handler refuses such a name too.
func TestACMEPolicy(t *testing.T) {
	r := newACMERig(t, rigOptions{alpn01: true, http01: true})
	want := r.leaf(t, host).SerialNumber
	orders := r.pebble.Orders(t)
	if orders != 1 {
		t.Fatalf("%d orders after the first certificate, want 1", orders)
	}
	for _, name := range []string{foreign, "", "sub.mail.example.test", "mta-sts.other.test"} {
		if got := r.leafAs(t, name, host).SerialNumber; got.Cmp(want) != 0 {
			t.Errorf("SNI %q: serial %x, want the host name's %x", name, got, want)
		}
	}
	if n := r.pebble.Orders(t); n != orders {
		t.Errorf("%d orders after names outside the policy, want %d", n, orders)
	}
}

// TestACMEFailureBackoff: a hosted name whose validation fails (no DNS
// record) gets the host name's certificate meanwhile, and the next
// handshakes do not order again at once.
func TestACMEFailureBackoff(t *testing.T) {
	r := newACMERig(t, rigOptions{alpn01: true})
	want := r.leaf(t, host).SerialNumber
	before := r.pebble.Orders(t)
	failing := "autoconfig.example.test"
	if got := r.leafAs(t, failing, host).SerialNumber; got.Cmp(want) != 0 {
		t.Fatalf("serial %x, want the host name's %x", got, want)
	}
	after := r.pebble.Orders(t)
	if after == before {
		t.Fatal("no order for a hosted name")
	}
	for range 3 {
		if got := r.leafAs(t, failing, host).SerialNumber; got.Cmp(want) != 0 {
			t.Fatalf("serial %x, want the host name's %x", got, want)
		}
	}
	if n := r.pebble.Orders(t); n != after {
		t.Errorf("%d more orders for a failing name held off, want none", n-after)
	}
	if !strings.Contains(r.log.String(), "serving the host name's meanwhile") {
		t.Errorf("the failure is not logged:\n%s", r.log.String())
	}
}

// TestACMECache: a new source over the same cache (a restart) serves the
// cached certificate without ordering.
func TestACMECache(t *testing.T) {
	r := newACMERig(t, rigOptions{alpn01: true})
	want := r.leaf(t, host).SerialNumber
	orders := r.pebble.Orders(t)
	r.src.Close()
	again := r.newSource(t)
	addr := serveTLS(t, testTLS(again))
	leaf, err := peerCertVerify(addr, host, host, r.pebble.Roots(t))
	if err != nil {
		t.Fatal(err)
	}
	if leaf.SerialNumber.Cmp(want) != 0 {
		t.Errorf("after a restart serial %x, want the cached %x", leaf.SerialNumber, want)
	}
	if n := r.pebble.Orders(t); n != orders {
		t.Errorf("%d orders after a restart, want %d", n, orders)
	}
}

// checkPrivate: dir is 0700 and every file in it 0600.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("%s is %v, want 0700", dir, fi.Mode().Perm())
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 2 {
		t.Errorf("cache holds %d files, want the account key and a certificate", len(ents))
	}
	for _, e := range ents {
		fi, err := e.Info()
		if os.IsNotExist(err) {
			// autocert deletes its challenge tokens after validating, and
			// each write passes through a ".tmp" file: an entry listed a
			// moment ago may be gone.
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
}
