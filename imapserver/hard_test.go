package imapserver

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// send writes raw bytes as a command and returns every line up to the
// tagged one (or the connection's end: then the last line is "EOF").
func (r *rawConn) send(tag, raw string) []string {
	r.t.Helper()
	r.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(r.conn, raw); err != nil {
		r.t.Fatal(err)
	}
	var lines []string
	for {
		l, err := r.br.ReadString('\n')
		if err != nil {
			return append(lines, "EOF")
		}
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			return lines
		}
	}
}

func noServerBug(t *testing.T, what string, lines []string) {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l, "SERVERBUG") {
			t.Errorf("%s: %q", what, lines)
		}
	}
}

// tagged returns the tagged line of lines (or "").
func tagged(lines []string, tag string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, tag+" ") {
			return l
		}
	}
	return ""
}

// TestLiteralRefusedBeforeLogin: go-imap buffers at most 4,096 bytes for a
// string literal. A larger synchronizing one is refused with NO [TOOBIG]
// before the client sends it (it used to wait for bytes the client would
// never send); a larger non-synchronizing one, whose bytes follow anyway,
// is refused and the connection closed, so that they are never read as
// commands (they used to be parsed as the rest of the command, or give
// [SERVERBUG] over 50 KiB).
func TestLiteralRefusedBeforeLogin(t *testing.T) {
	e := newEnvOpts(t, Options{InsecureAuth: true})

	r := e.rawPlain()
	lines := r.send("A1", "A1 LOGIN {5000}\r\n")
	if l := tagged(lines, "A1"); !strings.HasPrefix(l, "A1 NO [TOOBIG]") {
		t.Errorf("synchronizing literal: %q", lines)
	}
	r.ok("CAPABILITY") // still in step

	// SASL-IR's initial response is base64 text, never a literal
	// (RFC 4959): "{5000+}" is malformed, and the literal's bytes that
	// follow are an unknown command, which ends the connection before
	// login.
	lines = r.send("A4", "A4 AUTHENTICATE PLAIN {5000+}\r\n"+strings.Repeat("a", 5000)+"\r\n")
	noServerBug(t, "AUTHENTICATE", lines)
	if l := tagged(lines, "A4"); !strings.HasPrefix(l, "A4 BAD [CLIENTBUG] Malformed SASL initial response") {
		t.Errorf("AUTHENTICATE: %q", lines)
	}

	for _, c := range []struct{ name, cmd string }{
		{"LOGIN, 5000", "A2 LOGIN {5000+}\r\n" + strings.Repeat("a", 4990) + "\r\nA3 LOGOUT\r\n x\r\n"},
		{"LOGIN, 60000", "A2 LOGIN {60000+}\r\n" + strings.Repeat("a", 60000) + " x\r\n"},
		{"LOGIN password", "A2 LOGIN x {5000+}\r\n" + strings.Repeat("a", 5000) + "\r\n"},
	} {
		r := e.rawPlain()
		lines := r.send("A2", c.cmd)
		noServerBug(t, c.name, lines)
		if l := tagged(lines, "A2"); !strings.HasPrefix(l, "A2 NO [TOOBIG]") {
			t.Errorf("%s: %q", c.name, lines)
		}
		rest, _ := io.ReadAll(r.br)
		if !strings.HasPrefix(string(rest), "* BYE ") || strings.Contains(string(rest), "A3") {
			t.Errorf("%s: after the refusal %q, want a BYE and nothing else", c.name, rest)
		}
	}
}

