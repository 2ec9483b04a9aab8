package server_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mtasts"
)

// The running web app serves the configured MTA-STS policy, naming the
// server's hostname, for a hosted domain's mta-sts host only.
func TestServesMTASTSPolicy(t *testing.T) {
	srv := openDemo(t, func(c *config.Config) {
		c.Hostname = "mx.demo.example"
		c.Legal.Web = "127.0.0.1:0"
		c.MTASTS = config.MTASTS{Mode: "testing", MaxAge: config.Duration(24 * time.Hour)}
	})
	testkit.Must(t, srv.Start())
	want, err := mtasts.PolicyText(mtasts.Testing, []string{"mx.demo.example"}, 24*time.Hour)
	testkit.Must(t, err)
	for host, status := range map[string]int{"mta-sts.demo.example": 200, "mta-sts.elsewhere.example": 404} {
		req, err := http.NewRequest("GET", "http://"+srv.Addr("web")+"/.well-known/mta-sts.txt", nil)
		testkit.Must(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		testkit.Must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status || (status == 200 && string(body) != string(want)) {
			t.Errorf("%s: %s %q, want %d", host, resp.Status, body, status)
		}
	}
}
