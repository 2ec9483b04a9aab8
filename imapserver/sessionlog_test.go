package imapserver

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestSessionLogger(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, c := range []struct {
		log  func()
		want string
	}{
		{func() { newSessionLogger(base, "192.0.2.1:993", 0).Info("hello", "k", 1) }, `msg=hello k=1 remote=192.0.2.1:993` + "\n"},
		{func() { newSessionLogger(base, "192.0.2.1:993", 42).Debug("in") }, `msg=in remote=192.0.2.1:993 account=42` + "\n"},
		{func() { newSessionLogger(base, "r", 7).With("w", 2).Warn("x", "k", 3) }, `msg=x remote=r account=7 w=2 k=3` + "\n"},
		{func() { newSessionLogger(base, "r", 0).WithGroup("g").Error("y", "k", 4) }, `msg=y remote=r g.k=4` + "\n"},
	} {
		buf.Reset()
		c.log()
		if _, got, _ := strings.Cut(buf.String(), " msg="); "msg="+got != c.want {
			t.Errorf("logged %q, want …%q", buf.String(), c.want)
		}
	}
}
