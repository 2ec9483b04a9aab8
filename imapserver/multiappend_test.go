package imapserver

import (
	"fmt"
	"strings"
	"testing"
)

// TestMultiAppend: several messages in one APPEND (RFC 3502), with
// APPENDUID's uid-set (RFC 4315); a failure of any message files none.
func TestMultiAppend(t *testing.T) {
	e := newEnvOpts(t, Options{AppendLimit: 1000})
	r := e.rawTLS()
	r.login(alice)
	if u := r.ok("CAPABILITY"); !strings.Contains(u[0], " MULTIAPPEND") {
		t.Errorf("MULTIAPPEND not advertised: %q", u)
	}
	status := func(want string) {
		t.Helper()
		u := r.ok("STATUS INBOX (MESSAGES UIDNEXT)")
		if len(u) != 1 || u[0] != "* STATUS INBOX ("+want+")\r\n" {
			t.Errorf("STATUS: %q, want %s", u, want)
		}
	}
	validity := func() string {
		u := r.ok("STATUS INBOX (UIDVALIDITY)")
		return strings.TrimSuffix(strings.TrimPrefix(u[0], "* STATUS INBOX (UIDVALIDITY "), ")\r\n")
	}()

	m1 := "Subject: one\r\n\r\nfirst\r\n"
	m2 := "Subject: two\r\n\r\nsecond\r\n"
	m3 := "Subject: three\r\n\r\n"
	_, tagged := r.cmd("APPEND INBOX (\\Seen) {%d+}\r\n%s (\\Flagged) \"01-Jan-2024 10:00:00 +0000\" {%d+}\r\n%s ~{%d+}\r\n%s",
		len(m1), m1, len(m2), m2, len(m3), m3)
	if want := fmt.Sprintf("T%d OK [APPENDUID %s 1:3] APPEND completed\r\n", r.tag, validity); tagged != want {
		t.Errorf("MULTIAPPEND: %q, want %q", tagged, want)
	}
	status("MESSAGES 3 UIDNEXT 4")
	r.ok("SELECT INBOX")
	u := r.ok("FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[])")
	for i, want := range []string{m1, m2, m3} {
		mustEqualBytes(t, fmt.Sprintf("message %d", i+1), literalOf(t, u[i], "BODY[]"), []byte(want))
	}
	if !strings.Contains(u[0], `\Seen`) || !strings.Contains(u[1], `\Flagged`) || !strings.Contains(u[1], `" 1-Jan-2024 10:00:00 +0000"`) {
		t.Errorf("flags and dates: %q", u)
	}
	r.ok("UNSELECT")

	// One message: APPENDUID with one UID, as before.
	_, tagged = r.cmd("APPEND INBOX {%d+}\r\n%s", len(m1), m1)
	if want := fmt.Sprintf("T%d OK [APPENDUID %s 4] APPEND completed\r\n", r.tag, validity); tagged != want {
		t.Errorf("APPEND: %q", tagged)
	}
	status("MESSAGES 4 UIDNEXT 5")

	// A bad flag on the second message: BAD, and the first is not kept.
	_, tagged = r.cmd("APPEND INBOX {%d+}\r\n%s (\\Bogus) {%d+}\r\n%s", len(m1), m1, len(m2), m2)
	if !strings.Contains(tagged, " BAD ") {
		t.Errorf("bad flag: %q", tagged)
	}
	status("MESSAGES 4 UIDNEXT 5")

	// A synchronizing literal over the limit on the third message: NO
	// [TOOBIG] instead of "+", nothing kept, the connection usable.
	r.tag++
	tag := fmt.Sprintf("T%d", r.tag)
	fmt.Fprintf(r.conn, "%s APPEND INBOX {%d}\r\n", tag, len(m1))
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation: %q", l)
	}
	fmt.Fprintf(r.conn, "%s {%d}\r\n", m1, len(m2))
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation: %q", l)
	}
	fmt.Fprintf(r.conn, "%s {5000}\r\n", m2)
	if _, tagged := r.until(tag); !strings.HasPrefix(tagged, tag+" NO [TOOBIG]") {
		t.Errorf("too big: %q", tagged)
	}
	status("MESSAGES 4 UIDNEXT 5")

	// A mailbox that does not exist: NO [TRYCREATE] before any literal.
	r.tag++
	tag = fmt.Sprintf("T%d", r.tag)
	fmt.Fprintf(r.conn, "%s APPEND Nowhere {%d}\r\n", tag, len(m1))
	if _, tagged := r.until(tag); !strings.HasPrefix(tagged, tag+" NO [TRYCREATE]") {
		t.Errorf("no mailbox: %q", tagged)
	}
	for _, cmd := range []string{"APPEND INBOX", "APPEND INBOX ", "APPEND INBOX {2+}\r\nab (", "APPEND INBOX {2+}\r\nab X-EXT {1+}\r\nc"} {
		if _, tagged := r.cmd("%s", cmd); !strings.Contains(tagged, " BAD ") {
			t.Errorf("%q: %q", cmd, tagged)
		}
	}
	status("MESSAGES 4 UIDNEXT 5")
}

// TestAppendRefusedAfterNonSyncLiteral: an APPEND refused after a
// non-synchronizing literal's announcement (no such mailbox) reads the
// literal's bytes, which follow regardless (RFC 7888 4), and the session
// goes on; a synchronizing one is refused before the continuation, so the
// client never sends it (imaptest's "append" script, whose connection was
// ended here).
func TestAppendRefusedAfterNonSyncLiteral(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)
	for _, c := range []string{
		"APPEND nonexistent {10+}\r\nT9 NOOP\r\n",
		"APPEND nonexistent (\\Seen) {4+}\r\nabcd {3+}\r\nxyz",
		"APPEND nonexistent {10}",
	} {
		if u, tg := r.cmd("%s", c); len(u) != 0 || !strings.Contains(tg, " NO [TRYCREATE] ") {
			t.Errorf("%q: %q %q", c, u, tg)
		}
	}
	if u := r.ok("NOOP"); len(u) != 0 {
		t.Errorf("NOOP after the refusals: %q", u)
	}
	if u := r.ok("STATUS INBOX (MESSAGES)"); len(u) != 1 || !strings.Contains(u[0], "MESSAGES 0") {
		t.Errorf("refused APPENDs stored something: %q", u)
	}
}
