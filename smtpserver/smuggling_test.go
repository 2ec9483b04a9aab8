package smtpserver

import (
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
)

// TestSmuggling sends the end-of-data forms of SMTP smuggling (SEC Consult,
// 2023): a lax server would end DATA at them and run the smuggled
// transaction that follows as a second message. Here DATA ends only at
// the real CRLF.CRLF, so there is one reply and at most one message, to the
// original recipient; the smuggled recipient gets nothing.
func TestSmuggling(t *testing.T) {
	cases := []struct {
		name, end string
		code      int // the reply to the one DATA
	}{
		{"LF.LF", "\n.\n", 554},
		{"LF.CRLF", "\n.\r\n", 554},
		{"CRLF.LF", "\r\n.\n", 554},
		{"CR.CR", "\r.\r", 554},
		{"CR.CRLF", "\r.\r\n", 554},
		{"CR.LF", "\r.\n", 554},
		{"LF.CR", "\n.\r", 554},
		{"CRLF.CR", "\r\n.\r", 250}, // go-smtp drops ".\r" (see readMessage): one message
		{"CRLF.CRCRLF", "\r\n.\r\r\n", 250},
		{"CRLF.NUL.CRLF", "\r\n\x00.\r\n", 250},
	}
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	wantBob := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.cmd("EHLO client.example", 250, "")
			rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
			rc.cmd("RCPT TO:<bob@example.test>", 250, "")
			rc.cmd("DATA", 354, "")
			rc.send("Subject: innocent\r\n\r\nhello" + tc.end +
				"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n" +
				"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
			code, text := rc.reply()
			if code != tc.code {
				t.Errorf("DATA got %d %s, want %d", code, text, tc.code)
			}
			if code == 554 && !strings.Contains(text, "Bare") {
				t.Errorf("refusal gives no clear reason: %s", text)
			}
			// Nothing else is pending: the next reply is NOOP's.
			if text := rc.cmd("NOOP", 250, "2.0.0"); !strings.Contains(text, "nothing") {
				t.Errorf("reply to NOOP: %s", text)
			}
			if code == 250 {
				wantBob++
			}
			if n := e.count(alice, sealpost.UseInbox); n != 0 {
				t.Fatalf("smuggled message delivered to alice (%d)", n)
			}
			if n := e.count(bob, sealpost.UseInbox); n != wantBob {
				t.Fatalf("bob has %d messages, want %d", n, wantBob)
			}
		})
	}
	// What was accepted holds the smuggled text inside the one message.
	got, _ := e.bodies(bob, "INBOX")
	for _, b := range got {
		if !strings.Contains(string(b), "MAIL FROM:<ceo@example.test>") || !strings.Contains(string(b), "evil") {
			t.Errorf("accepted message was split: %q", b)
		}
	}
}

// TestBareLineEndings: bare LF and bare CR anywhere are refused with a
// clear reason and the connection stays usable.
func TestBareLineEndings(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	rc := dialRaw(t, addr)
	rc.cmd("EHLO client.example", 250, "")
	for _, tc := range []struct{ body, reason string }{
		{"Subject: a\nX: b\r\n\r\nbody\r\n", "Bare LF"},
		{"Subject: a\r\n\r\nbody\nmore\r\n", "Bare LF"},
		{"Subject: a\r\n\r\nbody\rmore\r\n", "Bare CR"},
		{"Subject: a\r\n\r\nbody\r\r\nX\r\n\r\n", "Bare CR"}, // see readMessage on CR CR LF
		{"Subject: a\r\n\r\nbody\r\n\rX\r\n", "Bare CR"},
		{"\n\r\n", "Bare LF"},
	} {
		rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
		rc.cmd("RCPT TO:<bob@example.test>", 250, "")
		rc.cmd("DATA", 354, "")
		rc.send(tc.body + ".\r\n")
		if text := rc.expect(554); !strings.Contains(text, tc.reason) {
			t.Errorf("%q: reply %q lacks %q", tc.body, text, tc.reason)
		}
	}
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:<bob@example.test>", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send("Subject: good\r\n\r\nbody\r\n.\r\n")
	rc.expect(250)
	if n := e.count(bob, sealpost.UseInbox); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
}

func TestCheckLineEndings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *smtp.SMTPError
	}{
		{"", nil}, {"a\r\nb\r\n", nil}, {"abc", nil}, {"\r\n\r\n", nil},
		{"\n", replyBareLF}, {"a\r\n\n", replyBareLF}, {"a\nb\rc", replyBareLF},
		{"a\r", replyBareCR}, {"\r\r\n", replyBareCR}, {"a\rb\nc", replyBareCR},
	} {
		if got := checkLineEndings([]byte(tc.in)); got != tc.want {
			t.Errorf("checkLineEndings(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
