package smtpserver

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
)

// TestMXDelivery sends with go-smtp's client and reads the message back
// through an owner's session: Received: header + the bytes sent.
func TestMXDelivery(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)

	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "SIZE"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("extension %s not advertised", ext)
		}
	}
	if _, param := c.Extension("SIZE"); param != fmt.Sprint(e.svc.MaxMessageSize()-TraceRoom) {
		t.Errorf("SIZE %q", param)
	}
	for _, ext := range []string{"AUTH", "STARTTLS"} {
		if ok, _ := c.Extension(ext); ok {
			t.Errorf("MX without TLS config advertises %s", ext)
		}
	}
	body := msg("From: Carol <carol@elsewhere.example>", "To: bob@example.test", "Subject: hello",
		"", "Hi Bob,", ".a line starting with a dot", "..two dots", "bye")
	if err := c.SendMail("carol@elsewhere.example", []string{"Bob@Example.TEST"}, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages, want 1", len(got))
	}
	rcvd, rest := splitReceived(t, got[0])
	if string(rest) != body {
		t.Errorf("stored body differs:\n got %q\nwant %q", rest, body)
	}
	for _, want := range []string{"from client.example ([127.0.0.1])", "by mx.example.test (Sealpost) with ESMTP id ",
		"for <bob@example.test>;"} {
		if !strings.Contains(rcvd, want) {
			t.Errorf("Received: header lacks %q:\n%s", want, rcvd)
		}
	}
	if n := e.count(alice, sealpost.UseInbox); n != 0 {
		t.Errorf("alice got %d messages", n)
	}
}

// TestMXByteExact checks that what is stored is exactly what was sent,
// whatever it holds, after the Received: header.
func TestMXByteExact(t *testing.T) {
	cases := []struct{ name, body string }{
		{"8-bit body", msg("Subject: 8bit", "Content-Type: text/plain; charset=utf-8", "", "Grüße, ½ € \xe4\xf6\xfc latin-1 too")},
		{"non-UTF-8 header", msg("Subject: \xff\xfe\x80 broken", "X-Bin: \x01\x02\x7f", "", "body")},
		{"no separator", msg("just one line, no header, no blank line")},
		{"mbox From line", msg("From carol@elsewhere.example Mon Jan  2 15:04:05 2006", "Subject: mbox", "", "body", "From here on")},
		{"dots", msg("Subject: dots", "", ".", "..", "...", ". x", "end")},
		{"empty", ""},
		{"no final CRLF in headers", msg("Subject: only a header")},
		{"long line", msg("Subject: long", "", strings.Repeat("x", 1500))},
	}
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	rc := dialRaw(t, addr)
	rc.cmd("EHLO client.example", 250, "")
	for _, tc := range cases {
		rc.cmd("MAIL FROM:<carol@elsewhere.example> BODY=8BITMIME", 250, "2.0.0")
		rc.cmd("RCPT TO:<bob@example.test>", 250, "2.0.0")
		rc.cmd("DATA", 354, "")
		rc.send(dotStuff(tc.body) + ".\r\n")
		if code, text := rc.reply(); code != 250 {
			t.Fatalf("%s: DATA got %d %s", tc.name, code, text)
		}
	}
	rc.cmd("QUIT", 221, "")
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != len(cases) {
		t.Fatalf("bob has %d messages, want %d", len(got), len(cases))
	}
	for i, tc := range cases {
		_, rest := splitReceived(t, got[i])
		if !bytes.Equal(rest, []byte(tc.body)) {
			t.Errorf("%s: stored\n%q\nwant\n%q", tc.name, rest, tc.body)
		}
	}
}

// dotStuff applies RFC 5321 4.5.2 to a CRLF message.
func dotStuff(s string) string {
	lines := strings.SplitAfter(s, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") {
			lines[i] = "." + l
		}
	}
	return strings.Join(lines, "")
}