// TestClientErrorsAreNotServerBugs: malformed names and arguments get BAD
// with the reason, before and after login, and the session goes on.
func TestClientErrorsAreNotServerBugs(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)
	for _, c := range []struct {
		cmd, want string
	}{
		{"CREATE \"a\x01b\"", "BAD [CLIENTBUG] Syntax error: mailbox name in modified UTF-7"},
		{"CREATE {3+}\r\na\x00b", "BAD [CLIENTBUG] Syntax error: mailbox name in modified UTF-7"},
		{"SELECT {3+}\r\na\x00b", "BAD [CLIENTBUG] Syntax error: mailbox name in modified UTF-7"},
		{"RENAME Sent {3+}\r\na\x00b", "BAD [CLIENTBUG] Syntax error: mailbox name in modified UTF-7"},
		{"CREATE \"a\x7fb\"", "BAD [CLIENTBUG]"},
		{"CREATE \"&Jjo\"", "NO [CANNOT] Mailbox name is not valid modified UTF-7"}, // legal, names nothing
		{"CREATE \"&AGE-\"", "NO [CANNOT]"},                                         // base64 of an ASCII letter
		{"CREATE \"&Jjo-&ZeVnLIqe-\"", "NO [CANNOT]"},                               // null shift
		{"STATUS \"&\" (MESSAGES)", "NO [CANNOT]"},
		{"SUBSCRIBE \"&Jjo!\"", "NO [CANNOT]"},
		{"LIST \"\" \"&Jjo\"", "OK LIST"}, // a legal pattern that names no mailbox
		{"LIST \"&Jjo\" \"*\"", "NO [CANNOT]"},
		{"LSUB \"\" \"&Jjo\"", "OK LSUB"},
		{"LIST \"\" \"a\x01*\"", "BAD [CLIENTBUG] Syntax error: pattern without control characters"},
		{"APPEND INBOX \"not a date\" {1+}\r\nx", "BAD [CLIENTBUG] Syntax error: date-time"},
		{"APPEND \"&Jjo\" {1+}\r\nx", "NO [CANNOT]"},
		{"SEARCH SINCE 31-Foo-2020", "BAD [CLIENTBUG] Syntax error: date"},
		{"SEARCH " + strings.Repeat("(", 200) + "ALL" + strings.Repeat(")", 200), "BAD [CLIENTBUG]"},
		{"CREATE \"\"", "NO [CANNOT]"},
		{"CREATE \"a//b\"", "NO [CANNOT]"},
	} {
		_, tg := r.cmd("%s", c.cmd)
		if !strings.Contains(tg, c.want) {
			t.Errorf("%q: %q, want %q", c.cmd, tg, c.want)
		}
	}
	r.ok("CREATE \"&ZeVnLIqe-\"") // well-formed modified UTF-7 still works
	r.ok("SELECT INBOX")

	// An over-long command line: BAD, then BYE (its rest is no command).
	lines := r.send("L", "L NOOP "+strings.Repeat("x", 60*1024)+"\r\nM NOOP\r\n")
	noServerBug(t, "long line", lines)
	if l := tagged(lines, "L"); !strings.HasPrefix(l, "L BAD [CLIENTBUG] Command too long") {
		t.Errorf("long line: %q", lines)
	}
	rest, _ := io.ReadAll(r.br)
	if !strings.HasPrefix(string(rest), "* BYE ") || strings.Contains(string(rest), "M ") {
		t.Errorf("after the long line: %q", rest)
	}
}

// TestCommandTruncatedByEOF: a client that half-closes in the middle of a
// command gets no [SERVERBUG], and the connection ends.
func TestCommandTruncatedByEOF(t *testing.T) {
	e := newEnvOpts(t, Options{InsecureAuth: true})
	for _, cmd := range []string{"A LOGIN \"x", "A LOGIN {10+}\r\nabc", "A SELECT"} {
		r := e.rawPlain()
		fmt.Fprint(r.conn, cmd)
		r.conn.(interface{ CloseWrite() error }).CloseWrite()
		r.conn.SetDeadline(time.Now().Add(10 * time.Second))
		rest, err := io.ReadAll(r.br)
		if err != nil {
			t.Errorf("%q: %v", cmd, err)
		}
		if strings.Contains(string(rest), "SERVERBUG") {
			t.Errorf("%q: %q", cmd, rest)
		}
	}
}

// TestAppendDiskFull: APPEND on a full disk is NO [UNAVAILABLE] (try again
// later), not [SERVERBUG], stores nothing, and APPEND works again once
// there is room. The blobs live on a small tmpfs, which needs the right to
// mount (root in the tests' container); elsewhere the test skips.
func TestAppendDiskFull(t *testing.T) {
	e := newEnv(t)
	e.stop()
	blobs := filepath.Join(e.dir, "blobs")
	saved := filepath.Join(e.dir, "blobs.saved")
	if err := os.Rename(blobs, saved); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(blobs, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", blobs).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", blobs).Run() })
	if out, err := exec.Command("cp", "-a", saved+"/.", blobs).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	e.start()
	t.Cleanup(e.stop)

	// Fill the tmpfs.
	filler := filepath.Join(blobs, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 4<<20)) // fails with ENOSPC at 2 MiB
	f.Close()

	r := e.rawTLS()
	r.login(alice)
	msg := strings.ReplaceAll(benchMessage(1, 64<<10), "\r\n", "\r\n")
	_, tg := r.cmd("APPEND INBOX {%d+}\r\n%s", len(msg), msg)
	if !strings.Contains(tg, "NO [UNAVAILABLE]") {
		t.Errorf("APPEND on a full disk: %q", tg)
	}
	u := r.ok("STATUS INBOX (MESSAGES)")
	if len(u) != 1 || !strings.Contains(u[0], "(MESSAGES 0)") {
		t.Errorf("after the failed APPEND: %q", u)
	}

	os.Remove(filler)
	_, tg = r.cmd("APPEND INBOX {%d+}\r\n%s", len(msg), msg)
	if !strings.Contains(tg, "OK [APPENDUID") {
		t.Errorf("APPEND with room again: %q", tg)
	}
}
