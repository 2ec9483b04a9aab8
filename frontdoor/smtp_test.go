package frontdoor

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mlog"
)

// submit sends one message through the front door's submission listener
// with net/smtp: implicit TLS, or STARTTLS.
func (e *env) submit(implicit bool, user, pass string, rcpts []string, raw string) error {
	var c *smtp.Client
	var err error
	if implicit {
		conn, err := tls.Dial("tcp", e.subs, e.clientTLS)
		if err != nil {
			return err
		}
		c, err = smtp.NewClient(conn, "127.0.0.1")
		if err != nil {
			return err
		}
	} else {
		if c, err = smtp.Dial(e.sub); err != nil {
			return err
		}
	}
	defer c.Close()
	if err := c.Hello("client.demo.example"); err != nil {
		return err
	}
	if !implicit {
		if err := c.StartTLS(e.clientTLS); err != nil {
			return err
		}
	}
	if err := c.Auth(smtp.PlainAuth("", user, pass, "127.0.0.1")); err != nil {
		return err
	}
	if err := c.Mail(user); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(raw)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func smtpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// TestSubmissionRegions submits as alice (ie) over implicit TLS and as bob
// (us) over STARTTLS; each message lands in its sender's home region only.
func TestSubmissionRegions(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		user       string
		home, away sealpost.RegionID
		implicit   bool
	}{
		{alice, "ie", "us", true},
		{bob, "us", "ie", false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			raw := testMessage(tc.user, tc.user, "memo from "+string(tc.home))
			if err := e.submit(tc.implicit, tc.user, password, []string{tc.user}, raw); err != nil {
				t.Fatalf("submit: %v", err)
			}
			if n := e.count(tc.home, tc.user, sealpost.UseInbox); n != 1 {
				t.Errorf("INBOX in %s holds %d messages, want 1", tc.home, n)
			}
			if n := e.count(tc.home, tc.user, sealpost.UseSent); n != 0 {
				t.Errorf("Sent in %s holds %d server copies, want none (the default)", tc.home, n)
			}
			if n := e.count(tc.away, tc.user, sealpost.UseInbox); n != -1 {
				t.Errorf("%s has an account in %s", tc.user, tc.away)
			}
			got := e.bodies(tc.home, tc.user)
			if len(got) != 1 {
				t.Fatalf("%d messages", len(got))
			}
			// The region's Received: header names the client's EHLO
			// name and address, as if it had been connected directly.
			if !strings.HasPrefix(got[0], "Received: from client.demo.example ([127.0.0.1])") {
				t.Errorf("stored message starts %q", got[0][:min(len(got[0]), 120)])
			}
			if !strings.HasSuffix(got[0], raw) {
				t.Errorf("stored message does not end with the one sent:\n%s", got[0])
			}
		})
	}
}

func TestSubmissionAuthWrong(t *testing.T) {
	e := newEnv(t)
	err := e.submit(true, alice, "wrong", []string{alice}, testMessage(alice, alice, "x"))
	if smtpCode(err) != 535 {
		t.Errorf("wrong password: %v, want 535", err)
	}
	err = e.submit(true, "nobody@demo.example", password, []string{alice}, testMessage(alice, alice, "x"))
	if smtpCode(err) != 535 {
		t.Errorf("unknown user: %v, want 535", err)
	}
	err = e.submit(true, dave, password, []string{dave}, testMessage(dave, dave, "x"))
	if smtpCode(err) != 454 {
		t.Errorf("region unreachable: %v, want 454", err)
	}
	if n := e.count("ie", alice, sealpost.UseInbox); n != 0 {
		t.Errorf("alice's INBOX holds %d messages", n)
	}
	// The front door is still usable.
	if err := e.submit(true, alice, password, []string{alice}, testMessage(alice, alice, "after")); err != nil {
		t.Fatal(err)
	}
}

