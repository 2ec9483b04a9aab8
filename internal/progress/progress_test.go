package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// clock is a hand-moved clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{time.Unix(1000, 0)}
	m := New(&buf, "importing INBOX", 100, Clock(c.now))
	if m.tty {
		t.Fatal("a buffer is not a terminal")
	}
	m.Add(10, 10*1024)
	if buf.Len() != 0 {
		t.Fatalf("reported before its interval: %q", buf.String())
	}
	c.t = c.t.Add(10 * time.Second)
	m.Add(40, 40*1024)
	want := "importing INBOX: 50/100 (5/s, 5.0 KiB/s, 10s left)\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
	c.t = c.t.Add(10 * time.Second)
	m.Add(50, 0)
	m.Finish()
	m.Finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 || lines[2] != "importing INBOX: 100/100 in 20s (5/s, 2.5 KiB/s)" {
		t.Fatalf("lines %q", lines)
	}
	if strings.Contains(buf.String(), "\r") {
		t.Fatal("plain output redraws in place")
	}
}

func TestTerminalBar(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{time.Unix(1000, 0)}
	m := New(&buf, "backup", 4, Clock(c.now), Terminal(true))
	c.t = c.t.Add(time.Second)
	m.Add(1, 0)
	if got := buf.String(); !strings.HasPrefix(got, "\r\x1b[Kbackup: [#######.......................]  25% 1/4 (1/s, 3s left)") {
		t.Fatalf("bar %q", got)
	}
	buf.Reset()
	m.Finish()
	if got := buf.String(); got != "\r\x1b[Kbackup: 1/4 in 1s (1/s)\n" {
		t.Fatalf("finish %q", got)
	}
}

func TestUnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{time.Unix(1000, 0)}
	m := New(&buf, "verifying", 0, Clock(c.now), Every(time.Second))
	c.t = c.t.Add(2 * time.Second)
	m.Add(7, 0)
	if got := buf.String(); got != "verifying: 7 (4/s)\n" {
		t.Fatalf("got %q", got)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
