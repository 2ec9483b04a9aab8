package smtpserver

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/srs"
)

var srsKey = srs.Key{0: 7, 31: 9}

// srsOpts is an MX with SRS on, its clock at testNow.
func srsOpts() Options {
	k := srsKey
	return Options{Mode: MX, SRS: &k, Now: func() time.Time { return testNow }, TarpitFree: 100}
}

func srsForward(t *testing.T, orig, domain string, at time.Time) string {
	t.Helper()
	fwd, err := srs.Forward(srsKey, orig, domain, at)
	if err != nil {
		t.Fatal(err)
	}
	return fwd
}

// queued returns the outbound queue's entries and the plaintext of each.
func (e *env) queued() ([]sealpost.QueuedMessage, [][]byte) {
	e.t.Helper()
	ctx := context.Background()
	q, err := e.store.Queue(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var plain [][]byte
	for _, m := range q {
		rd, err := e.blobs.Get(ctx, m.Blob)
		if err != nil {
			e.t.Fatal(err)
		}
		sealed, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		p, _, err := e.queue.Unlocked.Open(sealed, nil)
		if err != nil {
			e.t.Fatal(err)
		}
		plain = append(plain, p)
	}
	return q, plain
}

// TestSRSBouncePython: a bounce (null sender, from Python's smtplib) to
// the SRS address of a redirected message's sender is accepted and queued
// for that sender, with the null sender, the case of the original kept.
func TestSRSBouncePython(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(srsOpts(), nil)
	fwd := srsForward(t, "Bob.Smith@Example.NET", domain, testNow.Add(-3*24*time.Hour))
	body := msg("From: Mail Delivery System <MAILER-DAEMON@mx.example.net>", "To: "+fwd,
		"Subject: Undelivered Mail Returned to Sender", "Content-Type: text/plain", "", "carol@example.net: mailbox full")
	sendPython(t, "mx", addr, "", fwd, body)

	q, plain := e.queued()
	if len(q) != 1 {
		t.Fatalf("queue holds %d messages", len(q))
	}
	if q[0].From != "" || !slices.Equal(q[0].Recipients, []string{"Bob.Smith@Example.NET"}) {
		t.Errorf("queued envelope %q %q", q[0].From, q[0].Recipients)
	}
	rcvd, rest := splitReceived(t, plain[0])
	if string(rest) != body || !strings.Contains(rcvd, "by mx.example.test (Sealpost) with ESMTP") {
		t.Errorf("queued message:\n%s%q", rcvd, rest)
	}
	for _, a := range []string{alice, bob} {
		if n := e.count(a, sealpost.UseInbox); n != 0 {
			t.Errorf("%s got %d messages", a, n)
		}
	}
}

// TestSRSRefused: an SRS address takes only bounces, and only when it
// checks; refusals leave nothing queued and the session usable.
func TestSRSRefused(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(srsOpts(), nil)
	fwd := srsForward(t, "bob@example.net", domain, testNow)
	f := strings.SplitN(fwd, "=", 5) // SRS0 HHHH TT example.net bob@example.test
	tampered := strings.Join([]string{f[0], f[1], f[2], "example.org", f[4]}, "=")
	badHash := strings.Join([]string{f[0], strings.Repeat("A", 4), f[2], f[3], f[4]}, "=")
	if badHash == fwd {
		badHash = strings.Join([]string{f[0], strings.Repeat("B", 4), f[2], f[3], f[4]}, "=")
	}
	expired := srsForward(t, "bob@example.net", domain, testNow.Add(-(srs.MaxAge+1)*24*time.Hour))

	rc := dialRaw(t, addr)
	rc.cmd("EHLO mx.example.net", 250, "")
	// Not a bounce: no relaying through an SRS address, however valid.
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:<"+fwd+">", 550, "5.7.1")
	rc.cmd("RSET", 250, "")
	rc.cmd("MAIL FROM:<>", 250, "")
	for _, a := range []string{tampered, badHash, expired, "SRS0=xx@" + domain, "SRS1=AAAA=fwd1.example==AAAA=BO=x=y@" + domain} {
		rc.cmd("RCPT TO:<"+a+">", 550, "5.1.1")
	}
	rc.cmd("DATA", 502, "5.5.1") // no valid recipients (go-smtp)
	// Still healthy: the valid address, in lower case, as a mail system
	// on the way may have rewritten it.
	rc.cmd("MAIL FROM:<>", 250, "")
	rc.cmd("RCPT TO:<"+strings.ToLower(fwd)+">", 250, "2.0.0")
	rc.cmd("DATA", 354, "")
	rc.send(msg("From: MAILER-DAEMON@mx.example.net", "Subject: bounce", "", "x") + ".\r\n")
	rc.expect(250)
	rc.cmd("QUIT", 221, "")

	q, _ := e.queued()
	if len(q) != 1 || q[0].From != "" || !slices.Equal(q[0].Recipients, []string{"bob@example.net"}) {
		t.Fatalf("queue: %+v", q)
	}
}

// TestSRSQuoted: an original whose local part must be quoted is carried
// in a quoted SRS address and queued quoted.
func TestSRSQuoted(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(srsOpts(), nil)
	fwd := srsForward(t, `"john doe"@example.net`, domain, testNow)
	if !strings.HasPrefix(fwd, `"SRS0=`) {
		t.Fatalf("Forward gave %q", fwd)
	}
	rc := dialRaw(t, addr)
	rc.cmd("EHLO mx.example.net", 250, "")
	rc.cmd("MAIL FROM:<>", 250, "")
	rc.cmd("RCPT TO:<"+fwd+">", 250, "2.0.0")
	rc.cmd("DATA", 354, "")
	rc.send(msg("From: MAILER-DAEMON@mx.example.net", "Subject: bounce", "", "x") + ".\r\n")
	rc.expect(250)
	q, _ := e.queued()
	if len(q) != 1 || !slices.Equal(q[0].Recipients, []string{`"john doe"@example.net`}) {
		t.Fatalf("queue: %+v", q)
	}
}

// TestSRSHostedOriginal: a bounce for a sender of one of our own domains
// (rewritten by a user of another) is delivered to that account, not
// queued.
func TestSRSHostedOriginal(t *testing.T) {
	e := newEnv(t)
	if err := e.svc.AddDomain(context.Background(), "other.test"); err != nil {
		t.Fatal(err)
	}
	_, addr := e.serve(srsOpts(), nil)
	fwd := srsForward(t, "Alice@example.test", "other.test", testNow)
	body := msg("From: MAILER-DAEMON@mx.example.net", "Subject: bounce", "", "x")
	sendPython(t, "mx", addr, "", fwd, body)
	if q, _ := e.queued(); len(q) != 0 {
		t.Errorf("queue: %+v", q)
	}
	got, _ := e.bodies(alice, "INBOX")
	if len(got) != 1 {
		t.Fatalf("alice has %d messages", len(got))
	}
	if _, rest := splitReceived(t, got[0]); string(rest) != body {
		t.Errorf("alice got %q", rest)
	}
}

// TestSRSOff: without a key, an SRS address is an unknown user like any
// other, even a valid one.
func TestSRSOff(t *testing.T) {
	e := newEnv(t)
	opts := srsOpts()
	opts.SRS = nil
	_, addr := e.serve(opts, nil)
	rc := dialRaw(t, addr)
	rc.cmd("EHLO mx.example.net", 250, "")
	rc.cmd("MAIL FROM:<>", 250, "")
	rc.cmd("RCPT TO:<"+srsForward(t, "bob@example.net", domain, testNow)+">", 550, "5.1.1")
}
