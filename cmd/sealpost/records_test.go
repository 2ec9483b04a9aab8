package main

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/dkimsign"
)

// parseZone parses every line of zoneRecords' output that is not a
// comment with miekg/dns, as a resolver's zone parser would read it.
func parseZone(t *testing.T, lines []string) []dns.RR {
	t.Helper()
	var rrs []dns.RR
	for _, l := range lines {
		if strings.HasPrefix(l, ";") {
			continue
		}
		rr, err := dns.NewRR(l)
		if err != nil || rr == nil {
			t.Fatalf("%q does not parse: %v", l, err)
		}
		if rr.Header().Ttl != recordTTL || rr.Header().Class != dns.ClassINET {
			t.Errorf("%q: TTL %d class %d", l, rr.Header().Ttl, rr.Header().Class)
		}
		rrs = append(rrs, rr)
	}
	return rrs
}

func TestZoneRecords(t *testing.T) {
	c := config.Default()
	c.Hostname = "mail.example.net"
	c.Listen = config.Listen{SMTP: ":25", Submissions: ":465", IMAPS: "[::]:993", ManageSieve: ":4190"}
	c.Legal.Web = ":443"
	rsaKey := make([]byte, 294) // the size of an RSA 2048 SubjectPublicKeyInfo
	rand.Read(rsaKey)
	dkim := []dkimsign.Record{
		{Selector: "sp202612e2", Algorithm: dkimsign.Ed25519, Value: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(rsaKey[:32])},
		{Selector: "sp202612r2", Algorithm: dkimsign.RSA, Value: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(rsaKey)},
		{Selector: "sp202612e", Algorithm: dkimsign.Ed25519, Value: "v=DKIM1; k=ed25519; p=x", Retiring: time.Now()},
	}
	lines, err := zoneRecords(c, "Example.ORG", dkim)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // name and type → the data, TXT strings joined
		"example.org. MX":                        "10 mail.example.net.",
		"example.org. TXT":                       "v=spf1 mx -all",
		"sp202612e2._domainkey.example.org. TXT": dkim[0].Value,
		"sp202612r2._domainkey.example.org. TXT": dkim[1].Value,
		"sp202612e._domainkey.example.org. TXT":  dkim[2].Value,
		"_dmarc.example.org. TXT":                "v=DMARC1; p=reject",
		"_mta-sts.example.org. TXT":              "v=STSv1; id=" + mtaSTSID(c),
		"mta-sts.example.org. CNAME":             "mail.example.net.",
		"_smtp._tls.example.org. TXT":            "v=TLSRPTv1; rua=mailto:tlsrpt@example.org",
		"_submissions._tcp.example.org. SRV":     "0 1 465 mail.example.net.",
		"_imaps._tcp.example.org. SRV":           "0 1 993 mail.example.net.",
		"_submission._tcp.example.org. SRV":      "0 0 0 .",
		"_imap._tcp.example.org. SRV":            "0 0 0 .",
		"mail.example.net. TXT":                  "v=spf1 a -all",
		"_sieve._tcp.example.org. SRV":           "0 1 4190 mail.example.net.",
		"autoconfig.example.org. CNAME":          "mail.example.net.",
		"autodiscover.example.org. CNAME":        "mail.example.net.",
		"_autodiscover._tcp.example.org. SRV":    "0 1 443 mail.example.net.",
	}
	got := map[string]string{}
	for _, rr := range parseZone(t, lines) {
		key := rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
		var data string
		switch rr := rr.(type) {
		case *dns.TXT:
			for _, s := range rr.Txt {
				if len(s) > 255 {
					t.Errorf("%s: a string of %d bytes", key, len(s))
				}
			}
			if key == "sp202612r2._domainkey.example.org. TXT" && len(rr.Txt) < 2 {
				t.Errorf("the RSA key record is one string of %d bytes", len(rr.Txt[0]))
			}
			data = strings.Join(rr.Txt, "")
		default:
			data = strings.TrimPrefix(rr.String(), rr.Header().String())
		}
		if _, dup := got[key]; dup {
			t.Errorf("%s twice", key)
		}
		got[key] = data
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d records, want %d:\n%s", len(got), len(want), strings.Join(lines, "\n"))
	}
	if !strings.Contains(strings.Join(lines, "\n"), "; replaced on ") {
		t.Error("the retiring key is not marked")
	}

	// The MTA-STS id is 1 to 32 letters and digits, and changes with the policy.
	id := mtaSTSID(c)
	if len(id) < 1 || len(id) > 32 || strings.ContainsFunc(id, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		t.Errorf("MTA-STS id %q", id)
	}
	for _, change := range []func(*config.Config){
		func(c *config.Config) { c.MTASTS.Mode = "testing" },
		func(c *config.Config) { c.MTASTS.MaxAge = config.Duration(24 * time.Hour) },
		func(c *config.Config) { c.Hostname = "mx2.example.net" },
	} {
		c2 := c
		change(&c2)
		if mtaSTSID(c2) == id {
			t.Errorf("the MTA-STS id did not change with the policy (%+v)", c2.MTASTS)
		}
	}
	if mtaSTSID(c) != id {
		t.Error("the MTA-STS id is not stable")
	}

	if _, err := zoneRecords(c, "not a domain", nil); err == nil {
		t.Error("zoneRecords accepted an invalid domain")
	}
}

func TestQuoteTXT(t *testing.T) {
	for in, want := range map[string]string{
		"":                       `""`,
		`a "quoted" \ value`:     `"a \"quoted\" \\ value"`,
		strings.Repeat("x", 255): `"` + strings.Repeat("x", 255) + `"`,
		strings.Repeat("x", 256): `"` + strings.Repeat("x", 255) + `" "x"`,
	} {
		if got := quoteTXT(in); got != want {
			t.Errorf("quoteTXT(%.20q) = %.40q, want %.40q", in, got, want)
		}
		// miekg/dns keeps the strings in presentation form (escaped).
		rr, err := dns.NewRR("x.example. 1 IN TXT " + quoteTXT(in))
		unescape := strings.NewReplacer(`\"`, `"`, `\\`, `\`)
		if err != nil || unescape.Replace(strings.Join(rr.(*dns.TXT).Txt, "")) != in {
			t.Errorf("%.20q does not round-trip: %v %v", in, rr, err)
		}
	}
}
