package imapserver

import (
	"fmt"
	"testing"
)

// qresyncScript is a QRESYNC client on Python's imaplib, over TLS: it
// caches a mailbox (UIDVALIDITY, HIGHESTMODSEQ, every UID's flags), logs
// out; a second connection changes flags, expunges and a message arrives;
// the first client comes back with SELECT (QRESYNC ...) (RFC 7162 3.2.5),
// applies VANISHED (EARLIER) and the FETCHes to its cache, fetches only
// the new UIDs, and its cache must then equal a full fetch of the mailbox.
const qresyncScript = `
import imaplib, re, ssl, sys

host, port, cafile, user, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)

def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)

def connect():
    m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
    check(m.login(user, password)[0] == "OK", "login")
    caps = m.capability()[1][0].decode().upper().split()
    check("QRESYNC" in caps, "QRESYNC advertised")
    m.capabilities = tuple(caps)  # imaplib keeps the ones before login
    typ, data = m.enable("QRESYNC")
    check(typ == "OK" and m.untagged_responses.pop("ENABLED") == [b"QRESYNC"], "enable: %r" % (data,))
    return m

FETCH_RE = re.compile(rb"\d+ \(UID (\d+) FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)")

def flags_of(data):
    out = {}
    for d in data:
        m = FETCH_RE.fullmatch(d)
        check(m is not None, "FETCH response %r" % d)
        out[int(m.group(1))] = set(m.group(2).split())
    return out

def uids_of(s):
    out = set()
    for part in s.split(b","):
        a, _, b = part.partition(b":")
        out.update(range(int(a), int(b or a) + 1))
    return out

# 1: the first session, and the cache.
m = connect()
typ, data = m.select("INBOX")
check(typ == "OK", "select")
uidvalidity = int(m.untagged_responses["UIDVALIDITY"][0])
modseq = int(m.untagged_responses["HIGHESTMODSEQ"][0])
typ, data = m.uid("FETCH", "1:*", "(FLAGS MODSEQ)")
cache = flags_of(data)
check(len(cache) == 6, "cache: %r" % cache)
m.logout()

# 2: another client changes the mailbox.
o = connect()
o.select("INBOX")
o.uid("STORE", "2,4", "+FLAGS.SILENT", "(\\Seen $Work)")
o.uid("STORE", "3,5", "+FLAGS.SILENT", "(\\Deleted)")
check(o.expunge()[0] == "OK", "expunge")
o.uid("STORE", "6", "-FLAGS.SILENT", "(\\Flagged)")
o.append("INBOX", None, None, b"Subject: new\r\n\r\nnew\r\n")
o.logout()

# 3: the first client resynchronises.
m = connect()
typ, data = m._simple_command("SELECT", "INBOX", "(QRESYNC (%d %d))" % (uidvalidity, modseq))
check(typ == "OK", "select qresync: %r" % (data,))
m.state = "SELECTED"
vanished = m.untagged_responses.pop("VANISHED", [])
check(len(vanished) == 1 and vanished[0].startswith(b"(EARLIER) "), "vanished: %r" % vanished)
for uid in uids_of(vanished[0][len(b"(EARLIER) "):]):
    cache.pop(uid, None)
changed = flags_of(m.untagged_responses.pop("FETCH", []))
check(sorted(changed) == [2, 4, 6, 7], "changed (7 is new): %r" % changed)
cache.update(changed)
uidnext = int(m.untagged_responses["UIDNEXT"][0])
typ, data = m.uid("FETCH", "%d:*" % (max(cache) + 1), "(FLAGS MODSEQ)")
cache.update(flags_of([d for d in data if d]))

typ, data = m.uid("FETCH", "1:*", "(FLAGS MODSEQ)")
full = flags_of(data)
check(cache == full, "resynchronised cache %r != mailbox %r" % (cache, full))
check(sorted(full) == [1, 2, 4, 6, 7] and uidnext == 8, "mailbox: %r, UIDNEXT %d" % (full, uidnext))
m.logout()
print("OK")
`

func TestQResyncImaplib(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 6; i++ {
		e.deliver(fmt.Sprintf("Subject: m%d\r\n\r\nbody\r\n", i))
	}
	r := e.rawTLS()
	r.login(alice)
	r.selectUV("SELECT INBOX")
	r.ok(`STORE 6 +FLAGS (\Flagged)`)
	r.ok("LOGOUT")
	runPythonOK(t, e, qresyncScript)
}