// TestMXReplies checks each refusal and that the session goes on after it.
func TestMXReplies(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX, MaxRecipients: 2}, nil)
	rc := dialRaw(t, addr)
	ehlo := rc.cmd("EHLO client.example", 250, "")
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("MX advertises AUTH:\n%s", ehlo)
	}
	rc.cmd("RCPT TO:<bob@example.test>", 502, "5.5.1") // no MAIL yet
	rc.cmd("MAIL FROM:<carol@elsewhere.example> SIZE=2000000", 552, "5.3.4")
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "2.0.0")
	rc.cmd("RCPT TO:<someone@elsewhere.example>", 554, "5.7.1")
	rc.cmd("RCPT TO:<nobody@example.test>", 550, "5.1.1")
	rc.cmd("RCPT TO:<bob@[127.0.0.1]>", 554, "5.7.1")
	rc.cmd("RCPT TO:<"+strings.Repeat("a", 300)+"@example.test>", 501, "5.1.3")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "2.0.0")
	rc.cmd("RCPT TO:<alice@example.test>", 250, "2.0.0")
	rc.cmd("RCPT TO:<alice@example.test>", 452, "4.5.3") // MaxRecipients
	rc.cmd("AUTH PLAIN "+b64("\x00bob@example.test\x00"+password), 523, "5.7.10")
	rc.cmd("RSET", 250, "")
	rc.cmd("DATA", 502, "5.5.1") // no recipients

	// Actual size over the limit, without SIZE=.
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "")
	rc.cmd("DATA", 354, "")
	big := strings.Repeat(strings.Repeat("y", 998)+"\r\n", 1100)
	rc.send(big + ".\r\n")
	rc.expect(552)

	// A good message still goes through on the same connection, to both
	// recipients, with no "for" clause.
	rc.cmd("MAIL FROM:<>", 250, "")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "")
	rc.cmd("RCPT TO:<alice@example.test>", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send(msg("Subject: ok", "", "fine") + ".\r\n")
	rc.expect(250)
	rc.cmd("QUIT", 221, "")

	for _, a := range []string{alice, bob} {
		got, _ := e.bodies(a, "INBOX")
		if len(got) != 1 {
			t.Fatalf("%s has %d messages, want 1", a, len(got))
		}
		if rcvd, _ := splitReceived(t, got[0]); strings.Contains(rcvd, " for ") {
			t.Errorf("Received: names a recipient of a multi-recipient message:\n%s", rcvd)
		}
	}
}

// TestMalformedCommands: each gets a 5xx with a reason, and the connection
// stays usable.
func TestMalformedCommands(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	rc := dialRaw(t, addr)
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 502, "5.5.1") // before EHLO
	rc.cmd("EHLO", 501, "5.5.2")
	rc.cmd("EHLO client.example", 250, "")
	for _, tc := range []struct {
		line string
		code int
		enh  string
	}{
		{"XYZW plugh", 500, "5.5.2"},  // unknown command
		{"XYZZY plugh", 501, "5.5.2"}, // not a command at all

		{"MAIL TO:<a@b.example>", 501, "5.5.2"},
		{"MAIL FROM:carol", 501, "5.5.2"},
		{"MAIL FROM:<carol@elsewhere.example> FOO=BAR", 500, "5.5.4"},
		{"MAIL FROM:<carol@elsewhere.example> SIZE=abc", 501, "5.5.4"},
		{"MAIL FROM:<carol@elsewhere.example> BODY=9BIT", 501, "5.5.4"},
		{"RCPT TO:<bob@example.test>", 502, "5.5.1"},
		{"DATA", 502, "5.5.1"},
		{"DATA now", 501, "5.5.4"},
		{"EXPN staff", 502, "5.5.1"},
		{"VRFY bob", 252, "2.5.0"},
		{"MAIL FROM:<carol\x01@elsewhere.example>", 501, "5.1.3"},
		{"MAIL FROM:<jörg@elsewhere.example>", 553, "5.6.7"}, // no SMTPUTF8
	} {
		text := rc.cmd(tc.line, tc.code, tc.enh)
		if strings.TrimSpace(strings.TrimPrefix(text, tc.enh)) == "" {
			t.Errorf("%q: reply %d %s gives no reason", tc.line, tc.code, text)
		}
	}
	rc.cmd("NOOP", 250, "")
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:bob@example.test", 250, "") // no brackets: tolerated
	rc.cmd("DATA", 354, "")
	rc.send(msg("Subject: after errors", "", "x") + ".\r\n")
	rc.expect(250)
	if n := e.count(bob, sealpost.UseInbox); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
}

