package imapserver

import (
	"strings"
	"testing"
)

// recentLine returns the "* n RECENT" among lines, or "".
func recentLine(lines []string) string {
	for _, l := range lines {
		if strings.HasSuffix(l, " RECENT\r\n") {
			return l
		}
	}
	return ""
}

// TestRecent: \Recent for IMAP4rev1 sessions (RFC 3501 2.3.2): a message
// is recent in the first session to select the mailbox read-write after it
// arrived, and in no later one; EXAMINE sees the recent messages without
// taking them (6.3.2); a message arriving while sessions have the mailbox
// selected is recent in exactly one of them, which gets "* n RECENT" after
// the EXISTS; STATUS (RECENT) counts the messages no session has taken;
// SEARCH RECENT, NEW and OLD, and FETCH FLAGS, follow the session's view;
// an IMAP4rev2 session (RFC 9051 has no \Recent) neither sees nor takes it.
func TestRecent(t *testing.T) {
	e := newEnv(t)
	e.deliver("Subject: 1\r\n\r\n1\r\n")
	e.deliver("Subject: 2\r\n\r\n2\r\n")
	a := e.rawTLS()
	a.login(alice)
	wantLines(t, "STATUS", a.ok("STATUS INBOX (RECENT MESSAGES)"), "* STATUS INBOX (MESSAGES 2 RECENT 2)\r\n")

	if l := recentLine(a.ok("EXAMINE INBOX")); l != "* 2 RECENT\r\n" {
		t.Errorf("EXAMINE: %q", l)
	}
	wantLines(t, "EXAMINE FETCH", a.ok("FETCH 1:* FLAGS"), "* 1 FETCH (FLAGS (\\Recent))\r\n", "* 2 FETCH (FLAGS (\\Recent))\r\n")
	a.ok("UNSELECT")
	wantLines(t, "STATUS after EXAMINE", a.ok("STATUS INBOX (RECENT)"), "* STATUS INBOX (RECENT 2)\r\n")

	if l := recentLine(a.ok("SELECT INBOX")); l != "* 2 RECENT\r\n" {
		t.Errorf("SELECT: %q", l)
	}
	a.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
	wantLines(t, "SEARCH NEW", a.ok("SEARCH NEW"), "* SEARCH 2\r\n")
	wantLines(t, "SEARCH RECENT", a.ok("SEARCH RECENT"), "* SEARCH 1 2\r\n")
	wantLines(t, "SEARCH OLD", a.ok("SEARCH OLD"), "* SEARCH\r\n")
	wantLines(t, "STORE", a.ok("STORE 1 FLAGS (\\Flagged)"), "* 1 FETCH (FLAGS (\\Flagged \\Recent))\r\n")
	wantLines(t, "STATUS after SELECT", a.ok("STATUS INBOX (RECENT)"), "* STATUS INBOX (RECENT 0)\r\n")

	b := e.rawTLS()
	b.login(alice)
	if l := recentLine(b.ok("SELECT INBOX")); l != "* 0 RECENT\r\n" {
		t.Errorf("second SELECT: %q", l)
	}
	wantLines(t, "second session's FETCH", b.ok("FETCH 1:* FLAGS"), "* 1 FETCH (FLAGS (\\Flagged))\r\n", "* 2 FETCH (FLAGS ())\r\n")
	wantLines(t, "SEARCH OLD", b.ok("SEARCH OLD"), "* SEARCH 1 2\r\n")

	// New mail while both have it selected: recent in exactly one.
	e.deliver("Subject: 3\r\n\r\n3\r\n")
	ua, ub := a.ok("NOOP"), b.ok("NOOP")
	ra, rb := recentLine(ua), recentLine(ub)
	switch {
	case ra == "* 3 RECENT\r\n" && rb == "":
		wantLines(t, "A's FETCH", a.ok("FETCH 3 FLAGS"), "* 3 FETCH (FLAGS (\\Recent))\r\n")
		wantLines(t, "B's FETCH", b.ok("FETCH 3 FLAGS"), "* 3 FETCH (FLAGS ())\r\n")
	case ra == "" && rb == "* 1 RECENT\r\n":
		wantLines(t, "A's FETCH", a.ok("FETCH 3 FLAGS"), "* 3 FETCH (FLAGS ())\r\n")
		wantLines(t, "B's FETCH", b.ok("FETCH 3 FLAGS"), "* 3 FETCH (FLAGS (\\Recent))\r\n")
	default:
		t.Errorf("new mail: A %q, B %q", ua, ub)
	}
	a.ok("LOGOUT")
	b.ok("LOGOUT")

	// IMAP4rev2: no RECENT, no \Recent, nothing taken.
	c := e.rawTLS()
	c.login(alice)
	c.ok("ENABLE IMAP4rev2")
	e.deliver("Subject: 4\r\n\r\n4\r\n")
	if l := recentLine(c.ok("SELECT INBOX")); l != "" {
		t.Errorf("IMAP4rev2 SELECT: %q", l)
	}
	wantLines(t, "IMAP4rev2 FETCH", c.ok("FETCH 4 FLAGS"), "* 4 FETCH (FLAGS ())\r\n")
	e.deliver("Subject: 5\r\n\r\n5\r\n")
	if l := recentLine(c.ok("NOOP")); l != "" {
		t.Errorf("IMAP4rev2 NOOP: %q", l)
	}
	d := e.rawTLS()
	d.login(alice)
	wantLines(t, "STATUS beside IMAP4rev2", d.ok("STATUS INBOX (RECENT)"), "* STATUS INBOX (RECENT 2)\r\n")
	if l := recentLine(d.ok("SELECT INBOX")); l != "* 2 RECENT\r\n" {
		t.Errorf("SELECT after IMAP4rev2: %q", l)
	}
}

// TestRecentImaplib: Python's imaplib reads RECENT as its users do
// (IMAP4.recent() and the SELECT response).
func TestRecentImaplib(t *testing.T) {
	e := newEnv(t)
	e.deliver("Subject: 1\r\n\r\n1\r\n")
	out := runPython(t, e, `
import imaplib, ssl, sys
host, port, cafile, user, password = sys.argv[1:6]
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ssl.create_default_context(cafile=cafile))
m.login(user, password)
typ, data = m.select("INBOX")
print("recent", m.response("RECENT")[1])
typ, data = m.search(None, "NEW")
print("new", data)
m.append("INBOX", None, None, b"Subject: 2\r\n\r\n2\r\n")
typ, data = m.recent()
print("after append", data)
typ, data = m.fetch("2", "(FLAGS)")
print("flags", data)
m.logout()
`)
	want := "recent [b'1']\nnew [b'1']\nafter append [b'2']\nflags [b'2 (FLAGS (\\\\Recent))']\n"
	if out != want {
		t.Errorf("imaplib:\n got %q\nwant %q", out, want)
	}
}
