package e2e

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestMXAuthentication drives the demo's MX as other servers would (issue
// 11): a forged MAIL FROM:<alice@demo.example> from outside is refused,
// and so is a forgery of example.org, whose DMARC policy is reject; mail
// from a domain asking for quarantine lands in Junk; each refusal stores
// nothing.
func TestMXAuthentication(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	d.DNS.Add(t, `quarantine.example. 300 IN TXT "v=spf1 -all"`,
		`_dmarc.quarantine.example. 300 IN TXT "v=DMARC1; p=quarantine"`)

	send := func(from string, raw []byte) error {
		c, err := smtp.Dial(d.Addrs["smtp"])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.SendMail(from, []string{bob}, bytes.NewReader(raw))
	}
	for _, tc := range []struct{ name, from, header string }{
		{"forged own domain", alice, alice},
		{"forged example.org (p=reject)", "x@spoofer.test", "carol@example.org"},
	} {
		err := send(tc.from, message(tc.header, bob, tc.name, "pay now"))
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) || !strings.Contains(se.Message, "DMARC") {
			t.Errorf("%s: %v, want 550 5.7.1 naming DMARC", tc.name, err)
		}
	}
	if err := send("q@quarantine.example", message("q@quarantine.example", bob, "dubious", "click here")); err != nil {
		t.Fatalf("quarantined message refused: %v", err)
	}

	c := login(t, d.Addrs["imaps"], bob, bobPass)
	if _, inbox := fetchAll(t, c, "INBOX"); len(inbox) != 0 {
		t.Errorf("bob's INBOX holds %d messages, want none", len(inbox))
	}
	_, junk := fetchAll(t, c, "Junk")
	if len(junk) != 1 {
		t.Fatalf("bob's Junk holds %d messages, want 1", len(junk))
	}
	for _, b := range junk {
		if !bytes.HasPrefix(b, []byte("Authentication-Results: localhost;")) || !bytes.Contains(b, []byte(`dmarc=fail reason="p=quarantine"`)) ||
			!bytes.Contains(b, []byte("click here")) {
			t.Errorf("quarantined message: %.300q", b)
		}
	}
}
