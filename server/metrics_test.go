package server_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/metrics"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/server"
)

// TestMetricsEndpoint runs a server with MX, IMAPS and metrics listeners,
// delivers mail between known addresses (one refused: no such user), logs
// in to IMAP once right and once wrong, then scrapes /metrics over HTTP:
// the counters moved, every kind of metric the issue asks for is there,
// and no address, name or domain the traffic carried appears anywhere in
// the body (a label value with '@' in particular).
func TestMetricsEndpoint(t *testing.T) {
	dns := testenv.SenderDNS(t)
	srv := startMX(t, dns, func(c *config.Config) {
		c.Listen.IMAPS = "127.0.0.1:0"
		c.Metrics.Listen = "127.0.0.1:0"
	})
	url := "http://" + srv.Addr("metrics") + "/metrics"
	before, _, err := metrics.Scrape(url)
	if err != nil {
		t.Fatal(err)
	}

	// Mail from carol@example.org to bob, and to an unknown user.
	sc, err := smtp.Dial(srv.Addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	raw := "From: carol@example.org\r\nTo: bob@demo.example\r\nSubject: for the metrics\r\n\r\nhello\r\n"
	if err := sc.SendMail("carol@example.org", []string{"bob@demo.example"}, strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if err := sc.SendMail("carol@example.org", []string{"nobody-here@demo.example"}, strings.NewReader(raw)); err == nil {
		t.Fatal("mail to an unknown user accepted")
	}
	sc.Close()

	login := func(pass string) error {
		raw, err := net.Dial("tcp", srv.Addr("imaps"))
		if err != nil {
			t.Fatal(err)
		}
		ic := imapclient.New(tls.Client(raw, &tls.Config{InsecureSkipVerify: true}), nil)
		defer ic.Close()
		if err := ic.Login("bob@demo.example", pass).Wait(); err != nil {
			return err
		}
		_, err = ic.Select("INBOX", nil).Wait()
		return err
	}
	if err := login("not-bobs-password"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := login("bob-demo-pass"); err != nil {
		t.Fatal(err)
	}

	after, body, err := metrics.Scrape(url)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		t.Log(body)
	}
	grew := func(name string, labels ...string) {
		t.Helper()
		b, _ := before.Value(name, labels...)
		a, ok := after.Value(name, labels...)
		if !ok || a <= b {
			t.Errorf("%s%v: %v then %v (present %v), want it to grow", name, labels, b, a, ok)
		}
	}
	grew("sealpost_smtp_results_total", "listener", "smtp", "stage", "data", "result", "accepted")
	grew("sealpost_smtp_results_total", "listener", "smtp", "stage", "rcpt", "result", "refused", "kind", "address")
	grew("sealpost_connections_total", "listener", "smtp")
	grew("sealpost_connections_total", "listener", "imaps")
	grew("sealpost_login_failures_total")
	grew("sealpost_argon2_queue_wait_seconds")
	grew("sealpost_store_operation_duration_seconds", "region", "us", "op", "add_messages")
	grew("sealpost_store_operation_duration_seconds", "region", "us", "op", "messages")
	grew("sealpost_blob_operation_duration_seconds", "region", "us", "op", "commit")
	if v, _ := after.Value("sealpost_connections_total", "listener", "metrics"); v < 1 {
		t.Errorf("the metrics listener counted %v connections, want at least the scrape's", v)
	}
	for _, name := range []string{
		"sealpost_connections_open", "sealpost_connections_refused_total", "sealpost_sessions_open",
		"sealpost_queue_messages", "sealpost_queue_oldest_age_seconds", "sealpost_login_throttled_total",
		"sealpost_argon2_queue_waiting", "go_goroutines", "process_resident_memory_bytes",
	} {
		if _, ok := after.Value(name); !ok {
			t.Errorf("%s missing", name)
		}
	}
	if v, _ := after.Value("sealpost_queue_messages", "region", "us"); v != 0 {
		t.Errorf("queue: %v messages, want 0", v)
	}
	if err := metrics.NameNoOne(after, body, "bob", "carol", "nobody-here", "demo.example", "example.org", "mx.test", "INBOX", "for the metrics"); err != nil {
		t.Error(err)
	}
}

// The metrics listener serves /metrics only.
func TestMetricsOnlyPath(t *testing.T) {
	c := config.Default()
	c.DataDir = t.TempDir()
	c.TLS.SelfSigned = true
	c.Argon2 = config.Argon2{Time: 1, MemoryKiB: 1024, Threads: 1}
	c.Regions = []config.Region{{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}}}
	c.Metrics.Listen = "127.0.0.1:0"
	srv, err := server.Open(c, mlog.Discard(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/metrics": 200, "/": 404, "/debug/pprof/": 404, "/metrics/x": 404} {
		resp, err := http.Get("http://" + srv.Addr("metrics") + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	c.Metrics.Listen, c.DataDir = "", t.TempDir()
	c.Regions = []config.Region{{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}}}
	off, err := server.Open(c, mlog.Discard(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if off.Metrics() != nil {
		t.Error("metrics made with [metrics] listen empty")
	}
}