// rawSMTP speaks SMTP by hand.
type rawSMTP struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func (e *env) dialSMTP(implicit bool) *rawSMTP {
	e.t.Helper()
	var c net.Conn
	var err error
	if implicit {
		c, err = tls.Dial("tcp", e.subs, e.clientTLS)
	} else {
		c, err = net.Dial("tcp", e.sub)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	r := &rawSMTP{t: e.t, c: c, br: bufio.NewReader(c)}
	e.t.Cleanup(func() { r.c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard
	if code, text := r.reply(); code != 220 {
		e.t.Fatalf("greeting %d %s", code, text)
	}
	return r
}

func (r *rawSMTP) reply() (int, string) {
	r.t.Helper()
	var lines []string
	for {
		l, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("read: %v (after %q)", err, lines)
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 3 {
			r.t.Fatalf("short reply %q", l)
		}
		lines = append(lines, l[min(4, len(l)):])
		if len(l) == 3 || l[3] == ' ' {
			code, _ := strconv.Atoi(l[:3])
			return code, strings.Join(lines, "\n")
		}
	}
}

// cmd sends a line and checks the reply's code and the start of its text.
func (r *rawSMTP) cmd(line string, code int, prefix string) string {
	r.t.Helper()
	if _, err := r.c.Write([]byte(line + "\r\n")); err != nil {
		r.t.Fatal(err)
	}
	got, text := r.reply()
	if got != code || !strings.HasPrefix(text, prefix) {
		r.t.Fatalf("%q: got %d %s, want %d %s", line, got, text, code, prefix)
	}
	return text
}

func (r *rawSMTP) startTLS(cfg *tls.Config) {
	r.t.Helper()
	r.cmd("STARTTLS", 220, "2.0.0")
	tc := tls.Client(r.c, cfg)
	if err := tc.Handshake(); err != nil {
		r.t.Fatal(err)
	}
	r.c, r.br = tc, bufio.NewReader(tc)
}

func (r *rawSMTP) closed() {
	r.t.Helper()
	b := make([]byte, 1)
	if n, err := r.br.Read(b); err == nil || n != 0 {
		r.t.Errorf("connection not closed: read %q", b[:n])
	}
}

func TestSubmissionPreauth(t *testing.T) {
	e := newEnv(t)
	r := e.dialSMTP(false)
	r.cmd("MAIL FROM:<"+alice+">", 530, "5.7.0")
	ehlo := r.cmd("EHLO client.demo.example", 250, "mail.demo.example")
	for _, ext := range []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING", "SMTPUTF8", "SIZE", "STARTTLS"} {
		if !strings.Contains(ehlo, "\n"+ext) {
			t.Errorf("EHLO lacks %s:\n%s", ext, ehlo)
		}
	}
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("EHLO offers AUTH before TLS:\n%s", ehlo)
	}
	r.cmd("AUTH PLAIN "+plainIR("", alice, password), 523, "5.7.10")
	r.cmd("MAIL FROM:<"+alice+">", 530, "5.7.0")
	r.cmd("RCPT TO:<"+alice+">", 530, "5.7.0")
	r.cmd("DATA", 530, "5.7.0")
	r.cmd("NOOP", 250, "2.0.0")
	r.cmd("RSET", 250, "2.0.0")
	r.cmd("FOO", 500, "5.5.2")
	r.cmd("EHLO", 501, "5.5.4")
	r.cmd("STARTTLS now", 501, "5.5.4")

	r.startTLS(e.clientTLS)
	r.cmd("AUTH PLAIN "+plainIR("", alice, password), 503, "5.5.1") // EHLO first (RFC 3207 4.2)
	ehlo = r.cmd("EHLO client.demo.example", 250, "")
	if !strings.Contains(ehlo, "\nAUTH PLAIN LOGIN") || strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("EHLO after STARTTLS:\n%s", ehlo)
	}
	r.cmd("STARTTLS", 503, "5.5.1")
	r.cmd("MAIL FROM:<"+alice+">", 530, "5.7.0")
	r.cmd("AUTH CRAM-MD5", 504, "5.5.4")
	r.cmd("AUTH PLAIN !!!", 501, "5.5.2")
	r.cmd("AUTH PLAIN", 334, "")
	r.cmd("*", 501, "5.0.0")
	// AUTH LOGIN, wrong then right; the user name as initial response.
	r.cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
	r.cmd(b64(alice), 334, "UGFzc3dvcmQ6")
	r.cmd(b64("wrong"), 535, "5.7.8")
	r.cmd("AUTH LOGIN "+b64(alice), 334, "UGFzc3dvcmQ6")
	r.cmd(b64(password), 235, "2.7.0")
	// From here on the region answers.
	r.cmd("MAIL FROM:<"+alice+">", 250, "")
	r.cmd("RCPT TO:<"+alice+">", 250, "")
	r.cmd("DATA", 354, "")
	r.cmd(testMessage(alice, alice, "by hand")+".", 250, "")
	r.cmd("QUIT", 221, "")
	r.closed()
	if n := e.count("ie", alice, sealpost.UseInbox); n != 1 {
		t.Errorf("alice's INBOX holds %d messages, want 1", n)
	}
}

