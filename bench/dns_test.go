package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/internal/testkit"
)

// TestDNSAndDKIM: RunDNS publishes a DKIM key given with --txt (longer
// than one 255-byte string) and a record given with --rr; a message
// signed by RunSMTP's signer verifies (go-msgauth) with the key fetched
// from it over UDP.
func TestDNSAndDKIM(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	testkit.Must(t, err)
	keyTXT := "v=DKIM1; k=ed25519; n=" + strings.Repeat("x", 300) + "; p=" + base64.StdEncoding.EncodeToString(pub)
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	testkit.Must(t, err)
	addr := ln.LocalAddr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &testkit.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- RunDNS(ctx, DNSOptions{Addr: addr, Records: []string{`bench.test. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`},
			TXT: []string{"s1._domainkey.bench.test=" + keyTXT}}, out)
	}()
	for i := 0; !strings.Contains(out.String(), "dns "); i++ {
		if i == 100 {
			t.Fatalf("RunDNS did not start: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	lookup := func(name string) ([]string, error) {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
		m.SetEdns0(4096, false)
		r, err := dns.Exchange(m, addr)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, rr := range r.Answer {
			out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
		}
		return out, nil
	}
	if got, err := lookup("bench.test"); err != nil || len(got) != 1 || got[0] != "v=spf1 ip4:127.0.0.0/8 -all" {
		t.Fatalf("SPF record: %q, %v", got, err)
	}
	d := &DKIM{Selector: "s1", Key: priv}
	signed, err := d.sign(Message(1, 2048, "bench@bench.test", "bob@demo.example"), "bench@bench.test")
	testkit.Must(t, err)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{LookupTXT: lookup})
	testkit.Must(t, err)
	if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "bench.test" {
		t.Fatalf("verifications: %+v", vs)
	}
	// Bad input is refused.
	if err := RunDNS(ctx, DNSOptions{Addr: "127.0.0.1:0", TXT: []string{"novalue"}}, nil); err == nil {
		t.Error("RunDNS took --txt without '='")
	}
	cancel()
	testkit.Must(t, <-done)
}
