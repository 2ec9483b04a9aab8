package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/directory"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mtasts"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/web"
)

// Each hosted domain's policy is served at its mta-sts host, and only
// there; hosted domains come from a real directory through a real router.
func TestMTASTSPolicy(t *testing.T) {
	dir, err := directory.Open(filepath.Join(t.TempDir(), "directory.db"))
	testkit.Must(t, err)
	t.Cleanup(func() { dir.Close() })
	testkit.Must(t, dir.AddDomain(context.Background(), sealpost.Domain{Name: "demo.example", DefaultRegion: "ie"}))
	policy, err := mtasts.PolicyText(mtasts.Enforce, []string{"mx.sealpost.example"}, 7*24*time.Hour)
	testkit.Must(t, err)
	app := web.New(nil, nil)
	app.EnableMTASTS(region.NewRouter(dir, nil, nil, 0), policy)
	srv := httptest.NewServer(app)
	defer srv.Close()

	get := func(host string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+"/.well-known/mta-sts.txt", nil)
		testkit.Must(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		testkit.Must(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		testkit.Must(t, err)
		return resp, body
	}
	for _, host := range []string{"mta-sts.demo.example", "MTA-STS.Demo.Example.:443"} {
		resp, body := get(host)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("%s: %s, %q", host, resp.Status, resp.Header.Get("Content-Type"))
		}
		p, err := mtasts.Parse(body)
		testkit.Must(t, err)
		if p.Mode != mtasts.Enforce || !p.Match("mx.sealpost.example") || p.MaxAge != 7*24*time.Hour {
			t.Fatalf("%s: served %+v", host, p)
		}
	}
	for _, host := range []string{"mta-sts.other.example", "demo.example", "mta-sts.", "www.demo.example", "mta-sts.mta-sts.demo.example"} {
		if resp, _ := get(host); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", host, resp.Status)
		}
	}
}
