package outbound

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/sealpost/sealpost/internal/testenv"
)

const msg = "From: Alice <alice@sealpost.example.test>\r\nTo: bob@example.test\r\nSubject: hello\r\n" +
	"Message-ID: <1@sealpost.example.test>\r\n\r\nA sealed letter.\r\n"

// Delivery goes to the mail exchangers in preference order, every address
// of each, STARTTLS when offered: the first is down, the second takes the
// message, byte for byte, over TLS. The entry and its blob are gone.
func TestDeliverToMX(t *testing.T) {
	cert, _ := testenv.TestCert()
	p := newPeer(t, "127.0.0.2", peerOptions{tls: &tls.Config{Certificates: []tls.Certificate{cert}}})
	e := newEnv(t, Options{Port: p.port()},
		"example.test. 300 IN MX 10 down.example.test.",
		"example.test. 300 IN MX 20 mx.example.test.",
		"down.example.test. 300 IN A 127.0.0.3", // nothing listens there
		"mx.example.test. 300 IN A 127.0.0.2",
	)
	m := e.enqueue("alice@sealpost.example.test", []string{"bob@example.test", "carol@example.test"}, msg)
	e.run()
	got := p.messages()
	if len(got) != 1 || got[0].from != "alice@sealpost.example.test" || len(got[0].rcpts) != 2 || string(got[0].data) != msg || !got[0].tls {
		t.Fatalf("the peer received %+v", got)
	}
	if q := e.queue(); len(q) != 0 {
		t.Fatalf("queue after delivery: %+v", q)
	}
	if _, err := e.blobs.Get(t.Context(), m.Blob); err == nil {
		t.Error("the queued blob survived its delivery")
	}
	if n := e.notices(); len(n) != 0 {
		t.Errorf("a delivered message earned %d notices", len(n))
	}
}

// A 550 for one recipient bounces it: exactly one notice, in RFC 3464
// form, while the other recipient gets the message.
func TestBounceOnPermanentFailure(t *testing.T) {
	p := newPeer(t, "127.0.0.2", peerOptions{})
	e := newEnv(t, Options{Port: p.port()}, "example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.2")
	e.enqueue("alice@sealpost.example.test", []string{"perm@example.test", "bob@example.test"}, msg)
	e.run()
	e.run() // nothing left: nothing more happens
	if got := p.messages(); len(got) != 1 || len(got[0].rcpts) != 1 || got[0].rcpts[0] != "bob@example.test" {
		t.Fatalf("the peer received %+v", got)
	}
	n := e.notices()
	if len(n) != 1 || n[0].to != "alice@sealpost.example.test" {
		t.Fatalf("notices: %d, want one bounce to alice", len(n))
	}
	r := parseDSN(t, n[0].msg)
	if r.action["perm@example.test"] != "failed" || r.status["perm@example.test"] != "5.1.1" || !strings.Contains(r.diag["perm@example.test"], "550 5.1.1 No such user here") {
		t.Errorf("bounce: %+v", r)
	}
	if _, ok := r.action["bob@example.test"]; ok {
		t.Error("the bounce names the recipient who got the message")
	}
	if !strings.Contains(r.headers, "Subject: hello") || strings.Contains(string(n[0].msg), "A sealed letter") {
		t.Error("the bounce must carry the original header and not the body")
	}
	if len(e.queue()) != 0 {
		t.Error("entry left after a delivery and a bounce")
	}
	if st := e.svc.Stats(); st != (Stats{Delivered: 1, Bounced: 1}) {
		t.Errorf("Stats %+v, want one delivered, one bounced", st)
	}
}

// A 451 is retried on the backoff schedule; the sender is told once that
// it is delayed; at the end of the lifetime it bounces with 4.4.7.
func TestRetryDelayAndExpiry(t *testing.T) {
	p := newPeer(t, "127.0.0.2", peerOptions{})
	e := newEnv(t, Options{Port: p.port(), MinBackoff: 5 * time.Minute, MaxBackoff: time.Hour,
		Lifetime: 5 * time.Hour, DelayWarning: time.Hour},
		"example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.2")
	start := e.clock.Now()
	e.enqueue("alice@sealpost.example.test", []string{"temp@example.test"}, msg)
	e.run()
	q := e.queue()
	if len(q) != 1 || q[0].Attempts != 1 || !strings.Contains(q[0].LastError, "451 4.2.0") {
		t.Fatalf("after a 451: %+v", q)
	}
	if d := q[0].NextTry.Sub(start); d < 4*time.Minute || d > 6*time.Minute {
		t.Errorf("first retry in %v, want about 5m", d)
	}
	e.run() // not due yet
	if e.queue()[0].Attempts != 1 {
		t.Fatal("retried before it was due")
	}
	var attempts []time.Duration
	for e.clock.Now().Sub(start) < 6*time.Hour && len(e.queue()) > 0 {
		e.clock.Set(e.queue()[0].NextTry)
		e.run()
		attempts = append(attempts, e.clock.Now().Sub(start).Round(time.Minute))
	}
	if len(e.queue()) != 0 {
		t.Fatalf("still queued after the lifetime: %+v", e.queue())
	}
	n := e.notices()
	if len(n) != 2 {
		t.Fatalf("%d notices, want a delay warning and a bounce (attempts at %v)", len(n), attempts)
	}
	delayed, failed := parseDSN(t, n[0].msg), parseDSN(t, n[1].msg)
	if delayed.action["temp@example.test"] != "delayed" || !strings.Contains(delayed.subject, "Delayed") {
		t.Errorf("first notice: %+v", delayed)
	}
	if failed.action["temp@example.test"] != "failed" || failed.status["temp@example.test"] != "4.4.7" ||
		!strings.Contains(failed.diag["temp@example.test"], "451 4.2.0") {
		t.Errorf("last notice: %+v", failed)
	}
	if st := e.svc.Stats(); st.Delivered != 0 || st.Bounced != 1 || st.Deferred != uint64(len(attempts)) {
		t.Errorf("Stats %+v, want %d deferred then one bounced", st, len(attempts))
	}
	// The backoff doubled from 5 minutes up to the hour.
	if len(attempts) < 5 || attempts[0] != 5*time.Minute && attempts[0] != 6*time.Minute {
		t.Errorf("attempts at %v", attempts)
	}
}