func TestSubmissionAuthFailures(t *testing.T) {
	e := newEnv(t)
	r := e.dialSMTP(true)
	r.cmd("EHLO client.demo.example", 250, "")
	r.cmd("AUTH PLAIN "+plainIR("", alice, "wrong"), 535, "5.7.8")
	r.cmd("AUTH PLAIN "+plainIR("", dave, password), 454, "4.7.0")
	r.cmd("AUTH PLAIN", 334, "")
	r.cmd(plainIR("", "nobody@demo.example", password), 535, "5.7.8")
	r.cmd("AUTH PLAIN "+plainIR("", bob, "wrong"), 535, "5.7.8")
	if code, _ := r.reply(); code != 421 {
		t.Errorf("after three failures: %d, want 421", code)
	}
	r.closed()

	// Pipelined commands after a successful AUTH go to the region.
	r = e.dialSMTP(true)
	r.cmd("EHLO client.demo.example", 250, "")
	r.c.Write([]byte("AUTH PLAIN " + plainIR("", bob, password) + "\r\nMAIL FROM:<" + bob + ">\r\nRCPT TO:<" + bob + ">\r\n"))
	for _, want := range []int{235, 250, 250} {
		if code, text := r.reply(); code != want {
			t.Fatalf("pipelined: %d %s, want %d", code, text, want)
		}
	}
	// BDAT (RFC 3030) passes through unchanged.
	raw := testMessage(bob, bob, "in chunks")
	r.c.Write([]byte("BDAT " + strconv.Itoa(len(raw)) + " LAST\r\n" + raw))
	if code, text := r.reply(); code != 250 {
		t.Fatalf("BDAT: %d %s", code, text)
	}
	r.cmd("QUIT", 221, "")
	if n := e.count("us", bob, sealpost.UseInbox); n != 1 {
		t.Errorf("bob's INBOX holds %d messages, want 1", n)
	}
}

func TestSubmissionLimits(t *testing.T) {
	e := newEnv(t)
	r := e.dialSMTP(true)
	r.cmd("EHLO client.demo.example", 250, "")
	r.c.Write([]byte(strings.Repeat("x", 3000) + "\r\n"))
	if code, _ := r.reply(); code != 500 {
		t.Errorf("long line: %d, want 500", code)
	}
	r.closed()

	r = e.dialSMTP(true)
	for range 9 {
		r.cmd("FOO", 500, "5.5.2")
	}
	r.c.Write([]byte("FOO\r\n"))
	if code, _ := r.reply(); code != 500 {
		t.Errorf("tenth error: %d", code)
	}
	if code, _ := r.reply(); code != 421 {
		t.Errorf("after ten errors: %d, want 421", code)
	}
	r.closed()
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestLogsHoldNoCredentials checks that the front door's log, at debug
// level, names neither users nor passwords.
func TestLogsHoldNoCredentials(t *testing.T) {
	e := newEnv(t)
	logs := &testkit.Buffer{}
	e.startFrontDoor(Options{Dial: e.dialer("frontdoor"), Logger: mlog.New(logs, slog.LevelDebug, false)})
	r := e.dialIMAP(true)
	r.expect("NO", "LOGIN %s wrongpass1", alice)
	r.expect("NO", "LOGIN nobody@demo.example wrongpass2")
	r.expect("OK", "LOGIN %s %q", alice, password)
	r.expect("OK", "LOGOUT")
	r.closed()
	s := e.dialSMTP(true)
	s.cmd("EHLO client.demo.example", 250, "")
	s.cmd("AUTH PLAIN "+plainIR("", bob, "wrongpass3"), 535, "")
	s.cmd("AUTH PLAIN "+plainIR("", bob, password), 235, "")
	s.cmd("QUIT", 221, "")
	s.closed()
	e.fd.Close()
	out := logs.String()
	if !strings.Contains(out, "region=us") || !strings.Contains(out, "region=ie") {
		t.Errorf("the log does not name the regions:\n%s", out)
	}
	for _, secret := range []string{password, "wrongpass", "alice", "bob", "nobody", b64(password)} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
	}
}
