// Package e2e drives the real sealpost binary, as a user would: the demo on
// loopback, real clients (go-smtp, go-imap v2, Python's smtplib and imaplib,
// mbsync), restarts and crashes.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
	"github.com/sealpost/sealpost/internal/testenv"
)

const (
	alice, alicePass = "alice@demo.example", "alice-demo-pass"
	bob, bobPass     = "bob@demo.example", "bob-demo-pass"
)

func message(from, to, subject, body string) []byte {
	return fmt.Appendf(nil, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@e2e.test>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		from, to, subject, strings.ReplaceAll(subject, " ", "-"), body)
}

// deliver sends raw over SMTP (MX) and fails the test unless it gets 250.
func deliver(t testing.TB, addr, from, to string, raw []byte) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, []string{to}, bytes.NewReader(raw)); err != nil {
		t.Fatalf("deliver to %s: %v", to, err)
	}
	c.Quit()
}

func login(t testing.TB, addr, user, pass string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: testenv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// fetchAll returns the BODY[] of every message in INBOX, by UID.
func fetchAll(t testing.TB, c *imapclient.Client, mailbox string) (uint32, map[imap.UID][]byte) {
	t.Helper()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	out := map[imap.UID][]byte{}
	if sel.NumMessages == 0 {
		return sel.UIDValidity, out
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		for _, b := range m.BodySection {
			out[m.UID] = b.Bytes
		}
	}
	return sel.UIDValidity, out
}

// stripTrace removes the two fields the MX prepends: its
// Authentication-Results: (RFC 8601), which must say DMARC passed, then
// Received:.
func stripTrace(t testing.TB, b []byte) []byte {
	t.Helper()
	ar := firstField(b)
	if !bytes.HasPrefix(b, []byte("Authentication-Results: ")) || !bytes.Contains(b[:ar], []byte("dmarc=pass")) {
		t.Fatalf("stored message lacks the MX's Authentication-Results: with dmarc=pass: %.200q", b)
	}
	b = b[ar:]
	if !bytes.HasPrefix(b, []byte("Received: ")) {
		t.Fatalf("stored message lacks the prepended Received: header: %.60q", b)
	}
	return b[firstField(b):]
}

// firstField returns the length of b's first (folded) header field.
func firstField(b []byte) int {
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' && b[i+2] != ' ' && b[i+2] != '\t' {
			return i + 2
		}
	}
	return len(b)
}

func TestDeliverReadRestart(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	raw := message("carol@example.org", bob, "first contact", "Hello Bob, this is a test.")
	deliver(t, d.Addrs["smtp"], "carol@example.org", bob, raw)

	c := login(t, d.Addrs["imaps"], bob, bobPass)
	validity, got := fetchAll(t, c, "INBOX")
	if len(got) != 1 {
		t.Fatalf("INBOX has %d messages, want 1", len(got))
	}
	var uid imap.UID
	for u, b := range got {
		uid = u
		if !bytes.Equal(stripTrace(t, b), raw) {
			t.Fatalf("fetched message differs from delivered one:\n%q\n%q", b, raw)
		}
	}
	c.Logout().Wait()

	d.Stop()
	d = testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	c = login(t, d.Addrs["imaps"], bob, bobPass)
	validity2, got2 := fetchAll(t, c, "INBOX")
	if validity2 != validity {
		t.Errorf("UIDVALIDITY changed across restart: %d → %d", validity, validity2)
	}
	if b, ok := got2[uid]; !ok || !bytes.Equal(stripTrace(t, b), raw) {
		t.Fatalf("after restart, UID %d is %q", uid, b)
	}
}

// Submission delivers; the server files no Sent copy by default (mail
// clients APPEND their own), and one per message once the owner's setting
// says so, changed while the server runs.
func TestSubmissionAndSent(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	submit := func(subject string) []byte {
		t.Helper()
		c, err := smtp.DialStartTLS(d.Addrs["submission"], testenv.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Auth(plainAuth(alice, alicePass)); err != nil {
			t.Fatalf("AUTH: %v", err)
		}
		raw := message(alice, bob, subject, "Noon?")
		if err := c.SendMail(alice, []string{bob}, bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
		return raw
	}
	submit("lunch")
	cb := login(t, d.Addrs["imaps"], bob, bobPass)
	if _, got := fetchAll(t, cb, "INBOX"); len(got) != 1 {
		t.Fatalf("bob's INBOX has %d messages, want 1", len(got))
	}
	ca := login(t, d.Addrs["imaps"], alice, alicePass)
	if _, sent := fetchAll(t, ca, "Sent"); len(sent) != 0 {
		t.Fatalf("alice's Sent has %d server copies by default, want none", len(sent))
	}
	out := mustSealpost(t, "", "account", "settings", alice, "--save-sent", "on", "--data", data)
	if !strings.Contains(out, "save-sent  on") {
		t.Fatalf("account settings said %q", out)
	}
	raw := submit("dinner")
	_, sent := fetchAll(t, ca, "Sent")
	if len(sent) != 1 {
		t.Fatalf("alice's Sent after --save-sent on: %d messages, want 1", len(sent))
	}
	for _, b := range sent {
		if !bytes.Contains(b, raw) {
			t.Fatalf("Sent copy differs: %q", b)
		}
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	c, err := imapclient.DialTLS(d.Addrs["imaps"], &imapclient.Options{TLSConfig: testenv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(bob, "not-the-password").Wait(); err == nil {
		t.Fatal("LOGIN with a wrong password succeeded")
	}
	// The server stays healthy: the right password still works.
	if err := c.Login(bob, bobPass).Wait(); err != nil {
		t.Fatalf("LOGIN after a failure: %v", err)
	}
}

func readFileOrEmpty(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}
