package smtpserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mlog"
)

func wantCode(t *testing.T, what string, err error, code int, enh smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != code || se.EnhancedCode != enh {
		t.Errorf("%s: got %v, want %d %v", what, err, code, enh)
	}
}

// TestSubmissionNoAuthWithoutTLS: AUTH on a cleartext connection is refused
// with a clear error and authenticates nobody; MAIL then needs AUTH.
func TestSubmissionNoAuthWithoutTLS(t *testing.T) {
	e := newEnv(t)
	srvTLS, _ := selfSigned()
	_, addr := e.serve(Options{Mode: Submission, TLSConfig: srvTLS}, nil)
	rc := dialRaw(t, addr)
	ehlo := rc.cmd("EHLO client.example", 250, "")
	if strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("EHLO on cleartext submission:\n%s", ehlo)
	}
	if text := rc.cmd("AUTH PLAIN "+b64("\x00"+alice+"\x00"+password), 523, "5.7.10"); !strings.Contains(text, "TLS") {
		t.Errorf("AUTH refusal does not say why: %s", text)
	}
	rc.cmd("AUTH LOGIN", 523, "5.7.10")
	rc.cmd("MAIL FROM:<alice@example.test>", 530, "5.7.0")
	rc.cmd("RCPT TO:<bob@example.test>", 502, "5.5.1")
	if n := e.count(bob, sealpost.UseInbox); n != 0 {
		t.Errorf("bob has %d messages", n)
	}
}

