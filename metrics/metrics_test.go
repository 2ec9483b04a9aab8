package metrics_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/internal/authguard"
	"github.com/sealpost/sealpost/internal/netlimit"
	"github.com/sealpost/sealpost/metrics"
	"github.com/sealpost/sealpost/outbound"
	"github.com/sealpost/sealpost/smtpserver"
	"github.com/sealpost/sealpost/store/sqlite"
)

// full is a registry with every kind of source added and each histogram
// observed once, so that every family appears in a scrape.
func full(t *testing.T) *metrics.Registry {
	t.Helper()
	ctx := context.Background()
	r := metrics.New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := netlimit.Wrap(ln, netlimit.Options{Name: "imap"})
	t.Cleanup(func() { l.Close() })
	r.Listener("imap", l, metrics.Authenticated)
	r.SMTP("smtp", &smtpserver.Stats{})
	r.Logins(authguard.NewGuard(authguard.Options{}), authguard.NewQueue(authguard.QueueOptions{}))
	r.ArgonWaited(0)
	r.TreeSize(func() uint64 { return 7 })
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bl, err := pack.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	timed, blobs := r.Store("ie", st), r.Blobs("ie", bl)
	timed.Messages(ctx, 1, 0)
	blobs.Put(ctx, []byte("sealed"))
	r.Queue("ie", st)
	svc, err := outbound.New(outbound.Options{Queue: st, Blobs: bl, Relay: outbound.Relay{Addr: "127.0.0.1:1"},
		Open:   func(b []byte) ([]byte, error) { return b, nil },
		Notify: func(context.Context, string, []byte) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	r.Outbound("ie", svc)
	return r
}

// Every metric follows Prometheus's naming conventions (promlint: units
// in names, _total on counters, help text).
func TestLint(t *testing.T) {
	mfs, err := full(t).Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// The Grafana dashboard (docs/grafana/sealpost.json) is valid JSON, asks
// only for metrics that exist, and shows every sealpost_ metric there is.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("../docs/grafana/sealpost.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	mfs, err := full(t).Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, mf := range mfs {
		have = append(have, mf.GetName())
	}
	used := map[string]bool{}
	name := regexp.MustCompile(`\b(sealpost|go|process)_[a-z0-9_]+`)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				base := n
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(n, suffix); ok && slices.Contains(have, b) {
						base = b
					}
				}
				if !slices.Contains(have, base) {
					t.Errorf("the dashboard asks for %s, which is not exported", n)
				}
				used[base] = true
			}
		}
	}
	for _, n := range have {
		if strings.HasPrefix(n, "sealpost_") && !used[n] {
			t.Errorf("%s is on no panel", n)
		}
	}
}
