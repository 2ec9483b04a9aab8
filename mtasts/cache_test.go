package mtasts_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mtasts"
	"github.com/sealpost/sealpost/resolver"
)

const (
	policyOne = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n"
	policyTwo = "version: STSv1\nmode: testing\nmx: *.example.test\nmax_age: 86400\n"
	txtName   = "_mta-sts.example.test."
)

// env is example.test's MTA-STS: a real DNS server holding its _mta-sts
// record, and a real HTTPS server on loopback serving its policy with a
// certificate from a test CA for mta-sts.example.test, which the cache
// under test reaches through its injected dialer and trusts through its
// injected roots.
type env struct {
	dns   *testenv.DNS
	res   *resolver.Resolver
	ca    *testenv.CA
	clock *testkit.Clock
	file  string

	mu      sync.Mutex
	srv     *httptest.Server
	status  int
	ctype   string
	body    string
	fetches int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{status: http.StatusOK, ctype: "text/plain; charset=utf-8", body: policyOne,
		clock: testkit.NewClock(time.Now()), file: filepath.Join(t.TempDir(), "mta-sts.json")}
	e.dns = testenv.NewDNS(t, txtName+` 300 IN TXT "v=STSv1; id=one"`)
	var err error
	// No resolver cache: the tests change the record between lookups.
	e.res, err = resolver.New(resolver.Options{Servers: []string{e.dns.Addr}, CacheSize: -1})
	testkit.Must(t, err)
	e.ca = testenv.NewCA(t)
	e.serve(t, e.ca.Issue(t, time.Time{}, "mta-sts.example.test"))
	return e
}

// serve (re)starts the policy server with cert.
func (e *env) serve(t *testing.T, cert tls.Certificate) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(e.handle))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
}

func (e *env) handle(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fetches++
	if r.Host != "mta-sts.example.test" || r.URL.Path != "/.well-known/mta-sts.txt" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", e.ctype)
	if e.status/100 == 3 {
		w.Header().Set("Location", "https://elsewhere.example.test/.well-known/mta-sts.txt")
	}
	w.WriteHeader(e.status)
	io.WriteString(w, e.body)
}

// set changes what the policy server answers.
func (e *env) set(status int, ctype, body string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status, e.ctype, e.body = status, ctype, body
}

// wantFetches checks how many requests the policy server has had.
func (e *env) wantFetches(t *testing.T, want int, when string) {
	t.Helper()
	e.mu.Lock()
	n := e.fetches
	e.mu.Unlock()
	if n != want {
		t.Fatalf("%s: %d fetches, want %d", when, n, want)
	}
}

// setTXT replaces the _mta-sts records.
func (e *env) setTXT(t *testing.T, records ...string) {
	e.dns.Remove(txtName, dns.TypeTXT)
	for _, r := range records {
		e.dns.Add(t, txtName+" 300 IN TXT "+r)
	}
}

func (e *env) open(t *testing.T) *mtasts.Cache {
	t.Helper()
	c, err := mtasts.Open(mtasts.Options{Resolver: e.res, File: e.file, RootCAs: e.ca.Pool, Now: e.clock.Now,
		Timeout: 10 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "mta-sts.example.test:443" {
				return nil, fmt.Errorf("test dialer: no route to %s", addr)
			}
			e.mu.Lock()
			to := e.srv.Listener.Addr().String()
			e.mu.Unlock()
			return (&net.Dialer{}).DialContext(ctx, network, to)
		}})
	testkit.Must(t, err)
	return c
}

// get calls Get and checks that the policy is the one with mode want ("" for
// none).
func get(t *testing.T, c *mtasts.Cache, want mtasts.Mode) *mtasts.Policy {
	t.Helper()
	p, err := c.Get(context.Background(), "Example.Test.")
	testkit.Must(t, err)
	switch {
	case want == "" && p != nil:
		t.Fatalf("Get = %+v, want no policy", p)
	case want != "" && (p == nil || p.Mode != want):
		t.Fatalf("Get = %+v, want a policy in mode %s", p, want)
	}
	return p
}

func TestGetFetchesAndCaches(t *testing.T) {
	e := newEnv(t)
	c := e.open(t)
	p := get(t, c, mtasts.Enforce)
	if !p.Match("mx.example.test") || p.Match("other.example.test") || p.MaxAge != 24*time.Hour {
		t.Fatalf("policy %+v", p)
	}
	e.clock.Add(11 * time.Hour)
	get(t, c, mtasts.Enforce)
	e.wantFetches(t, 1, "one id within max_age/2")
	// Half-way to expiry, the same id is fetched again, keeping the policy
	// alive (and taking whatever it now says).
	e.set(http.StatusOK, "text/plain", policyTwo)
	e.clock.Add(2 * time.Hour)
	get(t, c, mtasts.Testing)
	e.wantFetches(t, 2, "after max_age/2")
}

