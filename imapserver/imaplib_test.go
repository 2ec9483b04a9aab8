package imapserver

import (
	"github.com/sealpost/sealpost/internal/testenv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// imaplibScript drives the server with Python's imaplib, an independent
// client implementation. IDLE is not in imaplib, so it is not tested here.
const imaplibScript = `
import imaplib, ssl, sys

host, port, cafile, user, password, msgdir = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)

def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)

def read(name):
    with open(msgdir + "/" + name, "rb") as f:
        return f.read()

m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
typ, _ = m.login(user, password)
check(typ == "OK", "login")

typ, data = m.list()
check(typ == "OK", "list")
lines = [d.decode() for d in data]
check(any("\\Sent" in l and "Sent" in l for l in lines), "special-use in LIST: %r" % lines)
check(any(l.endswith(" INBOX") for l in lines), "INBOX in LIST: %r" % lines)

typ, data = m.select("INBOX")
check(typ == "OK" and data[0] == b"3", "select: %r" % data)

for i, name in ((1, "m1"), (2, "m2"), (3, "m3")):
    typ, data = m.fetch(str(i), "(RFC822)")
    check(typ == "OK", "fetch %d" % i)
    check(data[0][1] == read(name), "RFC822 of %d: %r" % (i, data[0][1][:80]))
    typ, data = m.fetch(str(i), "(RFC822.SIZE)")
    check(("RFC822.SIZE %d" % len(read(name))).encode() in data[0], "size of %d: %r" % (i, data))

typ, data = m.uid("FETCH", "2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
check(typ == "OK" and data[0][1] == b"Subject: second\r\n\r\n", "header fields: %r" % data)

typ, data = m.search(None, "SUBJECT", "second")
check(data == [b"2"], "search subject: %r" % data)
typ, data = m.search(None, "BODY", "needle")
check(data == [b"3"], "search body: %r" % data)
typ, data = m.search(None, "SEEN")
check(data == [b"1 2 3"], "search seen after fetch: %r" % data)
typ, data = m.uid("SEARCH", "NOT", "BODY", "needle")
check(data == [b"1 2"], "uid search: %r" % data)

typ, data = m.store("1", "+FLAGS", "(\\Flagged)")
check(typ == "OK" and b"\\Flagged" in data[0], "store: %r" % data)

typ, data = m.copy("1:2", "Archive")
check(typ == "OK", "copy: %r" % data)
typ, data = m.status("Archive", "(MESSAGES)")
check(typ == "OK" and b"MESSAGES 2" in data[0], "status: %r" % data)

typ, data = m.store("2", "+FLAGS.SILENT", "(\\Deleted)")
check(typ == "OK", "store silent")
typ, data = m.expunge()
check(typ == "OK" and data == [b"2"], "expunge: %r" % data)
typ, data = m.fetch("2", "(RFC822)")
check(data[0][1] == read("m3"), "renumbered after expunge")

typ, data = m.append("Drafts", "(\\Draft)", None, read("m1"))
check(typ == "OK" and b"APPENDUID" in data[0], "append: %r" % data)

m.close()
m.logout()
print("OK")
`

func TestPythonImaplib(t *testing.T) {
	python := testenv.NeedTool(t, "python3", "python3")
	e := newEnv(t)
	msgs := map[string]string{
		"m1": simpleMsg,
		"m2": "From: b@remote.example\r\nSubject: second\r\n\r\nsecond body\r\n",
		"m3": "From: c@remote.example\nSubject: third, bare LF\n\nthe needle\n",
	}
	dir := t.TempDir()
	for _, name := range []string{"m1", "m2", "m3"} {
		e.deliver(msgs[name])
		if err := os.WriteFile(filepath.Join(dir, name), []byte(msgs[name]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca := writeCA(t, dir)
	script := filepath.Join(dir, "client.py")
	if err := os.WriteFile(script, []byte(imaplibScript), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(e.tlsAddr)
	out, err := exec.Command(python, script, host, port, ca, alice, password, dir).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
}
