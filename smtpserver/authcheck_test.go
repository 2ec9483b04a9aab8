package smtpserver

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/mailauth"
	"github.com/sealpost/sealpost/resolver"
)

// The MX's checks (authcheck.go) against a real DNS server (env's
// testenv.DNS publishing senderRecords) and the real store.

// mxSend runs one MX transaction by hand and returns the reply to the data.
func mxSend(t *testing.T, addr, helo, from, to, body string) (int, string) {
	t.Helper()
	rc := dialRaw(t, addr)
	rc.cmd("EHLO "+helo, 250, "")
	rc.cmd("MAIL FROM:<"+from+">", 250, "")
	rc.cmd("RCPT TO:<"+to+">", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send(dotStuff(body) + ".\r\n")
	code, text := rc.reply()
	rc.cmd("QUIT", 221, "")
	return code, text
}

// TestMXForgedOwnDomain: mail from outside as one of our own domains,
// without our DKIM signature, is refused with 550 5.7.1 and nothing is
// stored, whatever the DNS says (example.test publishes nothing here).
func TestMXForgedOwnDomain(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	for _, tc := range []struct{ from, header string }{
		{alice, "From: Alice <alice@example.test>"},                       // both forged
		{"carol@elsewhere.example", "From: alice@example.test"},           // From: forged
		{alice, "From: Carol <carol@elsewhere.example>"},                  // MAIL FROM forged
		{"x@spoof.example", "From: Alice <ALICE@Example.TEST>"},           // case does not help
		{"x@spoof.example", "From: alice@example.test, x@y.test"},         // nor two authors
		{"x@spoof.example", "From: a@y.test\r\nFrom: alice@example.test"}, // nor two fields
	} {
		code, text := mxSend(t, addr, "client.example", tc.from, bob, msg(tc.header, "Subject: urgent", "", "pay now"))
		if code != 550 || !strings.HasPrefix(text, "5.7.1 ") || !strings.Contains(text, "DMARC") {
			t.Errorf("MAIL FROM %s, %s: got %d %s, want 550 5.7.1 naming DMARC", tc.from, tc.header, code, text)
		}
	}
	if in, junk := e.count(bob, sealpost.UseInbox), e.count(bob, sealpost.UseJunk); in != 0 || junk != 0 {
		t.Errorf("bob has %d messages in INBOX and %d in Junk, want none", in, junk)
	}
}

// TestMXAuthenticationResults: an accepted message is stored with the
// Authentication-Results: field first, then Received:, then the bytes
// received, as its owner reads it back.
func TestMXAuthenticationResults(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	body := msg("From: Carol <carol@elsewhere.example>", "To: bob@example.test", "Subject: hi", "", "Hi Bob")
	if code, text := mxSend(t, addr, "client.example", "carol@elsewhere.example", bob, body); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	ar, rest := splitField(t, got[0])
	want := "Authentication-Results: mx.example.test;\r\n" +
		"\tspf=pass smtp.mailfrom=carol@elsewhere.example;\r\n" +
		"\tdkim=none;\r\n" +
		"\tdmarc=pass header.from=elsewhere.example\r\n"
	if ar != want {
		t.Errorf("first field:\n%q\nwant\n%q", ar, want)
	}
	rcvd, rest := splitField(t, rest)
	if !strings.HasPrefix(rcvd, "Received: from client.example ([127.0.0.1])") || string(rest) != body {
		t.Errorf("then %q and %q", rcvd, rest)
	}
}

// TestMXForgedResults: Authentication-Results: fields a sender wrote in
// our name (authserv-id mx.example.test, any case, quoted or not) are
// removed before ours is added (RFC 8601 section 5); another server's
// are kept, in place.
func TestMXForgedResults(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	body := msg("Authentication-Results: MX.example.test; dkim=pass header.d=example.test; dmarc=pass",
		"From: Carol <carol@elsewhere.example>", "Authentication-Results: relay.elsewhere.example; spf=pass",
		`Authentication-Results: "mx.example.test";`, "\tdmarc=pass", "Subject: hi", "", "Hi Bob")
	if code, text := mxSend(t, addr, "client.example", "carol@elsewhere.example", bob, body); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	ar, rest := splitField(t, got[0])
	if !strings.HasPrefix(ar, "Authentication-Results: mx.example.test;") || !strings.Contains(ar, "dkim=none") {
		t.Errorf("first field %q", ar)
	}
	_, rest = splitReceived(t, rest)
	want := msg("From: Carol <carol@elsewhere.example>", "Authentication-Results: relay.elsewhere.example; spf=pass", "Subject: hi", "", "Hi Bob")
	if string(rest) != want {
		t.Errorf("stored\n%q\nwant\n%q", rest, want)
	}
}

// TestMXQuarantine: a DMARC failure under p=quarantine is delivered into
// the recipient's Junk mailbox, and p=reject is refused.
func TestMXQuarantine(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	body := msg("From: q@quarantine.example", "Subject: dubious", "", "click")
	if code, text := mxSend(t, addr, "client.example", "q@quarantine.example", bob, body); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	junk, _ := e.bodies(bob, "Junk")
	if len(junk) != 1 || e.count(bob, sealpost.UseInbox) != 0 {
		t.Fatalf("bob: %d in Junk, %d in INBOX; want 1, 0", len(junk), e.count(bob, sealpost.UseInbox))
	}
	ar, rest := splitField(t, junk[0])
	if !strings.Contains(ar, "spf=fail smtp.mailfrom=q@quarantine.example") ||
		!strings.Contains(ar, `dmarc=fail reason="p=quarantine" header.from=quarantine.example`) {
		t.Errorf("Authentication-Results: %q", ar)
	}
	if _, rest = splitReceived(t, rest); string(rest) != body {
		t.Errorf("stored body %q", rest)
	}

	// elsewhere.example says p=reject: its From: from an unauthorized
	// sender is refused.
	code, text := mxSend(t, addr, "client.example", "x@spoof.example", bob, msg("From: carol@elsewhere.example", "", "x"))
	if code != 550 || !strings.HasPrefix(text, "5.7.1") {
		t.Errorf("p=reject: %d %s", code, text)
	}
}

// TestMXTempFail: when the DMARC policy cannot be fetched and nothing
// aligned passes, the MX answers 451 4.7.0 and stores nothing; an aligned
// SPF pass needs no policy; once the DNS answers, the policy decides.
func TestMXTempFail(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	e.dns.Add(t, `_dmarc.flaky.example. 300 IN TXT "v=DMARC1; p=reject"`,
		`flaky.example. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`)
	e.dns.Fail("_dmarc.flaky.example", dns.RcodeServerFailure)
	body := msg("From: f@flaky.example", "", "x")
	if code, text := mxSend(t, addr, "client.example", "x@spoof.example", bob, body); code != 451 || !strings.HasPrefix(text, "4.7.0") {
		t.Errorf("policy SERVFAIL: %d %s, want 451 4.7.0", code, text)
	}
	if n := e.count(bob, sealpost.UseInbox); n != 0 {
		t.Errorf("bob has %d messages after a 451", n)
	}
	if code, text := mxSend(t, addr, "client.example", "f@flaky.example", bob, body); code != 250 {
		t.Errorf("aligned SPF pass while the policy is unavailable: %d %s", code, text)
	}
	e.dns.Fail("_dmarc.flaky.example", 0)
	if code, text := mxSend(t, addr, "client.example", "x@spoof.example", bob, body); code != 550 {
		t.Errorf("retry once the policy answers: %d %s, want 550", code, text)
	}
	if n := e.count(bob, sealpost.UseInbox); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
}

// TestMXTrustedRelay: mail from a trusted relay is not checked (no
// Authentication-Results: is added), even as our own domain.
func TestMXTrustedRelay(t *testing.T) {
	e := newEnv(t)
	r, err := resolver.New(resolver.Options{Servers: []string{e.dns.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := mailauth.New(mailauth.Options{Hostname: "mx.example.test", Resolver: r, Hosted: e.svc.IsHostedDomain,
		TrustedRelays: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	_, addr := e.serve(Options{Mode: MX, Checker: c}, nil)
	body := msg("From: alice@example.test", "", "relayed")
	if code, text := mxSend(t, addr, "relay.example", alice, bob, body); code != 250 {
		t.Fatalf("DATA: %d %s", code, text)
	}
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	if _, rest := splitReceived(t, got[0]); string(rest) != body || strings.HasPrefix(string(got[0]), "Authentication-Results") {
		t.Errorf("stored %q", got[0])
	}
}

// TestSubmissionNotChecked: submission is authenticated, so even with a
// Checker configured it checks nothing: alice's own mail, unsigned, goes
// through without an Authentication-Results: field.
func TestSubmissionNotChecked(t *testing.T) {
	e := newEnv(t)
	srvTLS, cliTLS := selfSigned()
	_, addr := e.serve(Options{Mode: Submission, TLSConfig: srvTLS, Checker: e.checker}, nil)
	c, err := smtp.DialStartTLS(addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", alice, password)); err != nil {
		t.Fatal(err)
	}
	body := msg("From: alice@example.test", "To: bob@example.test", "Date: Mon, 02 Jan 2006 15:04:05 +0000",
		"Message-ID: <s@example.test>", "Subject: mine", "", "hi")
	if err := c.SendMail(alice, []string{bob}, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 || strings.Contains(string(got[0]), "Authentication-Results") {
		t.Fatalf("bob's copy: %q", got)
	}
}
