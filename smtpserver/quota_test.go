package smtpserver

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/postbox"
)

// quotaScript speaks to the MX with Python's smtplib and prints each
// reply's code and enhanced status, one per line.
const quotaScript = `
import smtplib, sys
host, port, full, other = sys.argv[1:5]
body = ("From: carol@elsewhere.example\r\nTo: %s\r\nSubject: q\r\n\r\n" % full + "x" * 1000 + "\r\n").encode()

def show(what, reply):
    code, text = reply
    print(what, code, text.decode().split(" ")[0])

s = smtplib.SMTP(host, int(port))
s.ehlo("python.example")
s.mail("carol@elsewhere.example", ["SIZE=1000"])
show("rcpt-size-fits-not", s.rcpt(full))
show("rcpt-other", s.rcpt(other))
s.rset()
s.mail("carol@elsewhere.example", ["SIZE=3000"])
show("rcpt-never-fits", s.rcpt(full))
s.rset()
s.mail("carol@elsewhere.example")
show("rcpt-no-size", s.rcpt(full))
show("rcpt-no-size-other", s.rcpt(other))
show("data", s.data(body))
s.quit()
`

// TestQuotaSMTP: RCPT refuses a full mailbox by the declared SIZE (452
// 4.2.2) and a message larger than the whole quota for good (552 5.2.2);
// without SIZE, DATA refuses the transaction (452 4.2.2) and stores
// nothing, not even for the recipient with room.
func TestQuotaSMTP(t *testing.T) {
	py := testenv.NeedTool(t, "python3", "python3")
	ctx := context.Background()
	e := newEnv(t)
	filler := []byte("Subject: filler\r\n\r\n" + strings.Repeat("y", 981) + "\r\n") // 1000 bytes
	for range 2 {
		if err := e.svc.Deliver(ctx, postbox.Envelope{Recipients: []string{bob}}, postbox.Bytes(filler)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := e.svc.AccountQuota(ctx, bob, &sealpost.Quota{Storage: 2500}); err != nil {
		t.Fatal(err)
	}
	_, addr := e.serve(Options{Mode: MX}, nil)
	host, port, _ := net.SplitHostPort(addr)
	script := filepath.Join(t.TempDir(), "quota.py")
	if err := os.WriteFile(script, []byte(quotaScript), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, host, port, bob, alice).CombinedOutput()
	if err != nil {
		t.Fatalf("quota.py: %v\n%s", err, out)
	}
	want := []string{
		"rcpt-size-fits-not 452 4.2.2",
		"rcpt-other 250 2.0.0",
		"rcpt-never-fits 552 5.2.2",
		"rcpt-no-size 250 2.0.0",
		"rcpt-no-size-other 250 2.0.0",
		"data 452 4.2.2",
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("replies:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	if n := e.count(bob, sealpost.UseInbox); n != 2 {
		t.Errorf("bob has %d messages, want the 2 fillers", n)
	}
	if n := e.count(alice, sealpost.UseInbox); n != 0 {
		t.Errorf("alice has %d messages: a refused DATA stored her copy", n)
	}
}
