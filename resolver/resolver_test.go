package resolver_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/resolver"
)

var ctx = context.Background()

func newResolver(t *testing.T, d *testenv.DNS, o resolver.Options) *resolver.Resolver {
	t.Helper()
	o.Servers = []string{d.Addr}
	r, err := resolver.New(o)
	testkit.Must(t, err)
	return r
}

func TestLookups(t *testing.T) {
	long := strings.Repeat("x", 250)
	var txt []string
	for range 24 { // about 6 KB: truncated over UDP, whole over TCP
		txt = append(txt, `"`+long+`"`)
	}
	d := testenv.NewDNS(t,
		"example.test. 300 IN MX 20 mx2.example.test.",
		"example.test. 300 IN MX 10 mx1.example.test.",
		"example.test. 300 IN TXT \"v=spf1 \" \"-all\"",
		"mx1.example.test. 300 IN A 127.0.0.2",
		"mx1.example.test. 300 IN AAAA ::1",
		"big.example.test. 300 IN TXT "+strings.Join(txt, " "),
		"_25._tcp.mx1.example.test. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"2.0.0.127.in-addr.arpa. 300 IN PTR mx1.example.test.",
		"alias.example.test. 300 IN CNAME mx1.example.test.",
	)
	r := newResolver(t, d, resolver.Options{})

	mx, a, err := r.MX(ctx, "Example.TEST")
	testkit.Must(t, err)
	if len(mx) != 2 || mx[0].Host != "mx1.example.test." || mx[0].Pref != 10 || mx[1].Host != "mx2.example.test." || a.NotFound {
		t.Errorf("MX = %v, %+v", mx, a)
	}
	if mx, a, err := r.MX(ctx, "mx1.example.test"); err != nil || len(mx) != 0 || a.NotFound {
		t.Errorf("MX of a name without MX (NODATA) = %v, %+v, %v", mx, a, err)
	}
	if mx, a, err := r.MX(ctx, "nowhere.example.test"); err != nil || len(mx) != 0 || !a.NotFound {
		t.Errorf("MX of a name that does not exist = %v, %+v, %v", mx, a, err)
	}
	ips, _, err := r.IPs(ctx, "mx1.example.test")
	testkit.Must(t, err)
	if want := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1")}; !slices.Equal(ips, want) {
		t.Errorf("IPs = %v, want %v", ips, want)
	}
	if ips, _, err := r.IPs(ctx, "alias.example.test"); err != nil || len(ips) != 2 {
		t.Errorf("IPs through a CNAME = %v, %v", ips, err)
	}
	if got, _, err := r.TXT(ctx, "example.test"); err != nil || !slices.Equal(got, []string{"v=spf1 -all"}) {
		t.Errorf("TXT = %q, %v (character-strings must be joined)", got, err)
	}
	if got, _, err := r.TXT(ctx, "big.example.test"); err != nil || len(got) != 1 || len(got[0]) != 24*250 {
		t.Errorf("a TXT larger than a UDP answer: %d records, %v", len(got), err)
	}
	tlsa, _, err := r.TLSA(ctx, "mx1.example.test", 25)
	if err != nil || len(tlsa) != 1 || tlsa[0].Usage != 3 || tlsa[0].Selector != 1 || tlsa[0].MatchingType != 1 {
		t.Errorf("TLSA = %v, %v", tlsa, err)
	}
	if names, err := r.LookupAddr(ctx, "127.0.0.2"); err != nil || !slices.Equal(names, []string{"mx1.example.test."}) {
		t.Errorf("LookupAddr = %v, %v", names, err)
	}
	if _, err := r.Lookup(ctx, "bad..name", dns.TypeA); !errors.Is(errors.Invalid, err) {
		t.Errorf("Lookup of a malformed name: %v", err)
	}
}

// The net.Resolver-shaped methods fail as the standard library does, which
// is what the SPF, DKIM and DMARC libraries read.
func TestNetErrors(t *testing.T) {
	d := testenv.NewDNS(t, "example.test. 300 IN A 127.0.0.2", "broken.test. 300 IN A 127.0.0.3")
	d.Fail("broken.test", dns.RcodeServerFailure)
	r := newResolver(t, d, resolver.Options{Timeout: time.Second})
	for _, tt := range []struct {
		name                string
		notFound, temporary bool
	}{
		{"nowhere.test", true, false}, // NXDOMAIN
		{"example.test", true, false}, // NODATA
		{"broken.test", false, true},  // SERVFAIL
	} {
		_, err := r.LookupTXT(ctx, tt.name)
		var de *net.DNSError
		if !errors.As(err, &de) || de.IsNotFound != tt.notFound || de.Temporary() != tt.temporary {
			t.Errorf("LookupTXT(%s) = %#v, want IsNotFound %v, Temporary %v", tt.name, err, tt.notFound, tt.temporary)
		}
	}
	if _, _, err := r.MX(ctx, "broken.test"); !errors.Is(errors.Unavailable, err) {
		t.Errorf("MX of a failing name: %v, want Unavailable", err)
	}
}