// TestLongLines: an over-long command line or text line gets a clear 5xx;
// the server goes on serving.
func TestLongLines(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX, MaxLineLength: 1000}, nil)

	rc := dialRaw(t, addr)
	rc.cmd("EHLO client.example", 250, "")
	rc.cmd("NOOP "+strings.Repeat("n", 3000), 500, "5.4.0")

	rc = dialRaw(t, addr)
	rc.cmd("EHLO client.example", 250, "")
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send("Subject: long\r\n\r\n" + strings.Repeat("z", 5000) + "\r\n.\r\n")
	code, text := rc.reply()
	if code != 500 || !strings.Contains(text, "Line too long") {
		t.Errorf("long text line: got %d %s", code, text)
	}

	rc = dialRaw(t, addr)
	rc.cmd("EHLO client.example", 250, "")
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send(msg("Subject: fine", "", strings.Repeat("z", 990)) + ".\r\n")
	rc.expect(250)
	if n := e.count(bob, sealpost.UseInbox); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
}

// TestSMTPUTF8: non-ASCII addresses with the SMTPUTF8 parameter (RFC 6531).
func TestSMTPUTF8(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	rc := dialRaw(t, addr)
	rc.cmd("EHLO client.example", 250, "")
	rc.cmd("MAIL FROM:<jörg@bücher.example> SMTPUTF8", 250, "")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "")
	rc.cmd("DATA", 354, "")
	body := msg("From: Jörg <jörg@bücher.example>", "Subject: Grüße", "", "Hallo")
	rc.send(body + ".\r\n")
	rc.expect(250)
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	rcvd, rest := splitReceived(t, got[0])
	if !strings.Contains(rcvd, "with UTF8SMTP id") || string(rest) != body {
		t.Errorf("got %q %q", rcvd, rest)
	}
}

