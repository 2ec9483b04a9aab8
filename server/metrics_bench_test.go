package server_test

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/server"
)

// BenchmarkDeliverMetrics is smtpserver's BenchmarkDeliver10KB through
// the whole wired server (MX, router, guard, postbox, SQLite, pack): 10 KB
// messages from 32 loopback connections, each 250 durable; "off" without
// metrics, "on" with [metrics] listen set (the store and blob decorators,
// the listener and SMTP collectors) and a scrape every second.
func BenchmarkDeliverMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			m := newMetricsBench(b, on)
			b.SetBytes(int64(len(m.body)))
			b.ResetTimer()
			elapsed := m.send(b, b.N)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// BenchmarkMetricsCost takes the machine's drift out of the comparison
// (as smtpserver's BenchmarkCheckCost does): two servers, one with
// metrics and one without, take b.N messages each in alternating batches
// of 256, and each side's rate is its messages over its own batches'
// time. on/off = 1 means free.
func BenchmarkMetricsCost(b *testing.B) {
	off, on := newMetricsBench(b, false), newMetricsBench(b, true)
	b.SetBytes(int64(len(on.body)))
	b.ResetTimer()
	var toff, ton time.Duration
	for done := 0; done < b.N; {
		n := min(256, b.N-done)
		toff += off.send(b, n)
		ton += on.send(b, n)
		done += n
	}
	b.StopTimer()
	roff, ron := float64(b.N)/toff.Seconds(), float64(b.N)/ton.Seconds()
	b.ReportMetric(roff, "off-msgs/s")
	b.ReportMetric(ron, "on-msgs/s")
	b.ReportMetric(ron/roff, "on/off")
}

// metricsBench is a running server and 32 MX connections to it.
type metricsBench struct {
	clients []*smtp.Client
	body    string
}

func newMetricsBench(b *testing.B, on bool) *metricsBench {
	c := config.Default()
	c.Hostname = "mx.test"
	c.DataDir = b.TempDir()
	c.TLS.SelfSigned = true
	c.Argon2 = config.Argon2{Time: 1, MemoryKiB: 1024, Threads: 1}
	c.Regions = []config.Region{{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}}}
	c.Listen = config.Listen{SMTP: "127.0.0.1:0"}
	c.MX.NoAuthChecks = true
	c.Outbound.Disabled = true
	if on {
		c.Metrics.Listen = "127.0.0.1:0"
	}
	srv, err := server.Open(c, mlog.Discard(), server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	if _, err := srv.EnsureDemo(b.Context(), "demo.example",
		[]server.DemoAccount{{Address: "bob@demo.example", Password: "bob-demo-pass", Region: "us"}}); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	if on {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				if resp, err := http.Get("http://" + srv.Addr("metrics") + "/metrics"); err == nil {
					resp.Body.Close()
				}
			}
		})
		b.Cleanup(func() { close(stop); wg.Wait() })
	}
	m := &metricsBench{clients: make([]*smtp.Client, 32)}
	for i := range m.clients {
		cl, err := smtp.Dial(srv.Addr("smtp"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cl.Close() })
		if err := cl.Hello("bench.example"); err != nil {
			b.Fatal(err)
		}
		m.clients[i] = cl
	}
	line := strings.Repeat("0123456789abcdef", 4)[:62] + "\r\n"
	m.body = "From: carol@example.org\r\nTo: bob@demo.example\r\nSubject: bench\r\n\r\n" + strings.Repeat(line, 10240/len(line))
	return m
}

// send delivers n messages over all the connections and returns how long
// that took.
func (m *metricsBench) send(b *testing.B, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, cl := range m.clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := cl.SendMail("carol@example.org", []string{"bob@demo.example"}, strings.NewReader(m.body)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