// A null MX (RFC 7505) and a domain that does not exist bounce at once,
// without a connection; a DNS failure defers.
func TestRoutes(t *testing.T) {
	p := newPeer(t, "127.0.0.2", peerOptions{})
	e := newEnv(t, Options{Port: p.port()},
		"nomail.test. 300 IN MX 0 .",
		"broken.test. 300 IN MX 10 mx.broken.test.",
		"implicit.test. 300 IN A 127.0.0.2", // no MX: the domain itself
	)
	e.dns.Fail("broken.test", 2) // SERVFAIL
	e.enqueue("alice@sealpost.example.test", []string{"a@nomail.test"}, msg)
	e.enqueue("alice@sealpost.example.test", []string{"b@nowhere.test"}, msg)
	e.enqueue("alice@sealpost.example.test", []string{"c@broken.test"}, msg)
	e.enqueue("alice@sealpost.example.test", []string{"d@implicit.test"}, msg)
	e.run()
	n := e.notices()
	statuses := map[string]string{}
	for _, x := range n {
		r := parseDSN(t, x.msg)
		for rcpt, st := range r.status {
			statuses[rcpt] = st
		}
	}
	if statuses["a@nomail.test"] != "5.1.10" || statuses["b@nowhere.test"] != "5.1.2" || len(statuses) != 2 {
		t.Errorf("bounces: %v", statuses)
	}
	q := e.queue()
	if len(q) != 1 || q[0].Recipients[0] != "c@broken.test" || !strings.Contains(q[0].LastError, "mail exchangers") {
		t.Errorf("queue: %+v", q)
	}
	if got := p.messages(); len(got) != 1 || got[0].rcpts[0] != "d@implicit.test" {
		t.Errorf("implicit MX: the peer received %+v", got)
	}
}

// A bounce is never bounced: a message from the null sender that fails is
// dropped with no notice.
func TestNoBounceForBounce(t *testing.T) {
	p := newPeer(t, "127.0.0.2", peerOptions{})
	e := newEnv(t, Options{Port: p.port()}, "example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.2")
	e.enqueue("", []string{"perm@example.test"}, msg)
	e.run()
	if len(e.notices()) != 0 || len(e.queue()) != 0 {
		t.Fatalf("notices %d, queue %+v", len(e.notices()), e.queue())
	}
}

// Several messages for one domain share a connection, up to
// PerConnection; no more than PerDomain connections are open at once.
func TestConnectionsPerDomain(t *testing.T) {
	p := newPeer(t, "127.0.0.2", peerOptions{})
	e := newEnv(t, Options{Port: p.port(), PerConnection: 5, PerDomain: 2, Concurrency: 10},
		"example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.2")
	for i := range 20 {
		e.enqueue("slow@sealpost.example.test", []string{fmt.Sprintf("r%d@example.test", i)}, msg)
	}
	for len(e.queue()) > 0 {
		e.run()
	}
	if got := len(p.messages()); got != 20 {
		t.Fatalf("%d messages arrived, want 20", got)
	}
	if c := p.conns.Load(); c != 4 {
		t.Errorf("%d connections for 20 messages at 5 a connection, want 4", c)
	}
	if m := p.most.Load(); m > 2 {
		t.Errorf("%d connections at once, want at most 2", m)
	}
}

