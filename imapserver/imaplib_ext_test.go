package imapserver

import (
	"strings"
	"testing"
)

// imaplibExtScript drives ID, SORT, THREAD, CREATE-SPECIAL-USE and PREVIEW
// with Python's imaplib: sort() and thread() are its own, ID, CREATE with
// USE and FETCH PREVIEW go through its generic command paths.
const imaplibExtScript = `
import imaplib, ssl, sys
host, port, cafile, user, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
def check(cond, what):
    if not cond:
        print("FAIL:", what); sys.exit(1)
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
imaplib.Commands["ID"] = ("NONAUTH", "AUTH", "SELECTED")
typ, data = m._simple_command("ID", '("name" "imaplib")')
typ, data = m._untagged_response(typ, data, "ID")
check(typ == "OK" and data == [b'("name" "Sealpost")'], "ID before login: %r" % data)
m.login(user, password)
caps = m.capability()[1][0].decode().split()
for c in ("SORT", "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "ID", "PREVIEW", "MULTIAPPEND", "COMPRESS=DEFLATE"):
    check(c in caps, "capability %s in %r" % (c, caps))
m.select("INBOX")
typ, data = m.sort("(DATE)", "UTF-8", "ALL")
check(typ == "OK" and data == [b"2 4 1 3"], "sort date: %r" % data)
typ, data = m.sort("(REVERSE SUBJECT)", "UTF-8", "ALL")
check(data == [b"3 2 4 1"], "sort subject: %r" % data)
typ, data = m.uid("SORT", "(DISPLAYFROM)", "UTF-8", "ALL")
check(data == [b"2 3 4 1"], "uid sort displayfrom: %r" % data)
typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
check(data == [b"(2 4)(1)(3)"], "thread references: %r" % data)
typ, data = m.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
check(data == [b"(2 4)(1)(3)"], "thread orderedsubject: %r" % data)
typ, data = m.fetch("1", "(PREVIEW)")
check(data == [b'1 (PREVIEW "body one, longer than the others")'], "preview: %r" % data)
typ, data = m.create('"Old Archive" (USE (\\Archive))')
check(typ == "NO", "create special-use while Archive exists: %r" % data)
m.delete("Archive")
typ, data = m.create('"Old Archive" (USE (\\Archive))')
check(typ == "OK", "create special-use: %r" % data)
typ, data = m.list('""', '"Old Archive"')
check(b"\\Archive" in data[0], "list: %r" % data)
m.logout()
print("OK")
`

func TestImaplibExtensions(t *testing.T) {
	e := newEnv(t)
	for _, m := range sortMsgs {
		e.deliver(m)
	}
	runPythonOK(t, e, imaplibExtScript)
}

// runPythonOK runs a Python script (runPython) that must print "OK".
func runPythonOK(t *testing.T, e *testEnv, script string) {
	t.Helper()
	if out := runPython(t, e, script); strings.TrimSpace(out) != "OK" {
		t.Fatalf("python: %s", out)
	}
}
