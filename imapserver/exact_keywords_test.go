package imapserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/postbox"
)

const sysFlags = `\Seen \Answered \Flagged \Deleted \Draft`

// flagsLines are the untagged FLAGS and PERMANENTFLAGS responses for the
// system flags and keywords kw.
func flagsLines(kw string, readWrite bool) []string {
	out := []string{"* FLAGS (" + sysFlags + kw + ")\r\n"}
	if readWrite {
		out = append(out, "* OK [PERMANENTFLAGS ("+sysFlags+kw+` \*)] Permanent flags`+"\r\n")
	}
	return out
}

func wantLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// TestKeywordsAnnouncedBeforeUse: a keyword new to the mailbox appears in
// an untagged FLAGS (and PERMANENTFLAGS, read-write) before any FETCH that
// shows it, whether this session's STORE, another session's, or an APPEND
// brought it; FLAGS keeps a keyword once defined, even when no message
// carries it any more (RFC 3501 7.2.6, RFC 9051 7.3.5).
func TestKeywordsAnnouncedBeforeUse(t *testing.T) {
	e := newEnv(t)
	e.deliver("Subject: one\r\n\r\n1\r\n")
	a := e.rawTLS()
	a.login(alice)
	u := a.ok("SELECT INBOX")
	if !strings.Contains(strings.Join(u, ""), flagsLines("", true)[0]) {
		t.Errorf("SELECT: %q", u)
	}

	u = a.ok("STORE 1 +FLAGS ($hello)")
	wantLines(t, "STORE +FLAGS ($hello)", u, append(flagsLines(" $hello", true), `* 1 FETCH (FLAGS ($hello \Recent))`+"\r\n")...)
	u = a.ok("STORE 1 -FLAGS ($hello)")
	wantLines(t, "STORE -FLAGS ($hello)", u, `* 1 FETCH (FLAGS (\Recent))`+"\r\n")
	u = a.ok("STORE 1 +FLAGS.SILENT ($Silent)")
	wantLines(t, "STORE +FLAGS.SILENT", u, flagsLines(" $hello $Silent", true)...)

	// Another session (IMAP4rev2: no \Recent) sees the keyword kept, and
	// its STORE is announced to the first.
	b := e.rawTLS()
	b.login(alice)
	b.ok("ENABLE IMAP4rev2")
	u = b.ok("SELECT INBOX")
	if !strings.Contains(strings.Join(u, ""), flagsLines(" $hello $Silent", true)[0]) {
		t.Errorf("second SELECT keeps $hello: %q", u)
	}
	u = b.ok("STORE 1 +FLAGS ($Other)")
	wantLines(t, "B STORE", u, append(flagsLines(" $hello $Silent $Other", true), "* 1 FETCH (FLAGS ($Silent $Other))\r\n")...)
	u = a.ok("NOOP")
	wantLines(t, "A after B's STORE", u, append(flagsLines(" $hello $Silent $Other", true), `* 1 FETCH (UID 1 FLAGS ($Silent $Other \Recent))`+"\r\n")...)

	// An examining session gets FLAGS alone (its PERMANENTFLAGS is empty).
	c := e.rawTLS()
	c.login(alice)
	u = c.ok("EXAMINE INBOX")
	if !strings.Contains(strings.Join(u, ""), "* OK [PERMANENTFLAGS ()] Permanent flags\r\n") {
		t.Errorf("EXAMINE: %q", u)
	}

	// An APPEND bringing a keyword: FLAGS before EXISTS, for everyone.
	lines := b.send("X", "X APPEND INBOX ($Appended) {11+}\r\nSubject: 2\r\n")
	if !strings.HasPrefix(tagged(lines, "X"), "X OK") {
		t.Fatalf("APPEND: %q", lines)
	}
	u = a.ok("NOOP")
	wantLines(t, "A after APPEND", u, append(flagsLines(" $hello $Silent $Other $Appended", true), "* 2 EXISTS\r\n", "* 2 RECENT\r\n")...)
	u = c.ok("NOOP")
	wantLines(t, "C after APPEND", u, flagsLines(" $hello $Other $Silent $Appended", false)[0], "* 2 EXISTS\r\n")
	u = a.ok("FETCH 2 FLAGS")
	wantLines(t, "A FETCH", u, `* 2 FETCH (FLAGS ($Appended \Recent))`+"\r\n")
}

// TestKeywordLimit: a mailbox defines at most postbox.MaxKeywords
// keywords; a STORE that would pass it is refused with NO, and the session
// goes on (RFC 3501 7.2.6 lets a server refuse new keywords).
func TestKeywordLimit(t *testing.T) {
	e := newEnv(t)
	e.deliver(simpleMsg)
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	var kw []string
	for i := range postbox.MaxKeywords {
		kw = append(kw, fmt.Sprintf("k%d", i))
	}
	r.ok("STORE 1 +FLAGS.SILENT (%s)", strings.Join(kw, " "))
	r.ok("STORE 1 -FLAGS.SILENT (%s)", strings.Join(kw, " "))
	if _, tg := r.cmd("STORE 1 +FLAGS.SILENT (another)"); !strings.Contains(tg, " NO ") {
		t.Errorf("keyword %d: %q", postbox.MaxKeywords+1, tg)
	}
	r.ok("STORE 1 +FLAGS.SILENT (k7 \\Flagged)") // defined ones still work
}
