package mlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRedaction(t *testing.T) {
	for _, json := range []bool{false, true} {
		var buf bytes.Buffer
		log := New(&buf, slog.LevelDebug, json)
		log.Debug("x", "password", "hunter2", "rcpt", "carol@example.org", "subject", "plans",
			slog.Group("g", "from", "dave@example.org"), "size", 42)
		log.With("user", "erin@example.org").Info("y")
		out := buf.String()
		for _, secret := range []string{"hunter2", "carol@", "plans", "dave@", "erin@"} {
			if strings.Contains(out, secret) {
				t.Errorf("json=%v: %q leaked into the log: %s", json, secret, out)
			}
		}
		if !strings.Contains(out, "42") || !strings.Contains(out, "***") {
			t.Errorf("json=%v: log lost its harmless fields: %s", json, out)
		}
	}
}
