package smtpserver

import (
	"context"
	"github.com/sealpost/sealpost/internal/testenv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost"
)

// sendPython sends a message with Python's smtplib (testdata/send.py), an
// SMTP client that shares no code with go-smtp.
func sendPython(t *testing.T, mode, addr, from, to, body string, auth ...string) {
	t.Helper()
	py := testenv.NeedTool(t, "python3", "python3")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "message.eml")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{filepath.Join("testdata", "send.py"), mode, host, port, from, to, file}, auth...)
	out, err := exec.Command(py, args...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "sent" {
		t.Fatalf("send.py %s: %v\n%s", mode, err, out)
	}
}

func TestPythonMX(t *testing.T) {
	e := newEnv(t)
	_, addr := e.serve(Options{Mode: MX}, nil)
	body := msg("From: carol@elsewhere.example", "To: bob@example.test", "Subject: from Python",
		"", "Hello from smtplib.", ".leading dot", "8-bit: \xc3\xa9t\xc3\xa9")
	sendPython(t, "mx", addr, "carol@elsewhere.example", bob, body)
	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	rcvd, rest := splitReceived(t, got[0])
	if string(rest) != body {
		t.Errorf("stored %q, want %q", rest, body)
	}
	if !strings.Contains(rcvd, "from python.example ([127.0.0.1])") || !strings.Contains(rcvd, "with ESMTP id") {
		t.Errorf("Received: %s", rcvd)
	}
}

func TestPythonSubmission(t *testing.T) {
	e := newEnv(t)
	e.saveSent(alice)
	srvTLS, _ := selfSigned()
	_, addr := e.serve(Options{Mode: Submission, TLSConfig: srvTLS}, nil)
	body := msg("From: alice@example.test", "To: bob@example.test, erin@elsewhere.example",
		"Date: Mon, 02 Jan 2006 15:04:05 +0000", "Message-ID: <py@python.example>", "Subject: submitted", "", "via STARTTLS")
	sendPython(t, "submission", addr, alice, bob+",erin@elsewhere.example", body, alice, password)

	got, _ := e.bodies(bob, "INBOX")
	if len(got) != 1 {
		t.Fatalf("bob has %d messages", len(got))
	}
	rcvd, rest := splitReceived(t, got[0])
	if string(rest) != body || !strings.Contains(rcvd, "with ESMTPSA") {
		t.Errorf("bob's copy: %s%q", rcvd, rest)
	}
	q, err := e.store.Queue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || len(q[0].Recipients) != 1 || q[0].Recipients[0] != "erin@elsewhere.example" {
		t.Errorf("queue: %+v", q)
	}
	if n := e.count(alice, sealpost.UseSent); n != 1 {
		t.Errorf("alice's Sent has %d messages", n)
	}
}
