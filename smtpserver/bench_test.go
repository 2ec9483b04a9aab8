package smtpserver

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
)

// BenchmarkDeliver10KB delivers 10 KB messages over MX from 32 concurrent
// loopback connections with go-smtp's client; each 250 means the message
// is sealed, written, fsynced and committed. Each message carries an
// rsa-sha256 DKIM signature (relaxed/relaxed, 2048-bit key), as most mail
// from the Internet does. No authentication checks: compare with
// BenchmarkDeliver10KBChecked, or, better on a noisy machine,
// BenchmarkCheckCost.
func BenchmarkDeliver10KB(b *testing.B) {
	e := newEnv(b)
	e.checker = nil
	benchDeliver(b, e)
}

// BenchmarkDeliver10KBChecked is BenchmarkDeliver10KB with the MX's SPF,
// DKIM and DMARC checks (package mailauth) against a loopback DNS server,
// whose answers the resolver caches: what the checks add to ingest.
func BenchmarkDeliver10KBChecked(b *testing.B) {
	e := newEnv(b)
	benchDeliver(b, e)
	wantChecked(b, e)
}

// BenchmarkCheckCost measures what the checks cost ingest, with the
// machine's own drift taken out: two MX servers on one store, one
// checking and one not, each with 32 connections, take b.N messages each
// in alternating batches of 256, and each side's rate is its messages
// over the time its own batches took. Reported: both rates and
// checked/unchecked (1 = free; the target is at least 0.9), and the CPU
// time per message on each side (unchecked/checked-cpu: the same ratio
// by CPU time, steadier on a busy machine). "signed":
// each message has an rsa-sha256 DKIM signature to verify; "unsigned":
// the same message without it (SPF and DMARC only).
func BenchmarkCheckCost(b *testing.B) {
	b.Run("signed", func(b *testing.B) { benchCheckCost(b, true) })
	b.Run("unsigned", func(b *testing.B) { benchCheckCost(b, false) })
}

func benchCheckCost(b *testing.B, sign bool) {
	e := newEnv(b)
	checked := newSenders(b, e, Options{Mode: MX})
	ck := e.checker
	e.checker = nil // serve's default: none
	unchecked := newSenders(b, e, Options{Mode: MX})
	e.checker = ck
	body := benchBody(b, e)
	if !sign {
		body = body[strings.Index(body, "\r\nFrom:")+2:]
	}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	var tc, tu, cc, cu time.Duration
	for done := 0; done < b.N; {
		n := min(256, b.N-done)
		c0 := cpuTime()
		tu += unchecked.send(b, n, body)
		c1 := cpuTime()
		tc += checked.send(b, n, body)
		cu, cc = cu+c1-c0, cc+cpuTime()-c1
		done += n
	}
	b.StopTimer()
	rc, ru := float64(b.N)/tc.Seconds(), float64(b.N)/tu.Seconds()
	b.ReportMetric(rc, "checked-msgs/s")
	b.ReportMetric(ru, "unchecked-msgs/s")
	b.ReportMetric(rc/ru, "checked/unchecked")
	// CPU time of the process (server, store, client) per message during
	// each side's batches: less sensitive than the rates to other
	// programs on the machine. Their difference is what a check costs.
	perMsg := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(b.N) }
	b.ReportMetric(perMsg(cc), "checked-cpu-µs/msg")
	b.ReportMetric(perMsg(cu), "unchecked-cpu-µs/msg")
	b.ReportMetric(perMsg(cu)/perMsg(cc), "unchecked/checked-cpu")
	checked.quit()
	unchecked.quit()
	if sign {
		wantChecked(b, e)
	}
}

// wantChecked fails the benchmark unless the last message bob got says
// its signature was verified and DMARC passed: the checks ran.
func wantChecked(b *testing.B, e *env) {
	msgs, _ := e.bodies(bob, "INBOX")
	for _, m := range msgs {
		if bytes.Contains(m, []byte("dkim=pass")) && bytes.Contains(m, []byte("dmarc=pass")) {
			return
		}
	}
	b.Fatal("no message delivered says dkim=pass and dmarc=pass")
}

// senders are 32 connections to one server.
type senders []*smtp.Client

func newSenders(b *testing.B, e *env, o Options) senders {
	const conns = 32
	_, addr := e.serve(o, nil)
	out := make(senders, conns)
	for i := range out {
		c, err := smtp.Dial(addr)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		if err := c.Hello("bench.example"); err != nil {
			b.Fatal(err)
		}
		out[i] = c
	}
	return out
}

// send delivers n copies of body over all the connections at once and
// returns how long that took.
func (s senders) send(b *testing.B, n int, body string) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range s {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := c.SendMail("carol@elsewhere.example", []string{bob}, strings.NewReader(body)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

func (s senders) quit() {
	for _, c := range s {
		c.Quit()
	}
}

// benchBody is a signed 10 KB message from carol@elsewhere.example.
func benchBody(b *testing.B, e *env) string {
	line := strings.Repeat("0123456789abcdef", 4)[:62] + "\r\n"
	return signed(b, e, msg("From: carol@elsewhere.example", "To: bob@example.test", "Subject: bench", "")+
		strings.Repeat(line, 10240/len(line)))
}

func benchDeliver(b *testing.B, e *env) {
	s := newSenders(b, e, Options{Mode: MX})
	body := benchBody(b, e)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	cpu0 := cpuTime()
	elapsed := s.send(b, b.N, body)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	// What each message cost the process (server and client both, the
	// same client for every variant) in CPU time.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/msg")
	s.quit()
}

// signed returns msg with a DKIM signature of elsewhere.example, whose key
// it publishes in e's DNS.
func signed(b *testing.B, e *env, msg string) string {
	b.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	e.dns.AddTXT("bench._domainkey.elsewhere.example", 300, "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(pub))
	var out bytes.Buffer
	err = dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{
		Domain: "elsewhere.example", Selector: "bench", Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		b.Fatal(err)
	}
	return out.String()
}

// cpuTime is the CPU time, user and system, the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
