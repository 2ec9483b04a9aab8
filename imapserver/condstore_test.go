package imapserver

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sealpost/sealpost/internal/sqlitedb"
)

// CONDSTORE and QRESYNC (RFC 7162) on the wire: every exchange is checked
// line for line. Four messages are delivered first; each delivery is one
// commit, so their MODSEQs are 2, 3, 4, 5 and HIGHESTMODSEQ is 5.

// twoSessions logs alice in twice.
func (e *testEnv) twoSessions() (*rawConn, *rawConn) {
	a, b := e.rawTLS(), e.rawTLS()
	a.login(alice)
	b.login(alice)
	return a, b
}

func condStoreEnv(t *testing.T) *testEnv {
	e := newEnv(t)
	for i := 1; i <= 4; i++ {
		e.deliver(fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i))
	}
	e.seeRecent()
	return e
}

// seeRecent has an IMAP4rev1 session select INBOX read-write, so that the
// messages there are no longer \Recent for the sessions that follow (RFC
// 3501 2.3.2): the exchanges checked here are about MODSEQs.
func (e *testEnv) seeRecent() {
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	r.ok("LOGOUT")
}

// wantExchange runs a command and checks its untagged and tagged lines
// exactly (without CRLF). In want, UV stands for the UIDVALIDITY.
func (r *rawConn) wantExchange(uv string, cmd string, want ...string) {
	r.t.Helper()
	cmd = strings.ReplaceAll(cmd, "UV", uv)
	untagged, tagged := r.cmd("%s", cmd)
	var got []string
	for _, l := range append(untagged, tagged) {
		got = append(got, strings.TrimSuffix(l, "\r\n"))
	}
	tag := fmt.Sprintf("T%d", r.tag)
	for i := range want {
		want[i] = strings.ReplaceAll(want[i], "UV", uv)
		if rest, ok := strings.CutPrefix(want[i], "TAG "); ok {
			want[i] = tag + " " + rest
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		r.t.Errorf("C: %s\ngot:\n%s\nwant:\n%s", cmd, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

var uidValidityRE = regexp.MustCompile(`[[(]UIDVALIDITY (\d+)[])]`)

func uidValidityOf(t *testing.T, line string) string {
	t.Helper()
	m := uidValidityRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no UIDVALIDITY in %q", line)
	}
	return m[1]
}

// selectUV selects a mailbox (the command given) and returns its
// UIDVALIDITY.
func (r *rawConn) selectUV(cmd string) string {
	r.t.Helper()
	for _, l := range r.ok("%s", cmd) {
		if m := uidValidityRE.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	r.t.Fatalf("%s: no UIDVALIDITY", cmd)
	return ""
}

// selectLines are SELECT INBOX's untagged lines for four unseen messages
// up to PERMANENTFLAGS, for an IMAP4rev1 client.
func selectLines(exists, unseen int, uidNext int) []string {
	return []string{
		fmt.Sprintf("* %d EXISTS", exists),
		"* 0 RECENT",
		fmt.Sprintf("* OK [UNSEEN %d] First unseen message", unseen),
		"* OK [UIDVALIDITY UV] UIDs valid",
		fmt.Sprintf("* OK [UIDNEXT %d] Predicted next UID", uidNext),
		`* FLAGS (\Seen \Answered \Flagged \Deleted \Draft)`,
		`* OK [PERMANENTFLAGS (\Seen \Answered \Flagged \Deleted \Draft \*)] Permanent flags`,
	}
}

func TestCondStoreAdvertisedAndEnabled(t *testing.T) {
	e := condStoreEnv(t)
	r := e.rawTLS()
	u := r.ok("CAPABILITY")
	if strings.Contains(u[0], "CONDSTORE") || strings.Contains(u[0], "QRESYNC") {
		t.Errorf("CONDSTORE/QRESYNC before login: %q", u[0])
	}
	r.login(alice)
	u = r.ok("CAPABILITY")
	if !strings.Contains(u[0], " CONDSTORE QRESYNC ") {
		t.Errorf("capabilities after login lack CONDSTORE QRESYNC: %q", u[0])
	}
	r.wantExchange("", "ENABLE CONDSTORE", "* ENABLED CONDSTORE", "TAG OK ENABLE completed")
	r.wantExchange("", "ENABLE QRESYNC", "* ENABLED QRESYNC", "TAG OK ENABLE completed")
	r.wantExchange("", "ENABLE X-UNKNOWN", "* ENABLED", "TAG OK ENABLE completed")
}

// TestCondStoreSelect: RFC 7162 3.1.2.1, HIGHESTMODSEQ with every SELECT and
// EXAMINE; 3.1.8, the CONDSTORE parameter; 3.2.11, CLOSED.
func TestCondStoreSelect(t *testing.T) {
	e := condStoreEnv(t)
	r := e.rawTLS()
	r.login(alice)
	uv := r.selectUV("EXAMINE INBOX")
	want := append(selectLines(4, 1, 5), "* OK [HIGHESTMODSEQ 5] Highest", "TAG OK [READ-WRITE] SELECT completed")
	want = append([]string{"* OK [CLOSED] Previous mailbox is now closed"}, want...)
	r.wantExchange(uv, "SELECT INBOX (CONDSTORE)", want...)
	r.wantExchange(uv, "SELECT INBOX (BOGUS)", "TAG BAD [CLIENTBUG] Unknown SELECT parameter")
	r.wantExchange(uv, "SELECT INBOX (QRESYNC (1 1))", "TAG BAD [CLIENTBUG] QRESYNC parameter without ENABLE QRESYNC")
	r.wantExchange(uv, "STATUS INBOX (HIGHESTMODSEQ MESSAGES)", "* STATUS INBOX (MESSAGES 4 HIGHESTMODSEQ 5)", "TAG OK STATUS completed")
}

// TestCondStoreFetch: the MODSEQ item (RFC 7162 3.1.4.2), which enables
// CONDSTORE and so, in the selected state, first tells HIGHESTMODSEQ; the
// CHANGEDSINCE modifier (3.1.4.1); and the FETCH after a \Seen set by
// BODY[] carries UID and MODSEQ (3.1.4).
func TestCondStoreFetch(t *testing.T) {
	e := condStoreEnv(t)
	r := e.rawTLS()
	r.login(alice)
	r.selectUV("SELECT INBOX")
	r.wantExchange("", "FETCH 1:* (MODSEQ)",
		"* OK [HIGHESTMODSEQ 5] Highest",
		"* 1 FETCH (MODSEQ (2))", "* 2 FETCH (MODSEQ (3))", "* 3 FETCH (MODSEQ (4))", "* 4 FETCH (MODSEQ (5))",
		"TAG OK FETCH completed")
	r.wantExchange("", "FETCH 1:* (FLAGS) (CHANGEDSINCE 3)",
		"* 3 FETCH (FLAGS () MODSEQ (4))", "* 4 FETCH (FLAGS () MODSEQ (5))", "TAG OK FETCH completed")
	r.wantExchange("", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 0)",
		"* 1 FETCH (UID 1 FLAGS () MODSEQ (2))", "* 2 FETCH (UID 2 FLAGS () MODSEQ (3))",
		"* 3 FETCH (UID 3 FLAGS () MODSEQ (4))", "* 4 FETCH (UID 4 FLAGS () MODSEQ (5))", "TAG OK UID FETCH completed")
	r.wantExchange("", "FETCH 2 (BODY[TEXT])",
		"* 2 FETCH (FLAGS (\\Seen) UID 2 MODSEQ (6) BODY[TEXT] {8}\r\nbody 2\r\n)", "TAG OK FETCH completed")
	r.wantExchange("", "FETCH 1:* (UID) (CHANGEDSINCE 5)", "* 2 FETCH (UID 2 MODSEQ (6))", "TAG OK FETCH completed")

	// RFC 7162 3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE, after
	// ENABLE QRESYNC.
	r.wantExchange("", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", "TAG BAD [CLIENTBUG] VANISHED requires ENABLE QRESYNC")
	r.wantExchange("", "FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", "TAG BAD [CLIENTBUG] VANISHED is only allowed in UID FETCH")
	r.wantExchange("", "UID FETCH 1:* (FLAGS) (VANISHED)", "TAG BAD [CLIENTBUG] VANISHED requires CHANGEDSINCE")
	r.wantExchange("", "FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)",
		`TAG BAD [CLIENTBUG] Syntax error: expected mod-sequence-value (1 to 2^63-1), got ")"`)
	r.wantExchange("", "FETCH 1 (FLAGS) (BOGUS 1)", "TAG BAD [CLIENTBUG] Unknown FETCH modifier")
}

// TestUnchangedSince: STORE (UNCHANGEDSINCE) changes only the messages not
// changed since (RFC 7162 3.1.3) and names the others in [MODIFIED]; the
// changed ones are reported with MODSEQ, even after .SILENT.
func TestUnchangedSince(t *testing.T) {
	e := condStoreEnv(t)
	a, b := e.twoSessions()
	a.selectUV("SELECT INBOX")
	b.selectUV("SELECT INBOX")
	// Another session changes message 2 (MODSEQ 3 → 6).
	b.ok(`STORE 2 +FLAGS (\Answered)`)
	a.wantExchange("", `STORE 1:3 (UNCHANGEDSINCE 5) +FLAGS (\Flagged)`,
		"* OK [HIGHESTMODSEQ 6] Highest", // the first CONDSTORE command in the selected state
		`* 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (7))`,
		`* 3 FETCH (UID 3 FLAGS (\Flagged) MODSEQ (7))`,
		`* 2 FETCH (UID 2 FLAGS (\Answered) MODSEQ (6))`,
		"TAG OK [MODIFIED 2] Conditional STORE failed")
	a.wantExchange("", `UID STORE 1:4 (UNCHANGEDSINCE 6) +FLAGS.SILENT (\Seen)`,
		`* 2 FETCH (UID 2 MODSEQ (8))`,
		`* 4 FETCH (UID 4 MODSEQ (8))`,
		"TAG OK [MODIFIED 1,3] Conditional STORE failed")
	a.wantExchange("", `STORE 4 (UNCHANGEDSINCE 0) +FLAGS (\Draft)`, "TAG OK [MODIFIED 4] Conditional STORE failed")
	a.wantExchange("", `STORE 4 (UNCHANGEDSINCE 8) FLAGS (\Draft)`,
		`* 4 FETCH (UID 4 FLAGS (\Draft) MODSEQ (9))`, "TAG OK STORE completed")
	a.wantExchange("", `STORE 4 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()`,
		"TAG BAD [CLIENTBUG] Unknown or repeated STORE modifier")
	// b, which never enabled CONDSTORE, sees plain FETCH FLAGS.
	b.wantExchange("", "NOOP",
		`* 1 FETCH (UID 1 FLAGS (\Flagged))`,
		`* 3 FETCH (UID 3 FLAGS (\Flagged))`,
		`* 2 FETCH (UID 2 FLAGS (\Answered \Seen))`,
		`* 4 FETCH (UID 4 FLAGS (\Seen))`,
		`* 4 FETCH (UID 4 FLAGS (\Draft))`,
		"TAG OK NOOP completed")
}

// TestUnchangedSinceRace: sessions race to change one message from the
// same MODSEQ; the test and the change are one step under the mailbox's
// lock, so exactly one wins and every other is told [MODIFIED 1].
func TestUnchangedSinceRace(t *testing.T) {
	e := condStoreEnv(t)
	const n = 6
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = e.rawTLS()
		conns[i].login(alice)
		conns[i].selectUV("SELECT INBOX")
	}
	tagged := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r.tag++
			fmt.Fprintf(r.conn, "T%d UID STORE 1 (UNCHANGEDSINCE 2) +FLAGS.SILENT (k%d)\r\n", r.tag, i)
			for {
				l, err := r.br.ReadString('\n')
				if err != nil {
					tagged[i] = "read: " + err.Error()
					return
				}
				if strings.HasPrefix(l, fmt.Sprintf("T%d ", r.tag)) {
					tagged[i] = l
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, l := range tagged {
		switch {
		case strings.HasPrefix(l, "T3 OK UID STORE completed"):
			won++
		case strings.HasPrefix(l, "T3 OK [MODIFIED 1] Conditional STORE failed"):
		default:
			t.Errorf("session %d: %q", i, l)
		}
	}
	if won != 1 {
		t.Errorf("%d sessions changed message 1 from MODSEQ 2, want exactly 1: %q", won, tagged)
	}
}

// TestQResyncSelect: SELECT (QRESYNC ...) after another session changed and
// expunged messages (RFC 7162 3.2.5): VANISHED (EARLIER), then the changed
// messages' FETCH (UID FLAGS MODSEQ); known UIDs limit both.
func TestQResyncSelect(t *testing.T) {
	e := condStoreEnv(t)
	a, b := e.twoSessions()
	a.ok("ENABLE QRESYNC")
	uv := a.selectUV("SELECT INBOX")
	a.ok("UNSELECT")

	b.selectUV("SELECT INBOX")
	b.ok(`STORE 2 +FLAGS (\Seen)`)             // UID 2: MODSEQ 6
	b.ok(`STORE 1,4 +FLAGS.SILENT (\Deleted)`) // UIDs 1, 4: MODSEQ 7
	b.ok("EXPUNGE")                            // MODSEQ 8
	b.ok(`UID STORE 2 +FLAGS (\Flagged)`)      // UID 2: MODSEQ 9

	want := append(selectLines(2, 2, 5), "* OK [HIGHESTMODSEQ 9] Highest",
		"* VANISHED (EARLIER) 1,4",
		`* 1 FETCH (UID 2 FLAGS (\Seen \Flagged) MODSEQ (9))`,
		"TAG OK [READ-WRITE] SELECT completed")
	a.wantExchange(uv, "SELECT INBOX (QRESYNC (UV 5))", want...)

	// Since MODSEQ 7: the expunge (8) and the last change (9) only.
	want = append(selectLines(2, 2, 5), "* OK [HIGHESTMODSEQ 9] Highest",
		"* VANISHED (EARLIER) 1,4",
		`* 1 FETCH (UID 2 FLAGS (\Seen \Flagged) MODSEQ (9))`,
		"TAG OK [READ-WRITE] SELECT completed")
	want = append([]string{"* OK [CLOSED] Previous mailbox is now closed"}, want...)
	a.wantExchange(uv, "SELECT INBOX (QRESYNC (UV 7))", want...)

	// Known UIDs 3:4: UID 4 vanished; UID 2's change is not theirs.
	want = append(selectLines(2, 2, 5), "* OK [HIGHESTMODSEQ 9] Highest",
		"* VANISHED (EARLIER) 4",
		"TAG OK [READ-WRITE] SELECT completed")
	want = append([]string{"* OK [CLOSED] Previous mailbox is now closed"}, want...)
	a.wantExchange(uv, "SELECT INBOX (QRESYNC (UV 5 3:4 (1:2 3:4)))", want...)

	// Up to date: nothing to resynchronise.
	want = append(selectLines(2, 2, 5), "* OK [HIGHESTMODSEQ 9] Highest", "TAG OK [READ-WRITE] SELECT completed")
	want = append([]string{"* OK [CLOSED] Previous mailbox is now closed"}, want...)
	a.wantExchange(uv, "SELECT INBOX (QRESYNC (UV 9))", want...)

	// Another UIDVALIDITY: a plain SELECT, the client starts over.
	want = append(selectLines(2, 2, 5), "* OK [HIGHESTMODSEQ 9] Highest", "TAG OK [READ-WRITE] SELECT completed")
	want = append([]string{"* OK [CLOSED] Previous mailbox is now closed"}, want...)
	a.wantExchange(uv, "SELECT INBOX (QRESYNC (1 5))", want...)

	// UID FETCH (CHANGEDSINCE VANISHED) (3.2.6).
	a.wantExchange(uv, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)",
		"* VANISHED (EARLIER) 1,4",
		`* 1 FETCH (UID 2 FLAGS (\Seen \Flagged) MODSEQ (9))`,
		"TAG OK UID FETCH completed")
	a.wantExchange(uv, "UID FETCH 3:* (FLAGS) (CHANGEDSINCE 5 VANISHED)",
		"* VANISHED (EARLIER) 4", "TAG OK UID FETCH completed")

	for _, bad := range []struct{ cmd, resp string }{
		{"SELECT INBOX (QRESYNC (UV 0))", `TAG BAD [CLIENTBUG] Syntax error: expected mod-sequence-value (1 to 2^63-1), got ")"`},
		{"SELECT INBOX (QRESYNC (0 5))", "TAG BAD [CLIENTBUG] QRESYNC: UIDVALIDITY must be positive"},
		{"SELECT INBOX (QRESYNC (UV 5 1:*))", `TAG BAD [CLIENTBUG] "*" is not allowed in known UIDs`},
		{"SELECT INBOX (QRESYNC (UV 5 1:4 (1:2 3)))", "TAG BAD [CLIENTBUG] QRESYNC: the sequence-match sets differ in size or use *"},
		{"SELECT INBOX (QRESYNC (UV 5) QRESYNC (UV 5))", "TAG BAD [CLIENTBUG] QRESYNC given twice"},
	} {
		a.wantExchange(uv, bad.cmd, bad.resp)
	}
}

// TestVanishedResponses: after ENABLE QRESYNC, expunges are VANISHED, not
// EXPUNGE (RFC 7162 3.2.10): from EXPUNGE, UID EXPUNGE, MOVE, another
// session's expunge (as a NOOP's or IDLE's unsolicited response).
func TestVanishedResponses(t *testing.T) {
	e := condStoreEnv(t)
	for i := 5; i <= 8; i++ {
		e.deliver(fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i))
	}
	e.seeRecent()
	a, b := e.rawTLS(), e.rawTLS()
	a.login(alice)
	b.login(alice)
	a.ok("ENABLE QRESYNC")
	a.selectUV("SELECT INBOX")
	b.selectUV("SELECT INBOX")
	trashUV := uidValidityOf(t, b.ok("STATUS Trash (UIDVALIDITY)")[0])

	a.ok(`STORE 1:2 +FLAGS.SILENT (\Deleted)`)
	a.wantExchange("", "EXPUNGE", "* VANISHED 1:2", "TAG OK EXPUNGE completed")
	a.ok(`UID STORE 5:6 +FLAGS.SILENT (\Deleted)`)
	a.wantExchange("", "UID EXPUNGE 6", "* VANISHED 6", "TAG OK UID EXPUNGE completed")
	a.wantExchange(trashUV, "UID MOVE 3 Trash", "* OK [COPYUID UV 3 1] COPY completed", "* VANISHED 3", "TAG OK UID MOVE completed")

	// b, without QRESYNC, gets EXPUNGE; its own expunge reaches a as VANISHED.
	b.wantExchange("", "NOOP",
		`* 1 FETCH (UID 1 FLAGS (\Deleted))`, `* 2 FETCH (UID 2 FLAGS (\Deleted))`, "* 1 EXPUNGE", "* 1 EXPUNGE",
		`* 3 FETCH (UID 5 FLAGS (\Deleted))`, `* 4 FETCH (UID 6 FLAGS (\Deleted))`, "* 4 EXPUNGE", "* 1 EXPUNGE",
		"TAG OK NOOP completed")
	b.ok("EXPUNGE") // UID 5
	a.wantExchange("", "NOOP", "* VANISHED 5", "TAG OK NOOP completed")

	a.tag++
	fmt.Fprintf(a.conn, "T%d IDLE\r\n", a.tag)
	if l := a.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	b.ok(`STORE 1:2 +FLAGS.SILENT (\Deleted)`) // UIDs 4, 7
	b.ok("EXPUNGE")
	for _, want := range []string{`* 1 FETCH (UID 4 FLAGS (\Deleted) MODSEQ (`, `* 2 FETCH (UID 7 FLAGS (\Deleted) MODSEQ (`} {
		if l := a.line(); !strings.HasPrefix(l, want) {
			t.Errorf("IDLE: got %q, want %q...", l, want)
		}
	}
	// One VANISHED for both, or one each if IDLE wrote the first before
	// the second was queued.
	if l := a.line(); l == "* VANISHED 4\r\n" {
		if l := a.line(); l != "* VANISHED 7\r\n" {
			t.Errorf("IDLE: got %q after VANISHED 4, want VANISHED 7", l)
		}
	} else if l != "* VANISHED 4,7\r\n" {
		t.Errorf("IDLE: got %q, want VANISHED 4,7", l)
	}
	fmt.Fprintf(a.conn, "DONE\r\n")
	if l := a.line(); l != fmt.Sprintf("T%d OK IDLE completed\r\n", a.tag) {
		t.Errorf("IDLE end: %q", l)
	}
}

// TestSearchModSeq: the MODSEQ search key and the highest MODSEQ of the
// matches in SEARCH and ESEARCH results (RFC 7162 3.1.5).
func TestSearchModSeq(t *testing.T) {
	e := condStoreEnv(t)
	r := e.rawTLS()
	r.login(alice)
	r.selectUV("SELECT INBOX")
	r.wantExchange("", "SEARCH MODSEQ 4", "* OK [HIGHESTMODSEQ 5] Highest", "* SEARCH 3 4 (MODSEQ 5)", "TAG OK SEARCH completed")
	r.ok(`STORE 1 +FLAGS (\Seen)`) // MODSEQ 6
	r.wantExchange("", `UID SEARCH MODSEQ "/flags/\\Seen" all 5`, "* SEARCH 1 4 (MODSEQ 6)", "TAG OK UID SEARCH completed")
	r.wantExchange("", "SEARCH RETURN (COUNT) OR MODSEQ 6 NOT MODSEQ 3", `* ESEARCH (TAG "T6") COUNT 1 MODSEQ 6`, "TAG OK SEARCH completed")
	// With only MIN and/or MAX, the MODSEQ is that of the messages
	// returned, not the highest of every match.
	r.wantExchange("", "FETCH 2:4 (MODSEQ)", "* 2 FETCH (MODSEQ (3))", "* 3 FETCH (MODSEQ (4))", "* 4 FETCH (MODSEQ (5))", "TAG OK FETCH completed")
	r.wantExchange("", "SEARCH RETURN (MIN) 2:4 MODSEQ 1", `* ESEARCH (TAG "T8") MIN 2 MODSEQ 3`, "TAG OK SEARCH completed")
	r.wantExchange("", "SEARCH RETURN (MIN MAX) 2:3 MODSEQ 1", `* ESEARCH (TAG "T9") MIN 2 MAX 3 MODSEQ 4`, "TAG OK SEARCH completed")
	r.wantExchange("", "SEARCH RETURN (MIN ALL) 2:3 MODSEQ 1", `* ESEARCH (TAG "T10") ALL 2:3 MIN 2 MODSEQ 4`, "TAG OK SEARCH completed")
	r.wantExchange("", "SEARCH RETURN (MAX) 1:3 MODSEQ 1", `* ESEARCH (TAG "T11") MAX 3 MODSEQ 4`, "TAG OK SEARCH completed")
	r.wantExchange("", "SEARCH MODSEQ 7", "* SEARCH", "TAG OK SEARCH completed")
	r.wantExchange("", `SEARCH MODSEQ "/flags/\\Seen" bogus 5`, "TAG BAD [CLIENTBUG] MODSEQ entry type must be priv, shared or all")
}

// TestQResyncBelowFloor: when the store's tombstones do not reach back to
// the client's MODSEQ (dropped beyond the bound, or older than the schema),
// VANISHED (EARLIER) is every UID below UIDNEXT not in the mailbox (RFC
// 7162 3.2.5.2), not the exact list.
func TestQResyncBelowFloor(t *testing.T) {
	e := condStoreEnv(t)
	a, b := e.twoSessions()
	a.ok("ENABLE QRESYNC")
	uv := b.selectUV("SELECT INBOX")
	b.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	b.ok("EXPUNGE") // UID 1 at MODSEQ 7: the client below knows of it
	b.ok(`STORE 3 +FLAGS.SILENT (\Deleted)`)
	b.ok("EXPUNGE") // UID 4 at MODSEQ 9

	head := append(selectLines(2, 1, 5), "* OK [HIGHESTMODSEQ 9] Highest")
	a.wantExchange(uv, "SELECT INBOX (QRESYNC (UV 7))", append(head,
		"* VANISHED (EARLIER) 4", "TAG OK [READ-WRITE] SELECT completed")...)

	db, err := sqlitedb.Open(filepath.Join(e.dir, "meta.db"), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.W.Exec(`UPDATE mailboxes SET expunged_floor = highestmodseq`); err != nil {
		t.Fatal(err)
	}
	head = append([]string{"* OK [CLOSED] Previous mailbox is now closed"}, head...)
	head[7] = "* OK [PERMANENTFLAGS ()] Permanent flags" // EXAMINE
	a.wantExchange(uv, "EXAMINE INBOX (QRESYNC (UV 7))", append(head,
		"* VANISHED (EARLIER) 1,4", "TAG OK [READ-ONLY] EXAMINE completed")...)
	// Known UIDs still limit it.
	a.wantExchange(uv, "EXAMINE INBOX (QRESYNC (UV 7 2:9))", append(head,
		"* VANISHED (EARLIER) 4", "TAG OK [READ-ONLY] EXAMINE completed")...)
}

// TestNoStaleFlagsAfterOwnStore: another session's change queued for this
// session is not written after this session's own STORE of the same
// message: its older flags and MODSEQ would take the client's view back in
// time (imaptest's stress run: "MODSEQ dropped"). The same holds for a
// FETCH of FLAGS.
func TestNoStaleFlagsAfterOwnStore(t *testing.T) {
	e := condStoreEnv(t)
	a, b := e.twoSessions()
	a.ok("ENABLE CONDSTORE")
	a.selectUV("SELECT INBOX")
	b.selectUV("SELECT INBOX")
	b.ok(`STORE 1 +FLAGS.SILENT (\Answered)`) // MODSEQ 6, queued for a
	a.wantExchange("", `STORE 1 +FLAGS (\Flagged)`,
		`* 1 FETCH (UID 1 FLAGS (\Answered \Flagged) MODSEQ (7))`, "TAG OK STORE completed")
	a.wantExchange("", "NOOP", "TAG OK NOOP completed")

	b.ok(`STORE 2 +FLAGS.SILENT (\Answered)`) // MODSEQ 8, queued for a
	a.wantExchange("", "FETCH 2 (FLAGS MODSEQ)", `* 2 FETCH (FLAGS (\Answered) MODSEQ (8))`, "TAG OK FETCH completed")
	a.wantExchange("", "NOOP", "TAG OK NOOP completed")
}
