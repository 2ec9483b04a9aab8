package imapserver

import (
	"fmt"
	"strings"
	"testing"
)

// TestMoveCopyToSelf: COPY and MOVE into the selected mailbox itself are
// allowed (RFC 3501 6.4.7, RFC 6851 3.3): the copies get new UIDs, given in
// COPYUID (RFC 4315), and appear with EXISTS; for MOVE the originals are
// expunged (EXPUNGE before the new EXISTS, one EXISTS per message), for this session and another
// one that has the mailbox selected. The copies are \Recent for the one
// IMAP4rev1 session that has the mailbox selected read-write (RECENT after
// each EXISTS), not for the one that examines it (RFC 3501 2.3.2).
func TestMoveCopyToSelf(t *testing.T) {
	e := newEnv(t)
	e.deliver("Subject: one\r\n\r\n1\r\n")
	e.deliver("Subject: two\r\n\r\n2\r\n")
	r := e.rawTLS()
	r.login(alice)
	other := e.rawTLS()
	other.login(alice)
	var v string
	for _, l := range r.ok("SELECT INBOX") {
		if strings.HasPrefix(l, "* OK [UIDVALIDITY ") {
			v = strings.Fields(l)[3]
			v = strings.TrimSuffix(v, "]")
		}
	}
	other.ok("EXAMINE INBOX")

	u, tg := r.cmd("COPY 1 INBOX")
	if want := []string{"* 3 EXISTS\r\n", "* 3 RECENT\r\n"}; fmt.Sprint(u) != fmt.Sprint(want) || tg != "T3 OK [COPYUID "+v+" 1 3] COPY completed\r\n" {
		t.Errorf("COPY to self: %q %q", u, tg)
	}
	u, tg = r.cmd("MOVE 1:2 INBOX")
	if want := []string{"* OK [COPYUID " + v + " 1:2 4:5] COPY completed\r\n", "* 1 EXPUNGE\r\n", "* 1 EXPUNGE\r\n", "* 2 EXISTS\r\n", "* 2 RECENT\r\n", "* 3 EXISTS\r\n", "* 3 RECENT\r\n"}; fmt.Sprint(u) != fmt.Sprint(want) ||
		!strings.HasPrefix(tg, "T4 OK") {
		t.Errorf("MOVE to self:\n got %q %q\nwant %q", u, tg, want)
	}
	u = r.ok("UID FETCH 1:* (FLAGS)")
	if want := []string{"* 1 FETCH (UID 3 FLAGS (\\Recent))\r\n", "* 2 FETCH (UID 4 FLAGS (\\Recent))\r\n", "* 3 FETCH (UID 5 FLAGS (\\Recent))\r\n"}; fmt.Sprint(u) != fmt.Sprint(want) {
		t.Errorf("after MOVE: %q", u)
	}
	u = other.ok("NOOP")
	if want := []string{"* 3 EXISTS\r\n", "* 1 EXPUNGE\r\n", "* 1 EXPUNGE\r\n", "* 2 EXISTS\r\n", "* 3 EXISTS\r\n"}; fmt.Sprint(u) != fmt.Sprint(want) {
		t.Errorf("other session: %q, want %q", u, want)
	}
}
