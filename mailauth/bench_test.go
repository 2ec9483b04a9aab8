package mailauth

import (
	"context"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/resolver"
)

// BenchmarkCheck runs whole checks of a 10 KB message with an aligned SPF
// pass, an Ed25519 and an RSA-2048 signature and a p=reject policy, with
// the resolver's cache on (after the first check every answer comes from
// it, as for a busy MX's regular correspondents), so that ingest with
// checks can be compared with ingest without (smtpserver's
// BenchmarkDeliver10KB and BenchmarkDeliver10KBChecked).
func BenchmarkCheck(b *testing.B) {
	d, c, body := benchChecker(b)
	msg := append(message("From: a@relaxed.example", "To: bob@ours.example"), body...)
	msg = sign(b, sign(b, msg, "mail.relaxed.example", "ed"), "mail.relaxed.example", "rsa")
	in := Input{IP: client, Helo: "client.example", MailFrom: "b@mail.relaxed.example", Message: msg}
	if res := c.Check(context.Background(), in); res.Verdict != Accept || res.DMARC.Result != "pass" || len(res.DKIM) != 2 {
		b.Fatalf("warm-up check: %+v", res)
	}
	queries := d.Queries()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), in); res.Verdict != Accept {
			b.Fatalf("verdict %s", res.Verdict)
		}
	}
	if n := d.Queries() - queries; n != 0 {
		b.Errorf("%d DNS queries after the warm-up: answers not cached", n)
	}
}

// BenchmarkRun is what the MX does per message with checks on: a Run
// given the header section, then a 10 KB body in writes of 1 KiB (as
// smtpserver receives it), with one rsa-sha256 signature (relaxed), an
// aligned SPF pass and a p=reject policy, every answer from the
// resolver's cache after the warm-up.
func BenchmarkRun(b *testing.B) {
	d, c, body := benchChecker(b)
	msg := sign(b, append(message("From: a@relaxed.example", "To: bob@ours.example"), body...), "mail.relaxed.example", "rsa")
	env := Envelope{IP: client, Helo: "client.example", MailFrom: "b@mail.relaxed.example"}
	check := func() Result {
		run := c.Begin(context.Background(), env)
		h, rest := splitHeader(msg)
		run.Header(h)
		for len(rest) > 0 {
			n := min(1024, len(rest))
			run.Write(rest[:n])
			rest = rest[n:]
		}
		return run.Finish()
	}
	if res := check(); res.Verdict != Accept || res.DMARC.Result != "pass" || len(res.DKIM) != 1 || res.DKIM[0].Result != "pass" {
		b.Fatalf("warm-up check: %+v", res)
	}
	queries := d.Queries()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if res := check(); res.Verdict != Accept {
			b.Fatalf("verdict %s", res.Verdict)
		}
	}
	if n := d.Queries() - queries; n != 0 {
		b.Errorf("%d DNS queries after the warm-up: answers not cached", n)
	}
}

// benchChecker returns a DNS server publishing records(), a Checker
// resolving through it (nothing hosted) and a 10 KB body of 62-byte lines.
func benchChecker(b *testing.B) (*testenv.DNS, *Checker, []byte) {
	d := testenv.NewDNS(b, records()...)
	r, err := resolver.New(resolver.Options{Servers: []string{d.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Options{Hostname: "mx.test", Resolver: r,
		Hosted: func(context.Context, string) (bool, error) { return false, nil }})
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 0, 10<<10)
	for len(body) < 10<<10 {
		body = append(body, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab\r\n"...)
	}
	return d, c, body
}
