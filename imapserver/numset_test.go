package imapserver

import (
	"strings"
	"testing"
)

// TestBadSequenceSets: a zero or malformed sequence set, and an unknown
// SEARCH key (which go-imap reads as a sequence set), are the client's
// syntax errors: BAD [CLIENTBUG], and the connection goes on. Upstream
// go-imap answered SEARCH's NO [SERVERBUG] (found by FuzzIMAPSession) and
// ended the connection without an answer for the others (our fork's
// patches 1 and 2).
func TestBadSequenceSets(t *testing.T) {
	e := newEnv(t)
	e.deliver(simpleMsg)
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	for _, cmd := range []string{
		"SEARCH FOO",
		"SEARCH 0",
		"UID SEARCH 1:x",
		"FETCH 0 FLAGS",
		"UID FETCH 1:0 FLAGS",
		"STORE 0 +FLAGS (\\Seen)",
		"COPY 1,,2 Archive",
	} {
		_, tg := r.cmd("%s", cmd)
		if !strings.Contains(tg, "BAD [CLIENTBUG]") {
			t.Errorf("%q: %q, want BAD [CLIENTBUG]", cmd, tg)
		}
	}
	r.ok("NOOP")
}
