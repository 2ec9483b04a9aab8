package imapserver

import (
	"context"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testenv"
)

// quotaScript drives the quota refusals with Python's imaplib.
const quotaScript = `
import imaplib, ssl, sys

host, port, cafile, user, password = sys.argv[1:6]
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ssl.create_default_context(cafile=cafile))
m.login(user, password)

def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)

msg = b"Subject: q\r\n\r\n" + b"x" * 84 + b"\r\n"   # 100 bytes
typ, data = m.append("INBOX", None, None, msg)
check(typ == "OK", "first append: %r" % data)
typ, data = m.append("INBOX", None, None, msg)
check(typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), "append over quota: %r %r" % (typ, data))
typ, data = m.status("INBOX", "(MESSAGES)")
check(b"MESSAGES 1" in data[0], "the refused append was stored: %r" % data)

m.select("INBOX")
typ, data = m.copy("1", "Archive")
check(typ == "NO" and data[0].startswith(b"[OVERQUOTA]"), "copy over quota: %r %r" % (typ, data))
typ, data = m.uid("MOVE", "1", "Archive")
check(typ == "OK", "move at the limit: %r %r" % (typ, data))

typ, data = m.create("One")
check(typ == "OK", "create within the limit: %r" % data)
typ, data = m.create("Two")
check(typ == "NO" and data[0].startswith(b"[LIMIT]"), "create beyond the limit: %r %r" % (typ, data))
typ, data = m.rename("INBOX", "Old")
check(typ == "NO" and data[0].startswith(b"[LIMIT]"), "rename of INBOX beyond the limit: %r %r" % (typ, data))
m.logout()
print("OK")
`

func TestQuotaImaplib(t *testing.T) {
	python := testenv.NeedTool(t, "python3", "python3")
	e := newEnv(t)
	q := sealpost.Quota{Storage: 150, Mailboxes: int64(len(sealpost.DefaultMailboxes)) + 1}
	if _, _, _, err := e.svc.AccountQuota(context.Background(), alice, &q); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := writeCA(t, dir)
	script := filepath.Join(dir, "quota.py")
	if err := os.WriteFile(script, []byte(quotaScript), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(e.tlsAddr)
	out, err := exec.Command(python, script, host, port, ca, alice, password).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
}

// TestQuotaResources: what GETQUOTA will answer once go-imap dispatches it
// (quota.go): STORAGE in KiB rounded up, MAILBOX as a count, nothing for a
// resource without a limit.
func TestQuotaResources(t *testing.T) {
	got := quotaResources(sealpost.Quota{Storage: 10 << 30, Mailboxes: 1000}, sealpost.Usage{Storage: 1025, Messages: 3, Mailboxes: 7})
	want := []quotaResource{{"STORAGE", 2, 10 << 20}, {"MAILBOX", 7, 1000}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("quotaResources = %+v, want %+v", got, want)
	}
	if got := quotaResources(sealpost.Quota{}, sealpost.Usage{Storage: 5}); len(got) != 0 {
		t.Fatalf("no limits: %+v", got)
	}

	e := newEnv(t)
	e.deliver(simpleMsg)
	ps, err := e.svc.Login(context.Background(), alice, password)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if _, _, _, err := e.svc.AccountQuota(context.Background(), alice, &sealpost.Quota{Storage: 1 << 20, Mailboxes: 10}); err != nil {
		t.Fatal(err)
	}
	s := &session{ps: ps, ctx: context.Background(), log: e.srv.log}
	res, err := s.quotaRoot()
	wantUse := (int64(len(simpleMsg)) + 1023) / 1024
	if err != nil || len(res) != 2 || res[0] != (quotaResource{"STORAGE", wantUse, 1024}) ||
		res[1] != (quotaResource{"MAILBOX", int64(len(sealpost.DefaultMailboxes)), 10}) {
		t.Fatalf("quotaRoot = %+v, %v", res, err)
	}
}

// writeCA writes the test certificate, the clients' trust anchor, as PEM
// into dir and returns its path.
func writeCA(t *testing.T, dir string) string {
	t.Helper()
	cert, _ := testCert(t)
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}
