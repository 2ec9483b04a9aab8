package smtpserver

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// BenchmarkDeliver10KB delivers 10 KB messages over MX from 32 concurrent
// loopback connections with go-smtp's client; each 250 means the message
// is sealed, written, fsynced and committed. No authentication checks:
// compare with BenchmarkDeliver10KBChecked.
func BenchmarkDeliver10KB(b *testing.B) {
	e := newEnv(b)
	e.checker = nil
	benchDeliver(b, e)
}

// BenchmarkDeliver10KBChecked is BenchmarkDeliver10KB with the MX's SPF,
// DKIM and DMARC checks (package mailauth) against a loopback DNS server,
// whose answers the resolver caches: what the checks add to ingest.
func BenchmarkDeliver10KBChecked(b *testing.B) {
	benchDeliver(b, newEnv(b))
}

func benchDeliver(b *testing.B, e *env) {
	const conns = 32
	_, addr := e.serve(Options{Mode: MX}, nil)
	line := strings.Repeat("0123456789abcdef", 4)[:62] + "\r\n"
	body := msg("From: carol@elsewhere.example", "To: bob@example.test", "Subject: bench", "") +
		strings.Repeat(line, 10240/len(line))

	clients := make([]*smtp.Client, conns)
	for i := range clients {
		c, err := smtp.Dial(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("bench.example"); err != nil {
			b.Fatal(err)
		}
		clients[i] = c
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := c.SendMail("carol@elsewhere.example", []string{bob}, strings.NewReader(body)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	for _, c := range clients {
		c.Quit()
	}
}
