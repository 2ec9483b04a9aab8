package server

import (
	"testing"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/internal/netlimit"
	"github.com/sealpost/sealpost/mlog"
)

// TestEveryListenerBounded: every listener Start binds gets a per-source
// bound and a refusal in its own protocol, and those where a password is
// given get the bounds before authentication (a listener added without
// its case here would be bounded only by the shared pool).
func TestEveryListenerBounded(t *testing.T) {
	s := &Server{cfg: config.Default(), log: mlog.Discard()}
	pool := &netlimit.Pool{Max: 1000}
	for _, c := range []struct {
		name    string
		preAuth bool
	}{
		{"smtp", false}, {"submission", true}, {"submissions", true},
		{"imap", true}, {"imaps", true}, {"managesieve", true}, {"web", false}, {"acme-http", false}, {"metrics", false},
	} {
		o := s.listenerLimits(c.name, pool)
		if o.PerSource <= 0 {
			t.Errorf("%s: no per-source bound", c.name)
		}
		if c.preAuth && (o.PreAuthPerSource <= 0 || o.PreAuthLifetime <= 0) {
			t.Errorf("%s: no bound before authentication", c.name)
		}
		if c.name != "imaps" && c.name != "submissions" && len(o.Refusal) == 0 {
			t.Errorf("%s: no refusal in its protocol", c.name)
		}
	}
}
