package mailauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/resolver"
)

// What the tests share: a real DNS server (testenv.DNS) with published
// SPF, DKIM and DMARC records, a resolver.Resolver asking it, keys to sign
// test messages with, and a Checker over them.

// client is the SMTP client's address in the tests.
var client = netip.MustParseAddr("192.0.2.10")

// The test's signing keys, made once.
var keys = sync.OnceValue(func() struct {
	ed  ed25519.PrivateKey
	rsa *rsa.PrivateKey
} {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return struct {
		ed  ed25519.PrivateKey
		rsa *rsa.PrivateKey
	}{ed, rk}
})

// keyRecords returns the TXT records of selectors "ed" (Ed25519, RFC 8463)
// and "rsa" (RSA 2048) at domain.
func keyRecords(domain string) []string {
	k := keys()
	pub, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		panic(err)
	}
	return []string{
		txt("ed._domainkey."+domain, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(k.ed.Public().(ed25519.PublicKey))),
		txt("rsa._domainkey."+domain, rsaKeyRecord(pub)),
	}
}

func rsaKeyRecord(pkix []byte) string {
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pkix)
}

// txt is a zone-file TXT line, the value split into strings of at most 255
// bytes (RFC 1035 3.3.14; RFC 7208 3.3 and RFC 6376 3.6.2.2 join them).
func txt(name, value string) string {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, `"`+value[:255]+`"`)
		value = value[255:]
	}
	parts = append(parts, `"`+value+`"`)
	return fmt.Sprintf("%s. 300 IN TXT %s", name, strings.Join(parts, " "))
}

// records are the test world's DNS.
func records() []string {
	rrs := []string{
		// SPF, without DMARC.
		txt("spf-pass.example", "v=spf1 ip4:192.0.2.10 -all"),
		txt("spf-fail.example", "v=spf1 -all"),
		txt("spf-soft.example", "v=spf1 ~all"),
		txt("spf-neutral.example", "v=spf1 ?all"),
		"spf-none.example. 300 IN A 192.0.2.99",
		txt("spf-perm.example", "v=spf1 ip4:192.0.2.10 -all"),
		txt("spf-perm.example", "v=spf1 a -all"), // two records: permerror (RFC 7208 4.5)
		txt("spf-syntax.example", "v=spf1 bogus:x -all"),
		txt("helo.example", "v=spf1 ip4:192.0.2.0/24 -all"),
		// DKIM keys, and DMARC p=reject so that only aligned DKIM passes.
		txt("_dmarc.dkim.example", "v=DMARC1; p=reject"),
		// DMARC alignment.
		txt("_dmarc.relaxed.example", "v=DMARC1; p=reject"),
		txt("mail.relaxed.example", "v=spf1 ip4:192.0.2.10 -all"),
		txt("_dmarc.strict.example", "v=DMARC1; p=reject; aspf=s; adkim=s"),
		txt("mail.strict.example", "v=spf1 ip4:192.0.2.10 -all"),
		txt("_dmarc.reject.example", "v=DMARC1; p=reject"),
		txt("reject.example", "v=spf1 -all"),
		txt("_dmarc.pnone.example", "v=DMARC1; p=none"),
		txt("pnone.example", "v=spf1 -all"),
		txt("_dmarc.quarantine.example", "v=DMARC1;p=quarantine"),
		txt("quarantine.example", "v=spf1 -all"),
		txt("_dmarc.org.example", "v=DMARC1; p=reject; sp=quarantine"),
		txt("_dmarc.pct.example", "v=DMARC1; p=reject; pct=50"),
		txt("pct.example", "v=spf1 -all"),
		txt("norecord.example", "v=spf1 -all"),
		txt("_dmarc.twice.example", "v=DMARC1; p=reject"),
		txt("_dmarc.twice.example", "v=DMARC1; p=none"),
		txt("_dmarc.badrecord.example", "v=DMARC1; p=bounce"),
		txt("_dmarc.notdmarc.example", "v=spf1 -all"),
		txt("_dmarc.tempdmarc.example", "v=DMARC1; p=reject"), // answered SERVFAIL
		txt("_dmarc.spftemp.example", "v=DMARC1; p=reject"),
		txt("_dmarc.spftemp-none.example", "v=DMARC1; p=none"),
		// Our own domain: whatever its DNS says.
		txt("ours.example", "v=spf1 ip4:192.0.2.10 -all"),
		txt("_dmarc.ours.example", "v=DMARC1; p=none"),
	}
	for _, d := range []string{"dkim.example", "mail.relaxed.example", "mail.strict.example",
		"ours.example", "sub.ours.example", "spf-temp.example", "spftemp.example", "tempdmarc.example", "elsewhere.example"} {
		rrs = append(rrs, keyRecords(d)...)
	}
	return rrs
}

// world is a DNS server holding records() and a Checker asking it.
type world struct {
	dns *testenv.DNS
	c   *Checker
}

func newWorld(t testing.TB, edit func(*Options)) *world {
	t.Helper()
	d := testenv.NewDNS(t, records()...)
	for _, n := range []string{"spf-temp.example", "_dmarc.tempdmarc.example", "spftemp.example", "spftemp-none.example",
		"slow._domainkey.dkim.example", "slow._domainkey.ours.example", "_dmarc.ours.example"} {
		d.Fail(n, dns.RcodeServerFailure)
	}
	r, err := resolver.New(resolver.Options{Servers: []string{d.Addr}, Timeout: 2 * time.Second, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Hostname: "mx.test",
		Resolver: r,
		Hosted: func(_ context.Context, domain string) (bool, error) {
			if domain == "broken-hosted.example" {
				return false, errors.E("test.Hosted", errors.Unavailable, errors.Str("directory down"))
			}
			return domain == "ours.example" || domain == "bücher-ours.example", nil // the directory may hold U-labels
		},
		Sample: func() int { return 0 },
	}
	if edit != nil {
		edit(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &world{dns: d, c: c}
}

// message builds a CRLF message with the given header lines and a body.
func message(header ...string) []byte {
	return []byte(strings.Join(header, "\r\n") + "\r\nSubject: test\r\nDate: Sat, 14 Mar 2026 15:09:26 +0000\r\n" +
		"Message-ID: <t@test>\r\n\r\nHello,\r\nthis is a test.\r\n")
}

// sign signs msg with d= domain and the named selector ("ed", "rsa", or any
// other with the Ed25519 key) and returns the signed message.
func sign(t testing.TB, msg []byte, domain, selector string) []byte {
	t.Helper()
	var signer crypto.Signer = keys().ed
	if selector == "rsa" {
		signer = keys().rsa
	}
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
