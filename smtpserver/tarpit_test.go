package smtpserver

import (
	"io"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// TestTarpitCounts: free unknown recipients, then doubling waits up to the
// ceiling, per source (an IPv6 /64 is one), forgotten after the window.
func TestTarpitCounts(t *testing.T) {
	tp := newTarpit(2, time.Second)
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	a := net.ParseIP("192.0.2.1")
	var got []time.Duration
	for range 7 {
		got = append(got, tp.unknown(a, now))
	}
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	if d := tp.unknown(net.ParseIP("192.0.2.2"), now); d != 0 {
		t.Errorf("another address waits %v", d)
	}
	v6a, v6b := net.ParseIP("2001:db8:1:2::1"), net.ParseIP("2001:db8:1:2::ffff")
	tp.unknown(v6a, now)
	tp.unknown(v6a, now)
	if d := tp.unknown(v6b, now); d != time.Second {
		t.Errorf("the same /64 waits %v, want 1s", d)
	}
	if d := tp.unknown(a, now.Add(tarpitWindow)); d != 0 {
		t.Errorf("after the window the address waits %v", d)
	}
}

// TestMXTarpit: over SMTP, past the free unknown recipients each refusal
// comes after the wait (and still refuses), on later connections too; a
// known recipient is still accepted.
func TestMXTarpit(t *testing.T) {
	e := newEnv(t)
	const delay = 100 * time.Millisecond
	_, addr := e.serve(Options{Mode: MX, TarpitFree: 2, TarpitDelay: delay}, nil)
	probe := func(c *smtp.Client, rcpt string) time.Duration {
		start := time.Now()
		if err := c.Rcpt(rcpt); err == nil || err.Error()[:3] != "550" {
			t.Errorf("RCPT %s: %v, want 550", rcpt, err)
		}
		return time.Since(start)
	}
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("probe@elsewhere.example"); err != nil {
		t.Fatal(err)
	}
	probe(c, "nobody1@example.test")
	probe(c, "nobody2@example.test")
	if d := probe(c, "nobody3@example.test"); d < delay {
		t.Errorf("the third unknown recipient was refused after %v, before the tarpit's %v", d, delay)
	}
	if err := c.Rcpt("bob@example.test"); err != nil {
		t.Errorf("a known recipient during the tarpit: %v", err)
	}
	c.Close()
	c, err = smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Mail("probe@elsewhere.example")
	if d := probe(c, "nobody4@example.test"); d < 2*delay {
		t.Errorf("a new connection's unknown recipient was refused after %v, before %v", d, 2*delay)
	}
}

// TestMXOversizedSource: after two messages refused as too large, the
// source's next MAIL is refused with 450 4.7.0 (no data is read); another
// source is not affected; an authenticated submission never is.
func TestMXOversizedSource(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX, MaxMessageSize: 4096}, nil)
	dialFrom := func(src string) *smtp.Client {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		conn, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := smtp.NewClient(conn, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	big := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 98)+"\r\n", 100)
	c := dialFrom("127.0.0.1")
	defer c.Close()
	for i := range 2 {
		err := c.Mail("big@elsewhere.example")
		if err == nil {
			err = c.Rcpt("bob@example.test")
		}
		var w io.WriteCloser
		if err == nil {
			w, err = c.Data()
		}
		if err == nil {
			io.WriteString(w, big)
			err = w.Close()
		}
		if err == nil || !strings.HasPrefix(err.Error(), "552") {
			t.Fatalf("oversized message %d: %v, want 552", i+1, err)
		}
	}
	if err := c.Mail("big@elsewhere.example"); err == nil || !strings.HasPrefix(err.Error(), "450") || !strings.Contains(err.Error(), "4.7.0") {
		t.Errorf("MAIL after two oversized messages: %v, want 450 4.7.0", err)
	}
	other := dialFrom("127.0.0.2")
	defer other.Close()
	if err := other.Mail("someone@elsewhere.example"); err != nil {
		t.Errorf("MAIL from another address: %v", err)
	}
}
