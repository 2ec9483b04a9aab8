package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestQuickstartServeCheck sets up a fresh machine with quickstart (in a
// temporary folder, with a throwaway CA's certificate), serves that
// configuration (its listeners moved to free loopback ports), signs in
// with the generated password, and checks the domain with `sealpost
// check` against a real DNS server publishing the records printed: every
// item OK. Then, with records broken, the right FAIL lines.
func TestQuickstartServeCheck(t *testing.T) {
	dir := t.TempDir()
	const domain, host = "qs.example", "mail.qs.example"
	ca := testenv.NewCA(t)
	cert := ca.Issue(t, time.Now().Add(90*24*time.Hour), host, "mta-sts."+domain, "autoconfig."+domain, "autodiscover."+domain)
	certFile, keyFile, caFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem"), filepath.Join(dir, "ca.pem")
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string][]byte{certFile: chain, caFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}),
		keyFile: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	etc, data := filepath.Join(dir, "etc"), filepath.Join(dir, "data")
	args := []string{"quickstart", domain, "--country", "IE", "--config-dir", etc, "--data", data, "--cert", certFile, "--key", keyFile}
	out := mustSealpost(t, "", args...)
	conf := filepath.Join(etc, "sealpost.toml")
	for _, want := range []string{"wrote " + conf, "created postmaster@" + domain, "recovery code", "sealpost check " + domain, "sealpost serve --config " + conf} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`password \(shown once\): (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no password printed:\n%s", out)
	}
	password := m[1]
	printed := zoneLines(out)
	if len(printed) < 15 {
		t.Fatalf("%d records printed:\n%s", len(printed), out)
	}
	// The records printed are those 'domain records' prints.
	if recs := zoneLines(mustSealpost(t, "", "domain", "records", domain, "--config", conf)); strings.Join(recs, "\n") != strings.Join(printed, "\n") {
		t.Errorf("quickstart printed\n%s\ndomain records prints\n%s", strings.Join(printed, "\n"), strings.Join(recs, "\n"))
	}
	if out, err := sealpost(t, "", args...); err == nil || !strings.Contains(out, "exists") {
		t.Errorf("a second quickstart: %v\n%s", err, out)
	}

	// Move the listeners to free ports (the web app on every address,
	// so that it speaks HTTPS), then serve.
	text, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]string{}
	for _, k := range []string{"smtp", "submission", "submissions", "imap", "imaps", "managesieve", "web"} {
		addr := freeAddr(t)
		if k == "web" {
			_, p, _ := net.SplitHostPort(addr)
			addr = "0.0.0.0:" + p
		}
		ports[k] = addr
		re := regexp.MustCompile(`(?m)^` + k + `( *)= "[^"]*"`)
		if !re.Match(text) {
			t.Fatalf("no %s in\n%s", k, text)
		}
		text = re.ReplaceAll(text, []byte(k+`${1}= "`+addr+`"`))
	}
	if err := os.WriteFile(conf, text, 0o640); err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, filepath.Join(dir, "serve.log"), "serve", "--config", conf)

	// The first account works with the password printed.
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	imap, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ports["imaps"], &tls.Config{ServerName: host, RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	imap.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(imap)
	r.ReadString('\n')
	fmt.Fprintf(imap, "a LOGIN postmaster@%s %s\r\n", domain, password)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "a ") {
			if !strings.HasPrefix(line, "a OK") {
				t.Errorf("LOGIN with the printed password: %s", line)
			}
			break
		}
	}
	imap.Close()

	// Publish what 'domain records' prints now (the same records, the SRV
	// ports those served), the host's address and its reverse.
	d := testenv.NewDNS(t, zoneLines(mustSealpost(t, "", "domain", "records", domain, "--config", conf))...)
	d.Add(t, host+". 300 IN A 127.0.0.1", "1.0.0.127.in-addr.arpa. 300 IN PTR "+host+".")
	check := func() (string, error) {
		return sealpost(t, "", "check", domain, "--config", conf, "--resolver", d.Addr, "--ca", caFile, "--timeout", "20s")
	}
	out, err = check()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "OK ") {
			t.Errorf("not OK: %s", l)
		}
	}
	for _, item := range []string{"MX", "A/AAAA", "PTR 127.0.0.1", "SPF", "DMARC", "MTA-STS", "TLS-RPT", "SRV _imaps._tcp", "autoconfig", "TLS smtp", "TLS submissions", "TLS imaps"} {
		if !regexp.MustCompile(`(?m)^OK +` + regexp.QuoteMeta(item) + ` `).MatchString(out) {
			t.Errorf("no OK line for %s:\n%s", item, out)
		}
	}
	if n := strings.Count(out, "OK   DKIM "); n != 2 {
		t.Errorf("%d DKIM keys checked, want 2:\n%s", n, out)
	}

	// Broken: the MX elsewhere, a DKIM key replaced, no reverse DNS.
	d.Remove(domain+".", dns.TypeMX)
	d.Add(t, domain+". 300 IN MX 10 mx.elsewhere.example.")
	var sel string
	for _, l := range printed {
		if f := strings.Fields(l); len(f) > 0 && strings.HasSuffix(f[0], "._domainkey."+domain+".") && strings.Contains(l, "k=ed25519") {
			sel = strings.TrimSuffix(f[0], "._domainkey."+domain+".")
			d.Remove(f[0], dns.TypeTXT)
			d.Add(t, f[0]+` 300 IN TXT "v=DKIM1; k=ed25519; p=MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="`)
		}
	}
	d.Remove("1.0.0.127.in-addr.arpa.", dns.TypePTR)
	out, err = check()
	if err == nil || !strings.Contains(out, "checks failed") {
		t.Errorf("check with broken records: %v\n%s", err, out)
	}
	for _, re := range []string{
		`(?m)^FAIL MX +points at 10 mx\.elsewhere\.example, not ` + host + ` — publish`,
		`(?m)^FAIL DKIM ` + sel + ` +the record at .* is not the key held here — publish`,
		`(?m)^FAIL PTR 127\.0\.0\.1 +no reverse DNS — ask`,
		// SPF's "mx" follows the MX: the host is no longer allowed.
		`(?m)^FAIL SPF +"v=spf1 mx -all" gives fail for 127\.0\.0\.1`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no line matching %s:\n%s", re, out)
		}
	}
	if strings.Count(out, "FAIL ") != 4 {
		t.Errorf("other FAIL lines than the four expected:\n%s", out)
	}
}

// zoneLines are the zone-file lines (records, not comments) of out.
func zoneLines(out string) []string {
	var recs []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 4 && strings.HasSuffix(f[0], ".") && f[2] == "IN" {
			recs = append(recs, l)
		}
	}
	return recs
}
