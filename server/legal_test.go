package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/workflow"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/server"
)

// openDemo opens a server like the demo's (regions ie and us, alice and
// bob) in a temporary folder, without listening; edits change its
// configuration first.
func openDemo(tb testing.TB, edits ...func(*config.Config)) *server.Server {
	tb.Helper()
	c := config.Default()
	c.DataDir = tb.TempDir()
	c.TLS.SelfSigned = true
	c.Argon2 = config.Argon2{Time: 1, MemoryKiB: 1024, Threads: 1}
	c.Regions = []config.Region{
		{ID: "ie", Name: "Ireland", Country: "IE", Zones: []string{"EU"}, Entity: "Sealpost Ireland Ltd", EntityCountry: "IE"},
		{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}, Entity: "Sealpost Inc.", EntityCountry: "US"},
	}
	for _, edit := range edits {
		edit(&c)
	}
	if err := c.Validate(); err != nil {
		tb.Fatal(err)
	}
	srv, err := server.Open(c, mlog.Discard(), server.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	if _, err := srv.EnsureDemo(ctx, "demo.example", []server.DemoAccount{
		{Address: "alice@demo.example", Password: "alice-demo-pass", Region: "ie"},
		{Address: "bob@demo.example", Password: "bob-demo-pass", Region: "us"},
	}); err != nil {
		tb.Fatal(err)
	}
	return srv
}

// BenchmarkFileDemand files a demand end to end: validation, the policy,
// the legal store's durable transaction (demand, decision, notice, events)
// and the notice sealed into the target's INBOX.
func BenchmarkFileDemand(b *testing.B) {
	srv := openDemo(b)
	gw, err := srv.OpenGateway()
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Store().Close()
	officer := workflow.Actor{Name: "officer-a", Role: workflow.Officer}
	received, _ := legal.ParseDate("2026-10-05")
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		d := legal.Demand{Reference: fmt.Sprintf("26 Mag. %d", i), Authority: "U.S. Department of Justice", Country: "US",
			Court: "U.S. District Court for the Southern District of New York", Instrument: legal.SearchWarrant,
			LegalBasis: "18 U.S.C. 2703(a)", Targets: []string{"bob@demo.example"}, Categories: []legal.Category{legal.Content},
			Received: received}
		if _, _, err := gw.File(ctx, officer, d, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "demands/s")
}

// The gateway reaches accounts only through the server's Mail: a filing
// for bob (us) is decided eligible, its notice lands in bob's INBOX, and a
// preservation order holds alice's account.
func TestGatewayOverRegions(t *testing.T) {
	srv := openDemo(t)
	gw, err := srv.OpenGateway()
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Store().Close()
	gw.SetNow(func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) })
	ctx := context.Background()
	officer := workflow.Actor{Name: "officer-a", Role: workflow.Officer}
	received, _ := legal.ParseDate("2026-10-05")
	d := legal.Demand{Reference: "PRES-1", Authority: "An Garda Síochána", Country: "IE", Instrument: legal.PreservationOrder,
		LegalBasis: "Criminal Justice Act 2011", Targets: []string{"alice@demo.example", "nobody@demo.example"},
		Categories: []legal.Category{legal.Content}, Received: received}
	d, decisions, err := gw.File(ctx, officer, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(decisions) != 2 || !decisions[0].Preserve || decisions[1].Decision != legal.NoSuchAccount {
		t.Fatalf("decisions: %+v", decisions)
	}
	svc, _, err := srv.Router.Postbox(ctx, "alice@demo.example")
	if err != nil {
		t.Fatal(err)
	}
	if held, _, err := svc.Held(ctx, "alice@demo.example"); err != nil || !held {
		t.Errorf("alice not held: %v %v", held, err)
	}
	sess, err := srv.Router.Login(ctx, "alice@demo.example", "alice-demo-pass")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	st, err := sess.Stats(ctx, "INBOX")
	if err != nil || st.Messages != 1 {
		t.Errorf("alice's INBOX: %+v %v, want the notice", st, err)
	}
	if err := gw.ReleaseHolds(ctx, officer, d.ID); err != nil {
		t.Fatal(err)
	}
	if held, _, _ := svc.Held(ctx, "alice@demo.example"); held {
		t.Error("still held after release")
	}
}

func TestWebIsTLSOffLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true,
		"0.0.0.0:8080": false, ":8080": false, "192.0.2.1:443": false, "nonsense": false} {
		if got := server.Loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
