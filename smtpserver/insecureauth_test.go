package smtpserver

import (
	"strings"
	"testing"

	"github.com/sealpost/sealpost"
)

// TestInsecureAuth checks Options.InsecureAuth: AUTH is offered and works
// on a connection go-smtp does not see as TLS (as on the internal listener,
// where the TLS link is wrapped), and is still refused without the option.
func TestInsecureAuth(t *testing.T) {
	e := newEnv(t)
	plain := "\x00" + alice + "\x00" + password

	t.Run("allowed", func(t *testing.T) {
		_, addr := e.serve(Options{Mode: Submission, InsecureAuth: true}, nil)
		rc := dialRaw(t, addr)
		ehlo := rc.cmd("EHLO client.example", 250, "")
		if !strings.Contains(ehlo, "AUTH PLAIN LOGIN") {
			t.Errorf("EHLO does not offer AUTH:\n%s", ehlo)
		}
		if strings.Contains(ehlo, "STARTTLS") {
			t.Errorf("EHLO offers STARTTLS without a TLS config:\n%s", ehlo)
		}
		rc.cmd("MAIL FROM:<"+alice+">", 530, "5.7.0")
		rc.cmd("AUTH PLAIN "+b64(plain), 235, "")
		rc.cmd("MAIL FROM:<"+alice+">", 250, "")
		rc.cmd("RCPT TO:<"+bob+">", 250, "")
		rc.cmd("DATA", 354, "")
		rc.send(msg("From: "+alice, "To: "+bob, "Subject: over the link", "", "hello", "."))
		rc.expect(250)
		rc.cmd("QUIT", 221, "")
		if n := e.count(bob, sealpost.UseInbox); n != 1 {
			t.Errorf("bob's INBOX holds %d messages, want 1", n)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, addr := e.serve(Options{Mode: Submission, InsecureAuth: true}, nil)
		rc := dialRaw(t, addr)
		rc.cmd("EHLO client.example", 250, "")
		rc.cmd("AUTH PLAIN "+b64("\x00"+alice+"\x00wrong"), 535, "5.7.8")
	})
	t.Run("refused without the option", func(t *testing.T) {
		srvTLS, _ := selfSigned()
		_, addr := e.serve(Options{Mode: Submission, TLSConfig: srvTLS}, nil)
		rc := dialRaw(t, addr)
		ehlo := rc.cmd("EHLO client.example", 250, "")
		if strings.Contains(ehlo, "AUTH") {
			t.Errorf("EHLO offers AUTH in the clear:\n%s", ehlo)
		}
		rc.cmd("AUTH PLAIN "+b64(plain), 523, "5.7.10")
	})
}
