package domaincheck

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/mtasts"
	"github.com/sealpost/sealpost/resolver"
)

// setup publishes example.org's records on a real DNS server on loopback
// and serves its MTA-STS policy over HTTPS (a throwaway CA's certificate
// for the mail host and mta-sts.example.org), the same port standing for
// implicit-TLS IMAP and submission.
func setup(t *testing.T, certNotAfter time.Time) (*testenv.DNS, Expect, Options) {
	t.Helper()
	ca := testenv.NewCA(t)
	cert := ca.Issue(t, certNotAfter, "mail.example.org", "mta-sts.example.org")
	policy, err := mtasts.PolicyText(mtasts.Enforce, []string{"mail.example.org"}, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(policy)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the checks' refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(p)

	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key := DKIMKey{Selector: "sp1", Value: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}
	srvRR := func(name string, port int) string {
		if port == 0 {
			return name + ".example.org. 300 IN SRV 0 0 0 ."
		}
		return fmt.Sprintf("%s.example.org. 300 IN SRV 0 1 %d mail.example.org.", name, port)
	}
	d := testenv.NewDNS(t,
		"example.org. 300 IN MX 10 mail.example.org.",
		"mail.example.org. 300 IN A 127.0.0.1",
		"1.0.0.127.in-addr.arpa. 300 IN PTR mail.example.org.",
		`example.org. 300 IN TXT "v=spf1 mx -all"`,
		`sp1._domainkey.example.org. 300 IN TXT "`+key.Value+`"`,
		`_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject"`,
		`_mta-sts.example.org. 300 IN TXT "`+mtasts.TXTRecord(policy)+`"`,
		"mta-sts.example.org. 300 IN CNAME mail.example.org.",
		`_smtp._tls.example.org. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"`,
		srvRR("_submissions._tcp", port), srvRR("_imaps._tcp", port), srvRR("_submission._tcp", 0),
		srvRR("_imap._tcp", 0), srvRR("_sieve._tcp", 0), srvRR("_autodiscover._tcp", port),
		"autoconfig.example.org. 300 IN CNAME mail.example.org.",
		"autodiscover.example.org. 300 IN CNAME mail.example.org.",
	)
	e := Expect{Domain: "example.org", Host: "mail.example.org", DKIM: []DKIMKey{key}, MTASTSID: mtasts.PolicyID(policy),
		Ports: Ports{Submissions: port, IMAPS: port, HTTPS: port}}
	return d, e, Options{RootCAs: ca.Pool, Timeout: 5 * time.Second}
}

func run(t *testing.T, d *testenv.DNS, e Expect, o Options) map[string]Result {
	t.Helper()
	r, err := resolver.New(resolver.Options{Servers: []string{d.Addr}, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	o.Resolver = r
	rs, err := Check(context.Background(), e, o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Result{}
	var lines []string
	for _, r := range rs {
		out[r.Item] = r
		lines = append(lines, r.String())
	}
	t.Logf("\n%s", strings.Join(lines, "\n"))
	return out
}

func TestAllOK(t *testing.T) {
	d, e, o := setup(t, time.Now().Add(90*24*time.Hour))
	got := run(t, d, e, o)
	want := []string{"MX", "A/AAAA", "PTR 127.0.0.1", "SPF", "DKIM sp1", "DMARC", "MTA-STS", "TLS-RPT",
		"SRV _submissions._tcp", "SRV _imaps._tcp", "SRV _submission._tcp", "SRV _imap._tcp", "SRV _sieve._tcp",
		"SRV _autodiscover._tcp", "autoconfig", "autodiscover", "TLS submissions", "TLS imaps"}
	for _, item := range want {
		if r, ok := got[item]; !ok || r.Status != OK {
			t.Errorf("%s: %v", item, r)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d items, want %d", len(got), len(want))
	}
}

// Each broken record gives its item's FAIL (or WARN), with what to do.
func TestBroken(t *testing.T) {
	for _, c := range []struct {
		name   string
		break_ func(d *testenv.DNS, e *Expect)
		item   string
		want   Status
		detail string
	}{
		{"MX elsewhere", func(d *testenv.DNS, e *Expect) {
			d.Remove("example.org.", dns.TypeMX)
			d.Add(t, "example.org. 300 IN MX 10 mx.elsewhere.example.")
		}, "MX", Fail, "not mail.example.org"},
		{"no MX", func(d *testenv.DNS, e *Expect) { d.Remove("example.org.", dns.TypeMX) }, "MX", Fail, "none"},
		{"no PTR", func(d *testenv.DNS, e *Expect) { d.Remove("1.0.0.127.in-addr.arpa.", dns.TypePTR) }, "PTR 127.0.0.1", Fail, "no reverse DNS"},
		{"wrong PTR", func(d *testenv.DNS, e *Expect) {
			d.Remove("1.0.0.127.in-addr.arpa.", dns.TypePTR)
			d.Add(t, "1.0.0.127.in-addr.arpa. 300 IN PTR localhost.")
		}, "PTR 127.0.0.1", Fail, "not mail.example.org"},
		{"SPF excludes", func(d *testenv.DNS, e *Expect) {
			d.Remove("example.org.", dns.TypeTXT)
			d.Add(t, `example.org. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"`)
		}, "SPF", Fail, "fail"},
		{"SPF softfail", func(d *testenv.DNS, e *Expect) {
			d.Remove("example.org.", dns.TypeTXT)
			d.Add(t, `example.org. 300 IN TXT "v=spf1 mx ~all"`)
		}, "SPF", Warn, "~all"},
		{"no SPF", func(d *testenv.DNS, e *Expect) { d.Remove("example.org.", dns.TypeTXT) }, "SPF", Fail, "no SPF record"},
		{"DKIM other key", func(d *testenv.DNS, e *Expect) {
			d.Remove("sp1._domainkey.example.org.", dns.TypeTXT)
			d.Add(t, `sp1._domainkey.example.org. 300 IN TXT "v=DKIM1; k=ed25519; p=AAAAC3NzaC1lZDI1NTE5AAAAIHx9"`)
		}, "DKIM sp1", Fail, "not the key held here"},
		{"DKIM missing", func(d *testenv.DNS, e *Expect) { d.Remove("sp1._domainkey.example.org.", dns.TypeTXT) }, "DKIM sp1", Fail, "no record"},
		{"DMARC none", func(d *testenv.DNS, e *Expect) {
			d.Remove("_dmarc.example.org.", dns.TypeTXT)
			d.Add(t, `_dmarc.example.org. 300 IN TXT "v=DMARC1; p=none"`)
		}, "DMARC", Warn, "p=none"},
		{"no DMARC", func(d *testenv.DNS, e *Expect) { d.Remove("_dmarc.example.org.", dns.TypeTXT) }, "DMARC", Fail, "0 DMARC records"},
		{"MTA-STS old id", func(d *testenv.DNS, e *Expect) {
			d.Remove("_mta-sts.example.org.", dns.TypeTXT)
			d.Add(t, `_mta-sts.example.org. 300 IN TXT "v=STSv1; id=old1"`)
		}, "MTA-STS", Fail, "has not the policy's id"},
		{"MTA-STS unreachable", func(d *testenv.DNS, e *Expect) {
			d.Remove("mta-sts.example.org.", dns.TypeCNAME)
			d.Add(t, "mta-sts.example.org. 300 IN A 127.0.0.2")
		}, "MTA-STS", Fail, "could not be fetched"},
		{"no TLS-RPT", func(d *testenv.DNS, e *Expect) { d.Remove("_smtp._tls.example.org.", dns.TypeTXT) }, "TLS-RPT", Warn, "0 TLS-RPT"},
		{"SRV wrong port", func(d *testenv.DNS, e *Expect) {
			d.Remove("_imaps._tcp.example.org.", dns.TypeSRV)
			d.Add(t, "_imaps._tcp.example.org. 300 IN SRV 0 1 993 mail.example.org.")
		}, "SRV _imaps._tcp", Warn, "not what is served"},
		{"no autoconfig", func(d *testenv.DNS, e *Expect) { d.Remove("autoconfig.example.org.", dns.TypeANY) }, "autoconfig", Warn, "does not reach"},
		{"certificate for another name", func(d *testenv.DNS, e *Expect) {
			e.Host = "mx.example.org"
			d.Add(t, "mx.example.org. 300 IN A 127.0.0.1")
		}, "TLS imaps", Fail, "mx.example.org"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, e, o := setup(t, time.Now().Add(90*24*time.Hour))
			c.break_(d, &e)
			got := run(t, d, e, o)[c.item]
			if got.Status != c.want || !strings.Contains(got.Detail, c.detail) || got.Fix == "" {
				t.Errorf("%s: %v, want %v with %q and a fix", c.item, got, c.want, c.detail)
			}
		})
	}
}

func TestExpiringCertificate(t *testing.T) {
	d, e, o := setup(t, time.Now().Add(5*24*time.Hour))
	got := run(t, d, e, o)
	if r := got["TLS imaps"]; r.Status != Warn || !strings.Contains(r.Detail, "expires") {
		t.Errorf("%v", r)
	}
}
