package server_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/server"
)

// TestStartBoundsEveryListener starts a server with every public listener
// and checks that each got limits of its own: none fell back to the
// default that listenerLimits gives (and logs) for a listener it does not
// know, which would mean a new listener was added without its bounds.
func TestStartBoundsEveryListener(t *testing.T) {
	c := config.Default()
	c.Hostname = "mx.test"
	c.DataDir = t.TempDir()
	c.TLS.SelfSigned = true
	c.Argon2 = config.Argon2{Time: 1, MemoryKiB: 1024, Threads: 1}
	c.Regions = []config.Region{{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}, Entity: "Sealpost Inc.", EntityCountry: "US"}}
	c.Listen = config.Listen{SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", Submissions: "127.0.0.1:0",
		IMAP: "127.0.0.1:0", IMAPS: "127.0.0.1:0", ManageSieve: "127.0.0.1:0"}
	c.Legal.Web = "127.0.0.1:0"
	c.Metrics.Listen = "127.0.0.1:0"
	var logs testkit.Buffer
	srv, err := server.Open(c, mlog.New(&logs, slog.LevelDebug, false), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"smtp", "submission", "submissions", "imap", "imaps", "managesieve", "web", "metrics"} {
		if srv.Addr(name) == "" {
			t.Errorf("no %s listener: %v", name, srv.Listeners())
		}
	}
	if strings.Contains(logs.String(), "no limits of its own") {
		t.Errorf("a listener fell back to the default bounds:\n%s", logs.String())
	}
}
