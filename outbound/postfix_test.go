package outbound

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/testenv"
)

// stripTrace removes the header fields a receiving MTA adds in front of a
// message (Return-Path, X-Original-To, Delivered-To, Received).
func stripTrace(msg []byte) []byte {
	for {
		line, rest, ok := bytes.Cut(msg, []byte("\r\n"))
		if !ok {
			line, rest, ok = bytes.Cut(msg, []byte("\n"))
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		switch strings.ToLower(string(name)) {
		case "return-path", "delivered-to", "x-original-to", "received":
		default:
			return msg
		}
		msg = rest
		// Continuation lines of a folded trace field.
		for len(msg) > 0 && (msg[0] == ' ' || msg[0] == '\t') {
			_, msg, _ = bytes.Cut(msg, []byte("\n"))
		}
	}
}

// Sealpost's delivery against a real Postfix from Debian, listening on
// 127.0.0.2:25: the message arrives over STARTTLS byte for byte (apart
// from the trace fields Postfix adds, and Postfix's LF line endings in the
// Maildir); a recipient Postfix refuses bounces once; a deferred one stays
// queued with Postfix's words.
func TestPostfixPeer(t *testing.T) {
	pf := testenv.StartPostfix(t, testenv.PostfixOptions{Addr: "127.0.0.2:25", Domains: []string{"peer.test"}})
	e := newEnv(t, Options{Port: 25},
		"peer.test. 300 IN MX 10 mx.peer.test.",
		"mx.peer.test. 300 IN A 127.0.0.2")
	var sent []string
	for i := range 3 {
		m := fmt.Sprintf("From: Alice <alice@sealpost.example.test>\r\nTo: carol@peer.test\r\nSubject: to postfix %d\r\n"+
			"Message-ID: <%d.pf@sealpost.example.test>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
			"Line one.\r\n.A line that starts with a dot.\r\n\r\nÜnïcödé, 8 bits.\r\n", i, i)
		e.enqueue("alice@sealpost.example.test", []string{"carol@peer.test"}, m)
		sent = append(sent, m)
	}
	e.enqueue("alice@sealpost.example.test", []string{"perm-dave@peer.test", "temp-erin@peer.test"}, msg)
	e.run()

	var got [][]byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = pf.Messages(); len(got) >= 3 {
			break
		}
	}
	if len(got) != 3 {
		t.Fatalf("Postfix delivered %d messages, want 3\n%s", len(got), pf.Log())
	}
	want := map[string]bool{}
	for _, m := range sent {
		want[strings.ReplaceAll(m, "\r\n", "\n")] = true // the Maildir keeps LF
	}
	for i, g := range got {
		body := stripTrace(g)
		if !want[string(body)] {
			t.Errorf("message %d as Postfix stored it is none of those sent:\n%q", i, body)
		}
		delete(want, string(body))
		if !bytes.Contains(g, []byte("with ESMTPS")) {
			t.Errorf("message %d did not travel over TLS:\n%s", i, g[:min(len(g), 400)])
		}
	}
	n := e.notices()
	if len(n) != 1 {
		t.Fatalf("%d notices, want one bounce", len(n))
	}
	r := parseDSN(t, n[0].msg)
	if r.status["perm-dave@peer.test"] != "5.1.1" || !strings.Contains(r.diag["perm-dave@peer.test"], "No such user here") {
		t.Errorf("bounce: %+v", r)
	}
	q := e.queue()
	if len(q) != 1 || len(q[0].Recipients) != 1 || q[0].Recipients[0] != "temp-erin@peer.test" || !strings.Contains(q[0].LastError, "4.2.0") {
		t.Errorf("queue: %+v", q)
	}
}