// TestMXSTARTTLS: STARTTLS is offered with a TLS config, AUTH never is.
func TestMXSTARTTLS(t *testing.T) {
	e := newEnv(t)
	srvTLS, cliTLS := selfSigned()
	_, addr := e.serve(Options{Mode: MX, TLSConfig: srvTLS}, nil)
	rc := dialRaw(t, addr)
	if ehlo := rc.cmd("EHLO client.example", 250, ""); !strings.Contains(ehlo, "STARTTLS") || strings.Contains(ehlo, "AUTH") {
		t.Errorf("EHLO before TLS:\n%s", ehlo)
	}
	c, err := smtp.DialStartTLS(addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS advertised over TLS")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("MX advertises AUTH over TLS")
	}
	err = c.Auth(sasl.NewPlainClient("", bob, password))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 504 {
		t.Errorf("AUTH on MX over TLS: %v", err)
	}
	body := msg("Subject: over TLS", "", "secret")
	if err := c.SendMail("carol@elsewhere.example", []string{bob}, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	if rcvd, _ := splitReceived(t, got[0]); !strings.Contains(rcvd, "with ESMTPS (TLS1.3 ") {
		t.Errorf("Received: %s", rcvd)
	}
}

// TestPanicRecovered: a panic in a session answers 421 and the server
// serves the next client.
func TestPanicRecovered(t *testing.T) {
	e := newEnv(t)
	var panicked atomic.Bool
	srv, addr := e.serve(Options{Mode: MX, Now: func() time.Time {
		if panicked.CompareAndSwap(false, true) {
			panic("boom")
		}
		return time.Now()
	}}, nil)
	send := func(code int) {
		rc := dialRaw(t, addr)
		rc.cmd("EHLO client.example", 250, "")
		rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
		rc.cmd("RCPT TO:<bob@example.test>", 250, "")
		rc.cmd("DATA", 354, "")
		rc.send(msg("Subject: x", "", "y") + ".\r\n")
		rc.expect(code)
	}
	send(421)
	send(250)
	if n := srv.panics.Swap(0); n != 1 {
		t.Errorf("%d panics recovered, want 1", n)
	}
	if n := e.count(bob, sealpost.UseInbox); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
}

// TestMaxConnections: a client over the limit gets 421 4.7.0.
func TestMaxConnections(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX, MaxConnections: 1}, nil)
	first := dialRaw(t, addr)
	first.cmd("EHLO client.example", 250, "")

	c, err := smtpDialRaw(addr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c, "421 4.7.0") {
		t.Errorf("second connection got %q", c)
	}
	first.cmd("QUIT", 221, "")
	// The slot is freed once the server has closed the first connection.
	for i := 0; ; i++ {
		greeting, err := smtpDialRaw(addr)
		if err == nil && strings.HasPrefix(greeting, "220 ") {
			break
		}
		if i == 100 {
			t.Fatalf("no slot freed after QUIT: %q %v", greeting, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPipelining sends a whole transaction in one write (RFC 2920) and
// reads the replies in order.
func TestPipelining(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	rc := dialRaw(t, addr)
	rc.send("EHLO client.example\r\nMAIL FROM:<carol@elsewhere.example>\r\nRCPT TO:<nobody@example.test>\r\n" +
		"RCPT TO:<bob@example.test>\r\nDATA\r\n")
	for _, want := range []int{250, 250, 550, 250, 354} {
		rc.expect(want)
	}
	rc.send(msg("Subject: pipelined", "", "x") + ".\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
	for _, want := range []int{250, 250, 250, 354} {
		rc.expect(want)
	}
	rc.send(msg("Subject: second", "", "y") + ".\r\nQUIT\r\n")
	rc.expect(250)
	rc.expect(221)
	if a, b := e.count(alice, sealpost.UseInbox), e.count(bob, sealpost.UseInbox); a != 1 || b != 1 {
		t.Errorf("alice has %d, bob %d messages; want 1 each", a, b)
	}
}

// TestTimeouts: an idle client is told 421 and disconnected; a client
// sending its message slowly is not cut off while bytes keep coming.
func TestTimeouts(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX, ReadTimeout: 1500 * time.Millisecond}, nil)
	idle := dialRaw(t, addr)
	idle.expect(421) // no command within ReadTimeout

	rc := dialRaw(t, addr)
	rc.cmd("EHLO client.example", 250, "")
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send("Subject: slow\r\n\r\n")
	line := strings.Repeat("s", dataChunk+100) + "\r\n"
	for range 6 { // 3 s in all, more than ReadTimeout, but never idle that long
		time.Sleep(500 * time.Millisecond)
		rc.send(line)
	}
	rc.send(".\r\n")
	rc.expect(250)
}

// TestBDAT: CHUNKING (RFC 3030), which go-smtp always offers, stores the
// chunks byte for byte (no dot-stuffing) and applies the same checks.
func TestBDAT(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	rc := dialRaw(t, addr)
	rc.cmd("EHLO client.example", 250, "")
	body := msg("Subject: chunks", "", ".not stuffed", ".", "end")
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "")
	rc.send(fmt.Sprintf("BDAT %d\r\n%s", 10, body[:10]))
	rc.expect(250)
	rc.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body)-10, body[10:]))
	rc.expect(250)

	bad := "Subject: bare\n\nLF\n"
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "")
	rc.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(bad), bad))
	if text := rc.expect(554); !strings.Contains(text, "Bare LF") {
		t.Errorf("BDAT with bare LF: %s", text)
	}
	rc.cmd("QUIT", 221, "")
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages, want 1", len(got))
	}
	if _, rest := splitReceived(t, got[0]); string(rest) != body {
		t.Errorf("stored %q, want %q", rest, body)
	}
}
