package imapserver

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testenv"
)

// quotaPrelude starts the quota scripts: Python's imaplib logged in over
// TLS as the account named by the arguments, and a check function.
const quotaPrelude = `
import imaplib, ssl, sys

host, port, cafile, user, password = sys.argv[1:6]
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ssl.create_default_context(cafile=cafile))
m.login(user, password)

def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
`

// quotaScript drives the quota refusals with Python's imaplib.
const quotaScript = quotaPrelude + `
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
	e := newEnv(t)
	out := runQuotaScript(t, e, quotaScript, sealpost.Quota{Storage: 150, Mailboxes: int64(len(sealpost.DefaultMailboxes)) + 1})
	if strings.TrimSpace(out) != "OK" {
		t.Fatalf("imaplib: %s", out)
	}
}

// runQuotaScript sets alice's quota to q, runs the Python script over TLS
// as alice, and returns its output.
func runQuotaScript(t *testing.T, e *testEnv, script string, q sealpost.Quota) string {
	t.Helper()
	if _, _, _, err := e.svc.AccountQuota(context.Background(), alice, &q); err != nil {
		t.Fatal(err)
	}
	return runPython(t, e, script)
}

// runPython runs a Python script with the arguments host, port, CA file,
// alice's address and password, and returns its output.
func runPython(t *testing.T, e *testEnv, script string) string {
	t.Helper()
	python := testenv.NeedTool(t, "python3", "python3")
	dir := t.TempDir()
	ca := writeCA(t, dir)
	path := filepath.Join(dir, "client.py")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(e.tlsAddr)
	out, err := exec.Command(python, path, host, port, ca, alice, password).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	return string(out)
}

// quotaReportScript reads the quota back with Python's imaplib
// (GETQUOTAROOT, GETQUOTA, SETQUOTA) as messages come and go, checking the
// numbers against the sizes it sent, and prints the final STORAGE and
// MAILBOX usage for the test to compare with the store's.
const quotaReportScript = quotaPrelude + `
import re

QUOTA = re.compile(rb'^"" \(STORAGE (\d+) (\d+) MAILBOX (\d+) (\d+)\)$')

def quota():
    typ, data = m.getquota('""')
    check(typ == "OK" and len(data) == 1, "getquota: %r %r" % (typ, data))
    q = QUOTA.match(data[0])
    check(q, "QUOTA response: %r" % data)
    return [int(x) for x in q.groups()]

def kib(n):
    return (n + 1023) // 1024

typ, caps = m.capability()
caps = caps[0].split()
for c in (b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MAILBOX"):
    check(c in caps, "%r not in CAPABILITY %r" % (c, caps))
check(b"QUOTASET" not in caps, "QUOTASET advertised")

typ, data = m.getquotaroot("INBOX")
check(typ == "OK" and data[0] == [b'INBOX ""'], "getquotaroot INBOX: %r %r" % (typ, data))
check(len(data[1]) == 1 and QUOTA.match(data[1][0]), "QUOTA after QUOTAROOT: %r" % data)
storage, slimit, boxes, blimit = quota()
check(storage == 0 and slimit == 1024 and blimit == 20, "empty account: %r" % ([storage, slimit, boxes, blimit],))
base_boxes = boxes

# 1000 + 1100 bytes: 2100, 3 KiB rounded up (2 rounded down).
msgs = [b"Subject: a\r\n\r\n" + b"a" * 984 + b"\r\n", b"Subject: b\r\n\r\n" + b"b" * 1084 + b"\r\n"]
check([len(x) for x in msgs] == [1000, 1100], "message sizes")
for x in msgs:
    typ, data = m.append("INBOX", None, None, x)
    check(typ == "OK", "append: %r" % data)
m.select("INBOX")
typ, data = m.fetch("1:*", "(RFC822.SIZE)")
sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d).group(1)) for d in data]
check(sizes == [1000, 1100], "RFC822.SIZE: %r" % data)
storage, _, boxes, _ = quota()
check(storage == kib(2100) == 3, "STORAGE after two appends: %d" % storage)

# A mailbox named in modified UTF-7 (RFC 3501 5.1.3): "Résumé".
typ, data = m.create("R&AOk-sum&AOk-")
check(typ == "OK", "create: %r" % data)
storage, _, boxes, _ = quota()
check(boxes == base_boxes + 1, "MAILBOX after create: %d, was %d" % (boxes, base_boxes))
typ, data = m.getquotaroot("R&AOk-sum&AOk-")
check(typ == "OK" and data[0] == [b'"R&AOk-sum&AOk-" ""'], "getquotaroot of the new mailbox: %r %r" % (typ, data))

typ, data = m.copy("1", "R&AOk-sum&AOk-")
check(typ == "OK", "copy: %r" % data)
storage, _, _, _ = quota()
check(storage == kib(3100) == 4, "STORAGE after copy (each copy counts): %d" % storage)