// RFC 8461 5.1: a new id in the TXT record means a new policy.
func TestIDChangeRefetches(t *testing.T) {
	e := newEnv(t)
	c := e.open(t)
	get(t, c, mtasts.Enforce)
	e.set(http.StatusOK, "text/plain", policyTwo)
	get(t, c, mtasts.Enforce) // same id: the cache answers
	e.setTXT(t, `"v=STSv1; id=two;"`)
	if p := get(t, c, mtasts.Testing); !p.Match("any.example.test") {
		t.Fatalf("after the id changed: %+v", p)
	}
	e.wantFetches(t, 2, "after the id changed")
}

// RFC 8461 3.3: when a new policy cannot be fetched, the cached one applies
// until it expires; the failed id is not tried again for five minutes.
func TestRefreshFailureKeepsPolicy(t *testing.T) {
	e := newEnv(t)
	c := e.open(t)
	get(t, c, mtasts.Enforce)
	e.setTXT(t, `"v=STSv1; id=two"`)
	e.set(http.StatusInternalServerError, "text/plain", "down")
	get(t, c, mtasts.Enforce)
	get(t, c, mtasts.Enforce)
	e.wantFetches(t, 2, "a failed id is not retried at once")
	e.set(http.StatusOK, "text/plain", policyTwo)
	e.clock.Add(6 * time.Minute)
	get(t, c, mtasts.Testing)

	// A policy that expires while its host is down no longer applies.
	e.set(http.StatusServiceUnavailable, "text/plain", "down")
	e.clock.Add(13 * time.Hour)
	get(t, c, mtasts.Testing) // refresh failed, still valid
	e.clock.Add(12 * time.Hour)
	get(t, c, "")
}

// What RFC 8461 3.3 refuses: each is an error of Fetch, and Get then finds
// no policy (none was cached).
func TestFetchRefused(t *testing.T) {
	other := testenv.NewCA(t)
	for _, tc := range []struct {
		name   string
		change func(*testing.T, *env)
		want   string
	}{
		{"redirect", func(_ *testing.T, e *env) { e.set(http.StatusFound, "text/plain", policyOne) }, "redirect"},
		{"permanent redirect", func(_ *testing.T, e *env) { e.set(http.StatusPermanentRedirect, "text/plain", policyOne) }, "redirect"},
		{"not found", func(_ *testing.T, e *env) { e.set(http.StatusNotFound, "text/plain", policyOne) }, "404"},
		{"content type html", func(_ *testing.T, e *env) { e.set(http.StatusOK, "text/html", policyOne) }, "text/html"},
		{"no content type", func(_ *testing.T, e *env) { e.set(http.StatusOK, "", policyOne) }, "content type"},
		{"not a policy", func(_ *testing.T, e *env) { e.set(http.StatusOK, "text/plain", "<html>hello</html>") }, "not a \"key: value\""},
		{"too large", func(_ *testing.T, e *env) {
			e.set(http.StatusOK, "text/plain", policyOne+strings.Repeat("x: y\r\n", 12000))
		}, "too large"},
		{"untrusted CA", func(t *testing.T, e *env) { e.serve(t, other.Issue(t, time.Time{}, "mta-sts.example.test")) }, "certificate"},
		{"certificate for another name", func(t *testing.T, e *env) { e.serve(t, e.ca.Issue(t, time.Time{}, "www.example.test")) }, "certificate"},
		{"expired certificate", func(t *testing.T, e *env) {
			e.serve(t, e.ca.Issue(t, time.Now().Add(-time.Minute), "mta-sts.example.test"))
		}, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.change(t, e)
			c := e.open(t)
			_, err := c.Fetch(context.Background(), "example.test")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Fetch: %v, want an error about %q", err, tc.want)
			}
			get(t, c, "")
		})
	}
}

