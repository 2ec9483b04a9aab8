package e2e

import (
	"path/filepath"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/metrics"
)

// TestMetricsDemo: the demo serves Prometheus metrics on --metrics. After
// mail from outside to both demo accounts (one recipient unknown), a
// failed and a successful IMAP login, the counters have moved, a logged-in
// IMAP session shows as open, and nothing in the page names an account, a
// correspondent or a domain.
func TestMetricsDemo(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDemoArgs(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"),
		"--smtp", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--submissions", "127.0.0.1:0",
		"--imap", "127.0.0.1:0", "--imaps", "127.0.0.1:0", "--web", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	defer d.Stop()
	addr := d.Addrs["metrics"]
	if addr == "" {
		t.Fatalf("the demo printed no metrics listener: %v", d.Addrs)
	}
	before, _, err := metrics.Scrape("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}

	const carol = "carol@example.org"
	deliver(t, d.Addrs["smtp"], carol, alice, message(carol, alice, "metrics one", "to alice"))
	deliver(t, d.Addrs["smtp"], carol, bob, message(carol, bob, "metrics two", "to bob"))
	if err := sendMX(t, d.Addrs["smtp"], carol, "nobody-here@demo.example", message(carol, "nobody-here@demo.example", "metrics three", "x")); err == nil {
		t.Fatal("mail to an unknown account accepted")
	}
	bad, err := imapclient.DialTLS(d.Addrs["imaps"], &imapclient.Options{TLSConfig: testenv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Login(alice, "not-alices-password").Wait(); err == nil {
		t.Fatal("a wrong password logged in")
	}
	bad.Close()
	c := login(t, d.Addrs["imaps"], bob, bobPass) // stays logged in

	after, body, err := metrics.Scrape("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	grew := func(name string, by float64, labels ...string) {
		t.Helper()
		b, _ := before.Value(name, labels...)
		a, ok := after.Value(name, labels...)
		if !ok || a-b < by {
			t.Errorf("%s%v: %v then %v (present %v), want +%v", name, labels, b, a, ok, by)
		}
	}
	grew("sealpost_smtp_results_total", 2, "listener", "smtp", "stage", "data", "result", "accepted")
	grew("sealpost_smtp_results_total", 1, "listener", "smtp", "stage", "rcpt", "result", "refused", "kind", "address")
	grew("sealpost_connections_total", 3, "listener", "smtp")
	grew("sealpost_connections_total", 2, "listener", "imaps")
	grew("sealpost_login_failures_total", 1)
	grew("sealpost_argon2_queue_wait_seconds", 2)
	grew("sealpost_store_operation_duration_seconds", 2, "op", "add_messages")
	grew("sealpost_blob_operation_duration_seconds", 2, "op", "commit")
	for _, region := range []string{"ie", "us"} {
		grew("sealpost_store_operation_duration_seconds", 1, "region", region, "op", "add_messages")
		if _, ok := after.Value("sealpost_queue_messages", "region", region); !ok {
			t.Errorf("no queue size for region %s", region)
		}
	}
	if v, _ := after.Value("sealpost_sessions_open", "listener", "imaps"); v < 1 {
		t.Errorf("sessions_open{imaps} = %v with bob logged in", v)
	}
	if v, _ := after.Value("sealpost_tlog_tree_size"); v < 1 {
		t.Errorf("tlog_tree_size = %v, want the policy entry at least", v)
	}
	if err := metrics.NameNoOne(after, body, "alice", "bob", "carol", "nobody-here", "demo.example", "example.org", "INBOX", "metrics one"); err != nil {
		t.Error(err)
	}
	c.Logout()
}