m.store("2", "+FLAGS", "(\\Deleted)")
storage, _, _, _ = quota()
check(storage == 4, "a \\Deleted message still counts until EXPUNGE: %d" % storage)
typ, data = m.expunge()
check(typ == "OK" and data == [b"2"], "expunge: %r" % data)
storage, _, boxes, _ = quota()
check(storage == kib(2000) == 2, "STORAGE after expunge: %d" % storage)

typ, data = m.getquotaroot("Nowhere")
check(typ == "NO" and data[0][0].startswith(b"[NONEXISTENT]"), "getquotaroot of a missing mailbox: %r %r" % (typ, data))
typ, data = m.getquota("Other")
check(typ == "NO" and data[0].startswith(b"[NONEXISTENT]"), "getquota of another root: %r %r" % (typ, data))
try:
    typ, data = m.setquota('""', "(STORAGE 999999)")
except imaplib.IMAP4.error as err:
    typ, data = "NO", [str(err).encode()]
check(typ == "NO" and b"[NOPERM]" in data[0], "setquota refused: %r %r" % (typ, data))
check(quota()[1] == 1024, "the limit is unchanged")
m.logout()
print("OK", storage, boxes)
`

// TestQuotaReportImaplib: GETQUOTAROOT and GETQUOTA as Python's imaplib
// reads them, following APPEND, CREATE, COPY and EXPUNGE, and agreeing
// with the store's count; SETQUOTA refused.
func TestQuotaReportImaplib(t *testing.T) {
	e := newEnv(t)
	out := runQuotaScript(t, e, quotaReportScript, sealpost.Quota{Storage: 1 << 20, Mailboxes: 20})
	var storage, boxes int64
	if _, err := fmt.Sscanf(out, "OK %d %d", &storage, &boxes); err != nil {
		t.Fatalf("imaplib: %q", out)
	}
	_, _, u, err := e.svc.AccountQuota(context.Background(), alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (u.Storage + 1023) / 1024; storage != want || boxes != u.Mailboxes || u.Storage != 2000 {
		t.Errorf("imaplib saw STORAGE %d, MAILBOX %d; the store counts %d bytes (%d KiB, want 2000 bytes), %d mailboxes",
			storage, boxes, u.Storage, want, u.Mailboxes)
	}
}

// TestQuotaResources: what GETQUOTA answers: STORAGE in KiB rounded up,
// MAILBOX as a count, nothing for a resource without a limit, and no
// quota root when nothing is limited.
func TestQuotaResources(t *testing.T) {
	type res = map[imap.QuotaResourceType]imap.QuotaResourceData
	got := quotaResources(sealpost.Quota{Storage: 10 << 30, Mailboxes: 1000}, sealpost.Usage{Storage: 1025, Messages: 3, Mailboxes: 7})
	want := res{"STORAGE": {Usage: 2, Limit: 10 << 20}, "MAILBOX": {Usage: 7, Limit: 1000}}
	if !reflect.DeepEqual(got, want) {
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
	s := &session{ps: ps, ctx: context.Background(), log: e.srv.log}
	for _, tc := range []struct {
		q    sealpost.Quota
		want res // nil: no quota root
	}{
		{sealpost.Quota{Storage: 1 << 20, Mailboxes: 10}, res{
			"STORAGE": {Usage: (int64(len(simpleMsg)) + 1023) / 1024, Limit: 1024},
			"MAILBOX": {Usage: int64(len(sealpost.DefaultMailboxes)), Limit: 10}}},
		{sealpost.Quota{}, nil},
	} {
		if _, _, _, err := e.svc.AccountQuota(context.Background(), alice, &tc.q); err != nil {
			t.Fatal(err)
		}
		data, err := s.GetQuota("")
		roots, rerr := s.GetQuotaRoot("inbox")
		if tc.want == nil {
			if !isNo(err, imap.ResponseCodeNonExistent) || rerr != nil || len(roots) != 0 {
				t.Errorf("%+v: GetQuota = %+v, %v; GetQuotaRoot = %+v, %v", tc.q, data, err, roots, rerr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(data.Resources, tc.want) || data.Root != "" {
			t.Errorf("%+v: GetQuota = %+v, %v; want %+v", tc.q, data, err, tc.want)
		}
		if rerr != nil || len(roots) != 1 || !reflect.DeepEqual(roots[0], *data) {
			t.Errorf("%+v: GetQuotaRoot = %+v, %v", tc.q, roots, rerr)
		}
	}
	if _, err := s.GetQuota("INBOX"); !isNo(err, imap.ResponseCodeNonExistent) {
		t.Errorf("GetQuota of another root: %v", err)
	}
	if _, err := s.GetQuotaRoot("Nowhere"); !isNo(err, imap.ResponseCodeNonExistent) {
		t.Errorf("GetQuotaRoot of a missing mailbox: %v", err)
	}
}

// isNo reports whether err is a tagged NO with code.
func isNo(err error, code imap.ResponseCode) bool {
	var e *imap.Error
	return errors.As(err, &e) && e.Type == imap.StatusResponseTypeNo && e.Code == code
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