// An MX that is this server's own listener is a mail loop: with no other
// host, the message bounces (5.4.6) instead of being sent to itself.
func TestMailLoop(t *testing.T) {
	p := newPeer(t, "127.0.0.2", peerOptions{})
	own := netip.MustParseAddrPort(p.addr)
	e := newEnv(t, Options{Port: p.port(), Loop: func(ap netip.AddrPort) bool { return ap == own }},
		"example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.2")
	e.enqueue("alice@sealpost.example.test", []string{"bob@example.test"}, msg)
	e.run()
	if len(p.messages()) != 0 || p.conns.Load() != 0 {
		t.Fatal("delivered to itself")
	}
	n := e.notices()
	if len(n) != 1 || parseDSN(t, n[0].msg).status["bob@example.test"] != "5.4.6" {
		t.Fatalf("notices: %d", len(n))
	}
}

// A smarthost: STARTTLS with its certificate verified, AUTH PLAIN, and
// every domain through it.
func TestRelay(t *testing.T) {
	cert, pool := testenv.TestCert()
	p := newPeer(t, "127.0.0.2", peerOptions{tls: &tls.Config{Certificates: []tls.Certificate{cert}}, auth: true})
	e := newEnv(t, Options{RootCAs: pool, Relay: Relay{Addr: fmt.Sprintf("mx.example.test:%d", p.port()),
		User: "relay-user", Password: "relay-pass"}}, "mx.example.test. 300 IN A 127.0.0.2")
	e.enqueue("alice@sealpost.example.test", []string{"x@one.test"}, msg)
	e.enqueue("alice@sealpost.example.test", []string{"y@two.test"}, msg)
	e.run()
	if got := p.messages(); len(got) != 2 || !got[0].tls {
		t.Fatalf("the relay received %+v", got)
	}
	if p.conns.Load() != 1 || len(p.auths) != 1 {
		t.Errorf("%d connections, %d logins, want one of each", p.conns.Load(), len(p.auths))
	}

	// A relay whose certificate does not verify gets nothing, and no
	// password.
	bad := newEnv(t, Options{Relay: Relay{Addr: fmt.Sprintf("mx.example.test:%d", p.port()),
		User: "relay-user", Password: "relay-pass"}}, "mx.example.test. 300 IN A 127.0.0.2")
	bad.enqueue("alice@sealpost.example.test", []string{"z@three.test"}, msg)
	bad.run()
	if q := bad.queue(); len(q) != 1 || !strings.Contains(q[0].LastError, "certificate") {
		t.Fatalf("unverified relay: queue %+v", q)
	}
	if len(p.messages()) != 2 || len(p.auths) != 1 {
		t.Fatal("something went to a relay that could not be verified")
	}
}

// Opportunistic TLS that fails to negotiate falls back to plaintext on a
// new connection (RFC 7435): the message is delivered, not stuck.
func TestTLSFallback(t *testing.T) {
	p := newPeer(t, "127.0.0.2", peerOptions{badTLS: true})
	e := newEnv(t, Options{Port: p.port()}, "example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.2")
	e.enqueue("alice@sealpost.example.test", []string{"bob@example.test"}, msg)
	e.run()
	if got := p.messages(); len(got) != 1 || got[0].tls {
		t.Fatalf("the peer received %+v", got)
	}
	if p.conns.Load() != 2 {
		t.Errorf("%d connections, want 2 (TLS, then plaintext)", p.conns.Load())
	}
}

// dsnReport is what a test reads of a notice.
type dsnReport struct {
	subject, headers     string
	action, status, diag map[string]string
}

// parseDSN reads a notice with go-message as a mail client would.
func parseDSN(t *testing.T, raw []byte) dsnReport {
	t.Helper()
	ent, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("notice does not parse: %v\n%s", err, raw)
	}
	r := dsnReport{subject: ent.Header.Get("Subject"), action: map[string]string{}, status: map[string]string{}, diag: map[string]string{}}
	if ct, params, _ := ent.Header.ContentType(); ct != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("notice Content-Type %s %v", ct, params)
	}
	if ent.Header.Get("Auto-Submitted") != "auto-replied" {
		t.Error("notice without Auto-Submitted: auto-replied")
	}
	mr := ent.MultipartReader()
	var kinds []string
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		ct, _, _ := part.Header.ContentType()
		kinds = append(kinds, ct)
		var body bytes.Buffer
		body.ReadFrom(part.Body)
		switch ct {
		case "message/delivery-status", "message/global-delivery-status":
			// RFC 3464 2.1: groups of header fields, the first per
			// message, then one per recipient.
			groups := strings.Split(strings.ReplaceAll(body.String(), "\r\n", "\n"), "\n\n")
			for _, g := range groups[1:] {
				h, err := textproto.ReadHeader(bufioReader(g + "\n\n"))
				if err != nil {
					t.Fatalf("recipient fields: %v", err)
				}
				_, rcpt, _ := strings.Cut(h.Get("Final-Recipient"), "; ")
				if rcpt == "" {
					continue
				}
				r.action[rcpt], r.status[rcpt], r.diag[rcpt] = h.Get("Action"), h.Get("Status"), h.Get("Diagnostic-Code")
			}
		case "text/rfc822-headers", "message/global-headers":
			r.headers = body.String()
		}
	}
	if len(kinds) < 2 || kinds[0] != "text/plain" {
		t.Fatalf("notice parts %v", kinds)
	}
	return r
}