// A server that never answers costs at most the timeout, and is a
// temporary failure.
func TestTimeoutBounded(t *testing.T) {
	d := testenv.NewDNS(t, "slow.test. 300 IN MX 10 mx.slow.test.")
	d.Silence("slow.test", true)
	r := newResolver(t, d, resolver.Options{Timeout: 1500 * time.Millisecond})
	start := time.Now()
	_, err := r.LookupMX(ctx, "slow.test")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a silent server held the lookup %v", took)
	}
	var de *net.DNSError
	if !errors.As(err, &de) || !de.Temporary() {
		t.Errorf("silent server: %v, want a temporary DNS error", err)
	}
}

// Answers, negative ones too, are cached for their TTL and asked again
// after it.
func TestCache(t *testing.T) {
	d := testenv.NewDNS(t, "example.test. 60 IN A 127.0.0.2")
	clock := testkit.NewClock(time.Now())
	r := newResolver(t, d, resolver.Options{Now: clock.Now})
	ask := func(name string) {
		t.Helper()
		if _, err := r.Lookup(ctx, name, dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	ask("example.test")
	ask("nowhere.test")
	n := d.Queries()
	for range 5 {
		ask("example.test")
		ask("nowhere.test")
	}
	if d.Queries() != n {
		t.Errorf("cached answers were asked again: %d more questions", d.Queries()-n)
	}
	clock.Add(61 * time.Second)
	ask("example.test")
	ask("nowhere.test")
	if d.Queries() != n+2 {
		t.Errorf("after the TTL: %d more questions, want 2", d.Queries()-n)
	}
}

// The AD bit makes an answer Authenticated only for a resolver told to
// trust it.
func TestAuthenticatedData(t *testing.T) {
	d := testenv.NewDNS(t, "_25._tcp.mx.example.test. 300 IN TLSA 3 1 1 00")
	d.SetAD(true)
	for _, trust := range []bool{false, true} {
		r := newResolver(t, d, resolver.Options{TrustAD: trust})
		_, a, err := r.TLSA(ctx, "mx.example.test", 25)
		testkit.Must(t, err)
		if a.Authenticated != trust {
			t.Errorf("TrustAD %v: Authenticated = %v", trust, a.Authenticated)
		}
	}
	d.SetAD(false)
	r := newResolver(t, d, resolver.Options{TrustAD: true})
	if _, a, _ := r.TLSA(ctx, "mx.example.test", 25); a.Authenticated {
		t.Error("an answer without AD is Authenticated")
	}
}

func TestNoServers(t *testing.T) {
	if _, err := resolver.New(resolver.Options{Servers: []string{"127.0.0.1"}}); !errors.Is(errors.Invalid, err) {
		t.Errorf("a server without a port: %v", err)
	}
}

func Example() {
	r, err := resolver.New(resolver.Options{Servers: []string{"127.0.0.1:53"}, Timeout: 3 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Servers())
	// Output: [127.0.0.1:53]
}

// TestCacheBytes: large answers (which a sender can make the MX ask for)
// are bounded by their size, not only their number: the cache stays
// under CacheBytes, an answer larger than a 64th of it is not kept, and
// every answer is still right.
func TestCacheBytes(t *testing.T) {
	d := testenv.NewDNS(t)
	big := strings.Repeat("x", 4000)
	for i := range 200 {
		d.AddTXT(fmt.Sprintf("k%d.big.test", i), 300, fmt.Sprintf("%d:%s", i, big))
	}
	huge := strings.Repeat("y", 20000) // over TCP
	d.AddTXT("huge.big.test", 300, huge)
	const limit = 512 << 10
	r := newResolver(t, d, resolver.Options{CacheBytes: limit})
	for round := range 2 {
		for i := range 200 {
			txt, _, err := r.TXT(ctx, fmt.Sprintf("k%d.big.test", i))
			if err != nil || len(txt) != 1 || txt[0] != fmt.Sprintf("%d:%s", i, big) {
				t.Fatalf("round %d, k%d: %d records, %v", round, i, len(txt), err)
			}
			if _, b := r.CacheUsage(); b > limit {
				t.Fatalf("cache holds %d bytes, over %d", b, limit)
			}
		}
	}
	n, b := r.CacheUsage()
	if n == 0 || n >= 200 || b < limit/2 {
		t.Errorf("cache holds %d answers, %d bytes: want some, not all 200, and near the bound", n, b)
	}
	for range 2 {
		txt, _, err := r.TXT(ctx, "huge.big.test")
		if err != nil || len(txt) != 1 || txt[0] != huge {
			t.Fatalf("huge answer: %d records, %v", len(txt), err)
		}
	}
	before := d.Queries()
	r.TXT(ctx, "huge.big.test")
	if d.Queries() == before {
		t.Error("an answer over a 64th of CacheBytes was cached")
	}
}