// TestSubmission: over STARTTLS with AUTH PLAIN, a message to a local and a
// remote recipient is delivered, queued sealed, and filed in Sent.
func TestSubmission(t *testing.T) {
	e := newEnv(t)
	e.saveSent(alice)
	srvTLS, cliTLS := selfSigned()
	_, addr := e.serve(Options{Mode: Submission, TLSConfig: srvTLS, Hostname: "smtp.example.test"}, nil)
	c, err := smtp.DialStartTLS(addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("laptop.example"); err != nil {
		t.Fatal(err)
	}
	if ok, mechs := c.Extension("AUTH"); !ok || mechs != "PLAIN LOGIN" {
		t.Errorf("AUTH %q over TLS", mechs)
	}
	wantCode(t, "MAIL before AUTH", c.Mail(alice, nil), 530, smtp.EnhancedCode{5, 7, 0})
	wantCode(t, "wrong password", c.Auth(sasl.NewPlainClient("", alice, "wrong password")), 535, smtp.EnhancedCode{5, 7, 8})
	wantCode(t, "other identity", c.Auth(sasl.NewPlainClient(bob, alice, password)), 535, smtp.EnhancedCode{5, 7, 8})
	if err := c.Auth(sasl.NewPlainClient("", "Alice@Example.test", password)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "MAIL as bob", c.Mail(bob, nil), 553, smtp.EnhancedCode{5, 7, 1})
	wantCode(t, "null sender", c.Mail("", nil), 553, smtp.EnhancedCode{5, 7, 1})
	if err := c.Mail("ALICE@example.test", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "unknown local", c.Rcpt("nobody@example.test", nil), 550, smtp.EnhancedCode{5, 1, 1})
	wantCode(t, "bad domain", c.Rcpt("x@bad_domain!", nil), 501, smtp.EnhancedCode{5, 1, 3})
	for _, r := range []string{bob, "dave@elsewhere.example", "Dave@Elsewhere.example"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	const marker = "PLAINTEXT-MARKER-4f1c"
	body := msg("From: alice@example.test", "To: bob@example.test, dave@elsewhere.example",
		"Date: Mon, 02 Jan 2006 15:04:05 +0000", "Message-ID: <1@laptop.example>", "Subject: "+marker, "", marker)
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, body)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()

	// Local recipient.
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	rcvd, rest := splitReceived(t, got[0])
	if string(rest) != body || !strings.Contains(rcvd, "from laptop.example ([127.0.0.1])") ||
		!strings.Contains(rcvd, "by smtp.example.test (Sealpost) with ESMTPSA (TLS1.3") || strings.Contains(rcvd, " for ") {
		t.Errorf("bob's copy:\n%s%q", rcvd, rest)
	}

	// Remote recipient: queued, sealed to the queue key.
	ctx := context.Background()
	q, err := e.store.Queue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 {
		t.Fatalf("queue holds %d messages", len(q))
	}
	if q[0].From != "ALICE@example.test" || !slices.Equal(q[0].Recipients, []string{"dave@elsewhere.example"}) {
		t.Errorf("queued envelope %q %q", q[0].From, q[0].Recipients)
	}
	rd, err := e.blobs.Get(ctx, q[0].Blob)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := io.ReadAll(rd)
	rd.Close()
	if bytes.Contains(sealed, []byte(marker)) || bytes.Contains(sealed, []byte("alice@example.test")) {
		t.Error("queued blob holds plaintext")
	}
	plain, _, err := e.queue.Unlocked.Open(sealed, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, got[0]) {
		t.Errorf("queued message differs from the local copy:\n%q\n%q", plain, got[0])
	}

	// Sender's copy: the message as submitted, \Seen.
	sent, flags := e.bodies(alice, "Sent")
	if len(sent) != 1 || string(sent[0]) != body {
		t.Fatalf("Sent holds %q", sent)
	}
	if !slices.Contains(flags[0], `\Seen`) {
		t.Errorf("Sent copy flags %q", flags[0])
	}
}

// TestSubmissionImplicitTLS: port 465 style, with AUTH LOGIN; Date: and
// Message-ID: are added when missing (RFC 6409 8.2, 8.3).
func TestSubmissionImplicitTLS(t *testing.T) {
	e := newEnv(t)
	e.saveSent(bob)
	srvTLS, cliTLS := selfSigned()
	_, addr := e.serve(Options{Mode: Submission, ImplicitTLS: true, TLSConfig: srvTLS, MaxConnections: 4}, srvTLS)
	c, err := smtp.DialTLS(addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("laptop.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered on implicit TLS")
	}
	wantCode(t, "LOGIN wrong password", c.Auth(sasl.NewLoginClient(bob, "nope nope")), 535, smtp.EnhancedCode{5, 7, 8})
	if err := c.Auth(sasl.NewLoginClient(bob, password)); err != nil {
		t.Fatal(err)
	}
	body := msg("From: bob@example.test", "Subject: no date", "", "hi")
	if err := c.SendMail(bob, []string{alice}, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	got, _ := e.bodies(alice, "INBOX")
	if len(got) != 1 {
		t.Fatalf("alice has %d messages", len(got))
	}
	rcvd, rest := splitReceived(t, got[0])
	if !strings.Contains(rcvd, "with ESMTPSA") || !strings.Contains(rcvd, "for <alice@example.test>") {
		t.Errorf("Received: %s", rcvd)
	}
	if !strings.HasPrefix(string(rest), "Date: ") || !strings.Contains(string(rest), "\r\nMessage-ID: <") ||
		!strings.HasSuffix(string(rest), "\r\n"+body) {
		t.Errorf("submitted message without Date/Message-ID stored as %q", rest)
	}
	if sent, _ := e.bodies(bob, "Sent"); len(sent) != 1 || !bytes.Equal(sent[0], rest) {
		t.Errorf("Sent copy %q", sent)
	}
}

// TestAuthFailureLimit: after maxAuthFailures failures no password is
// checked any more on that connection.
func TestAuthFailureLimit(t *testing.T) {
	e := newEnv(t)
	srvTLS, cliTLS := selfSigned()
	_, addr := e.serve(Options{Mode: Submission, TLSConfig: srvTLS}, nil)
	rc := dialRaw(t, addr)
	rc.cmd("EHLO laptop.example", 250, "")
	rc.startTLS(cliTLS)
	rc.cmd("EHLO laptop.example", 250, "")
	for range maxAuthFailures {
		rc.cmd("AUTH PLAIN "+b64("\x00"+alice+"\x00wrong password"), 535, "5.7.8")
	}
	rc.cmd("AUTH PLAIN "+b64("\x00"+alice+"\x00"+password), 421, "4.7.0")
	rc.cmd("AUTH LOGIN", 421, "4.7.0")
	rc.cmd("MAIL FROM:<alice@example.test>", 530, "5.7.0")
}

func TestAddSubmissionHeaders(t *testing.T) {
	for _, tc := range []struct {
		in          string
		date, msgid bool // whether each is added
	}{
		{msg("Date: x", "Message-ID: <a@b>", "", "body"), false, false},
		{msg("date : x", "message-id:<a@b>"), false, false},
		{msg("Subject: s", "", "Date: in the body", "Message-ID: in the body"), true, true},
		{msg("Subject: s", " Date: folded, not a field"), true, true},
		{msg("Message-Id: <a@b>"), true, false},
		{"", true, true},
	} {
		out := string(addSubmissionHeaders([]byte(tc.in), testNow, "h.example"))
		if !strings.HasSuffix(out, tc.in) {
			t.Errorf("%q: original changed: %q", tc.in, out)
		}
		added := strings.TrimSuffix(out, tc.in)
		if strings.Contains(added, "Date: ") != tc.date || strings.Contains(added, "Message-ID: <") != tc.msgid {
			t.Errorf("%q: added %q", tc.in, added)
		}
	}
}

// TestAuthLogin runs the LOGIN exchange by hand, without and with an
// initial response.
func TestAuthLogin(t *testing.T) {
	e := newEnv(t)
	srvTLS, cliTLS := selfSigned()
	_, addr := e.serve(Options{Mode: Submission, TLSConfig: srvTLS}, nil)
	for _, initial := range []bool{false, true} {
		rc := dialRaw(t, addr)
		rc.cmd("EHLO laptop.example", 250, "")
		rc.startTLS(cliTLS)
		rc.cmd("EHLO laptop.example", 250, "")
		if initial {
			rc.cmd("AUTH LOGIN "+b64(alice), 334, b64("Password:"))
		} else {
			rc.cmd("AUTH LOGIN", 334, b64("Username:"))
			rc.cmd(b64(alice), 334, b64("Password:"))
		}
		rc.cmd(b64(password), 235, "2.0.0")
		rc.cmd("AUTH LOGIN", 503, "5.5.1") // already authenticated
		rc.cmd("MAIL FROM:<alice@example.test>", 250, "")
		rc.cmd("QUIT", 221, "")
	}
}

// TestLogRedaction: at info level the log holds neither credentials, nor
// content, nor envelope addresses; at debug level addresses only.
func TestLogRedaction(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		e := newEnv(t)
		var buf testkit.Buffer
		srvTLS, cliTLS := selfSigned()
		_, addr := e.serve(Options{Mode: Submission, TLSConfig: srvTLS, Logger: mlog.New(&buf, level, false)}, nil)
		c, err := smtp.DialStartTLS(addr, cliTLS)
		if err != nil {
			t.Fatal(err)
		}
		c.Auth(sasl.NewPlainClient("", alice, "a wrong password"))
		if err := c.Auth(sasl.NewPlainClient("", alice, password)); err != nil {
			t.Fatal(err)
		}
		const secret = "CONTENT-7731"
		if err := c.SendMail(alice, []string{bob, "zed@elsewhere.example"}, strings.NewReader(msg("From: "+alice, "Subject: "+secret, "", secret))); err != nil {
			t.Fatal(err)
		}
		c.Quit()
		c.Close()
		log := buf.String()
		for _, bad := range []string{password, "a wrong password", secret, b64("\x00" + alice + "\x00" + password)} {
			if strings.Contains(log, bad) {
				t.Errorf("level %v: log holds %q:\n%s", level, bad, log)
			}
		}
		if !strings.Contains(log, "message accepted") {
			t.Errorf("level %v: no log of the delivery:\n%s", level, log)
		}
		// Correspondents' addresses are sealed content: mlog redacts them
		// at every level, debug included.
		if strings.Contains(log, "zed@elsewhere.example") || strings.Contains(log, bob) {
			t.Errorf("level %v: envelope address logged:\n%s", level, log)
		}
	}
}

// TestSubmissionFromAndSent: by default the server keeps no Sent copy (the
// client APPENDs its own); the From: header must be the authenticated
// account's, every address of it, and present.
func TestSubmissionFromAndSent(t *testing.T) {
	e := newEnv(t)
	srvTLS, cliTLS := selfSigned()
	_, addr := e.serve(Options{Mode: Submission, TLSConfig: srvTLS}, nil)
	c, err := smtp.DialStartTLS(addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", alice, password)); err != nil {
		t.Fatal(err)
	}
	send := func(headers ...string) error {
		return c.SendMail(alice, []string{bob}, strings.NewReader(msg(append(headers, "Subject: x", "", "body")...)))
	}
	for name, tt := range map[string]struct {
		headers []string
		code    int
		enh     smtp.EnhancedCode
	}{
		"someone else":        {[]string{"From: Bob <bob@example.test>"}, 553, smtp.EnhancedCode{5, 7, 1}},
		"one of two is not":   {[]string{"From: alice@example.test, mallory@elsewhere.example"}, 553, smtp.EnhancedCode{5, 7, 1}},
		"encoded other":       {[]string{"From: =?utf-8?q?Alice?= <mallory@elsewhere.example>"}, 553, smtp.EnhancedCode{5, 7, 1}},
		"no From":             {[]string{"To: bob@example.test"}, 554, smtp.EnhancedCode{5, 6, 0}},
		"two From fields":     {[]string{"From: alice@example.test", "From: alice@example.test"}, 554, smtp.EnhancedCode{5, 6, 0}},
		"not an address list": {[]string{"From: <<<"}, 554, smtp.EnhancedCode{5, 6, 0}},
	} {
		wantCode(t, name, send(tt.headers...), tt.code, tt.enh)
	}
	if got, _ := e.bodies(bob, "INBOX"); len(got) != 0 {
		t.Fatalf("a refused message reached bob: %d", len(got))
	}
	if err := send("From: =?utf-8?q?Al=C3=AFce?= <Alice@Example.TEST>"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.bodies(bob, "INBOX"); len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	if sent, _ := e.bodies(alice, "Sent"); len(sent) != 0 {
		t.Errorf("Sent holds %d server copies by default", len(sent))
	}
}