// The cache survives a restart: a new Cache on the same file enforces the
// policy with the policy host down and the TXT record gone, until it
// expires.
func TestPersistence(t *testing.T) {
	e := newEnv(t)
	get(t, e.open(t), mtasts.Enforce)
	if fi, err := os.Stat(e.file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", fi, err)
	}
	e.set(http.StatusInternalServerError, "text/plain", "down")
	e.setTXT(t)
	c := e.open(t)
	get(t, c, mtasts.Enforce)
	e.dns.Fail(txtName, dns.RcodeServerFailure)
	get(t, c, mtasts.Enforce)
	e.wantFetches(t, 1, "after a restart")
	e.dns.Fail(txtName, 0)
	e.clock.Add(25 * time.Hour)
	get(t, e.open(t), "") // expired entries are not loaded

	testkit.Must(t, os.WriteFile(e.file, []byte("{not json"), 0o600))
	if _, err := mtasts.Open(mtasts.Options{Resolver: e.res, File: e.file}); !errors.Is(errors.Invalid, err) {
		t.Fatalf("Open on a corrupt file: %v, want Invalid", err)
	}
}

func TestNoPolicy(t *testing.T) {
	e := newEnv(t)
	c := e.open(t)
	for _, tc := range []struct {
		name    string
		records []string
	}{
		{"no record", nil},
		{"other TXT only", []string{`"v=spf1 -all"`}},
		{"two STSv1 records", []string{`"v=STSv1; id=one"`, `"v=STSv1; id=two"`}},
		{"no id", []string{`"v=STSv1; foo=bar"`}},
		{"id too long", []string{`"v=STSv1; id=` + strings.Repeat("a", 33) + `"`}},
		{"id not alphanumeric", []string{`"v=STSv1; id=a-b"`}},
		{"two ids", []string{`"v=STSv1; id=a; id=b"`}},
		{"empty field", []string{`"v=STSv1; ; id=a"`}},
		{"lower-case version", []string{`"v=stsv1; id=a"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.setTXT(t, tc.records...)
			get(t, c, "")
		})
	}
	e.wantFetches(t, 0, "without a valid record")
	// The name does not exist.
	p, err := c.Get(context.Background(), "nowhere.test")
	if p != nil || err != nil {
		t.Fatalf("Get(nowhere.test) = %v, %v", p, err)
	}
	// A record whose policy cannot be fetched: as if there were none.
	e.setTXT(t, `"v=STSv1 ;id=1 ; ext=v;"`, `"v=spf1 -all"`)
	e.set(http.StatusNotFound, "text/plain", "")
	get(t, c, "")
	e.wantFetches(t, 1, "a valid record")
	// DNS without an answer and nothing cached: the caller defers.
	e.dns.Fail(txtName, dns.RcodeServerFailure)
	_, err = c.Get(context.Background(), "example.test")
	testkit.WantKind(t, "Get with SERVFAIL", err, errors.Unavailable)
	_, err = c.Get(context.Background(), "not a domain")
	testkit.WantKind(t, "Get of a bad name", err, errors.Invalid)
}

// Concurrent Gets of a domain fetch its policy once.
func TestConcurrentGet(t *testing.T) {
	e := newEnv(t)
	c := e.open(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if p, err := c.Get(context.Background(), "example.test"); err != nil || p == nil {
				t.Errorf("Get: %v %v", p, err)
			}
		})
	}
	wg.Wait()
	e.wantFetches(t, 1, "20 concurrent Gets")
}

// An enforced policy's tls.Config completes a real handshake only with a
// certificate valid for the MX host under WebPKI (here the policy server
// stands in for an MX); testing mode checks nothing.
func TestTLSConfig(t *testing.T) {
	e := newEnv(t)
	addr := e.srv.Listener.Addr().String()
	base := &tls.Config{InsecureSkipVerify: true, RootCAs: e.ca.Pool} // opportunistic
	enforce := &mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"*.example.test"}, MaxAge: time.Hour}
	dial := func(cfg *tls.Config) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	cfg := enforce.TLSConfig(base, "MTA-STS.example.test.")
	if cfg.ServerName != "mta-sts.example.test" || base.VerifyConnection != nil {
		t.Fatalf("ServerName %q; base changed: %v", cfg.ServerName, base.VerifyConnection != nil)
	}
	testkit.Must(t, dial(cfg))
	if err := dial(enforce.TLSConfig(base, "mx.example.test")); err == nil {
		t.Fatal("enforce: a certificate for another name was accepted")
	}
	if err := dial(enforce.TLSConfig(&tls.Config{InsecureSkipVerify: true}, "mta-sts.example.test")); err == nil {
		t.Fatal("enforce: a certificate of an untrusted CA was accepted")
	}
	report := &mtasts.Policy{Mode: mtasts.Testing, MX: []string{"*.example.test"}, MaxAge: time.Hour}
	testkit.Must(t, dial(report.TLSConfig(base, "mx.example.test")))
	var none *mtasts.Policy
	testkit.Must(t, dial(none.TLSConfig(base, "mx.example.test")))
}
