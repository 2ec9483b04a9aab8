package e2e

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/dkimsign"
	"github.com/sealpost/sealpost/internal/testenv"
)

// TestDomainRecords runs `sealpost domain records` against the demo's data
// folder while the demo runs: every line is a comment or a record that
// miekg/dns parses; the DKIM records are the demo domain's keys on disk
// (an Ed25519 key and an RSA 2048 key). A rotation by command, while the
// demo runs, lists the new keys and keeps the old ones.
func TestDomainRecords(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))

	records := func() map[string][]string {
		t.Helper()
		out := mustSealpost(t, "", "domain", "records", "demo.example", "--data", data)
		got := map[string][]string{} // "name TYPE" → data (TXT strings joined)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.HasPrefix(line, ";") {
				continue
			}
			rr, err := dns.NewRR(line)
			if err != nil || rr == nil {
				t.Fatalf("%q does not parse: %v", line, err)
			}
			key := rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
			v := strings.TrimPrefix(rr.String(), rr.Header().String())
			if txt, ok := rr.(*dns.TXT); ok {
				v = strings.Join(txt.Txt, "")
			}
			got[key] = append(got[key], v)
		}
		return got
	}
	got := records()
	for key, want := range map[string]string{
		"demo.example. MX":                    "10 localhost.",
		"_dmarc.demo.example. TXT":            "v=DMARC1; p=reject",
		"mta-sts.demo.example. CNAME":         "localhost.",
		"_smtp._tls.demo.example. TXT":        "v=TLSRPTv1; rua=mailto:tlsrpt@demo.example",
		"_submissions._tcp.demo.example. SRV": "0 1 2465 localhost.", // --data: the demo's documented ports
	} {
		if len(got[key]) != 1 || got[key][0] != want {
			t.Errorf("%s = %q, want %q", key, got[key], want)
		}
	}
	if v := got["_mta-sts.demo.example. TXT"]; len(v) != 1 || !strings.HasPrefix(v[0], "v=STSv1; id=") {
		t.Errorf("MTA-STS record %q", v)
	}

	keys, err := dkimsign.Records(filepath.Join(data, "keys", "dkim"), "demo.example")
	if err != nil || len(keys) != 2 {
		t.Fatalf("the demo domain's keys: %v %v", keys, err)
	}
	for _, k := range keys {
		v := got[k.Selector+"._domainkey.demo.example. TXT"]
		if len(v) != 1 || v[0] != k.Value {
			t.Errorf("%s: printed %q, the key on disk is %q", k.Selector, v, k.Value)
			continue
		}
		_, p, _ := strings.Cut(k.Value, "; p=")
		der, err := base64.StdEncoding.DecodeString(p)
		if err != nil {
			t.Fatalf("%s: %v", k.Selector, err)
		}
		switch k.Algorithm {
		case dkimsign.Ed25519:
			if !strings.Contains(k.Value, "k=ed25519") || len(der) != 32 {
				t.Errorf("%s: %q", k.Selector, k.Value)
			}
		case dkimsign.RSA:
			pub, err := x509.ParsePKIXPublicKey(der)
			if rsaPub, ok := pub.(*rsa.PublicKey); err != nil || !ok || rsaPub.N.BitLen() != 2048 {
				t.Errorf("%s: %T %v", k.Selector, pub, err)
			}
		}
	}

	out := mustSealpost(t, "", "domain", "dkim", "rotate", "demo.example", "--data", data)
	if !strings.Contains(out, "now signs with") {
		t.Fatalf("rotate: %s", out)
	}
	got = records()
	n := 0
	for key := range got {
		if strings.HasSuffix(key, "._domainkey.demo.example. TXT") {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d DKIM records after a rotation, want 4 (2 new, 2 replaced)", n)
	}
	for _, k := range keys {
		if v := got[k.Selector+"._domainkey.demo.example. TXT"]; len(v) != 1 || v[0] != k.Value {
			t.Errorf("the replaced key %s is no longer listed", k.Selector)
		}
	}

	if out, err := sealpost(t, "", "domain", "records", "nowhere.example", "--data", data); err == nil || !strings.Contains(out, "no DKIM keys") {
		t.Errorf("records of a domain not hosted: %v %s", err, out)
	}
}
