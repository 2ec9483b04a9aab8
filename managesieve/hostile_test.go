package managesieve

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHostile sends what a hostile or broken client might, each on its own
// connection, compares the replies exactly, and checks that the server is
// still serving afterwards.
func TestHostile(t *testing.T) {
	ts := start(t, Options{AllowPlaintext: true, MaxScriptSize: 1000, MaxErrors: 5, MaxUnauthCommands: 8})
	for _, tc := range []struct {
		name string
		auth bool
		in   string
		want []string
		open bool // the connection stays open after
	}{
		// A literal over MaxScriptSize is refused before any of it is
		// read: the reply comes without a byte of it sent. Non-
		// synchronizing, its bytes are committed, so the connection ends.
		{"huge literal", true, "PUTSCRIPT \"x\" {2000000000+}\r\n",
			[]string{`NO (QUOTA/MAXSIZE) "Script size 2000000000 exceeds maximum allowed size 1000"`}, false},
		// Synchronizing: nothing follows before "+", the connection stays.
		{"huge synchronizing literal", true, "PUTSCRIPT \"x\" {2000000000}\r\n",
			[]string{`NO (QUOTA/MAXSIZE) "Script size 2000000000 exceeds maximum allowed size 1000"`}, true},
		{"huge CHECKSCRIPT literal", true, "CHECKSCRIPT {1001+}\r\n",
			[]string{`NO (QUOTA/MAXSIZE) "Script size 1001 exceeds maximum allowed size 1000"`}, false},
		{"literal length overflow", true, "PUTSCRIPT \"x\" {99999999999999999999999+}\r\n",
			[]string{`NO "Invalid literal string length"`}, false},
		{"huge AUTHENTICATE literal", false, "AUTHENTICATE \"PLAIN\" {100000+}\r\n",
			[]string{`NO "Invalid literal size"`}, false},
		{"huge name literal", true, "GETSCRIPT {100000+}\r\n",
			[]string{`NO "Literal argument too large"`}, false},
		// Patch 72: a script literal sent before login is not run.
		{"script before login", false, "PUTSCRIPT \"x\" {10+}\r\nCAPABILITY\r\n",
			[]string{`NO "Not authenticated"`}, false},
		{"binary garbage", false, "\x00\xff\xfe\x1b[2J \x01\r\nNOOP \"unclosed\r\n",
			[]string{`NO "Unknown command"`, `NO "Invalid command syntax: unclosed quote in command arguments"`}, true},
		{"garbage after login", true, "\xc3\x28 \x80\x80\r\nGETSCRIPT\r\nHAVESPACE \"x\" lots\r\n",
			[]string{`NO "Unknown command"`, `NO "Syntax: GETSCRIPT scriptName"`, `NO "Invalid script size"`}, true},
		{"control characters in a name", true, "PUTSCRIPT \"a\x01b\" \"keep;\"\r\n",
			[]string{`NO "script name must not contain control characters"`}, true},
		{"bare LF", false, "NOOP\n", []string{`NO "Command line must end with CRLF"`}, false},
		{"line too long", false, strings.Repeat("A", 9000) + "\r\n", []string{`NO "Command line too long"`}, false},
		{"too many errors", false, strings.Repeat("BOGUS\r\n", 5),
			[]string{`NO "Unknown command"`, `NO "Unknown command"`, `NO "Unknown command"`, `NO "Unknown command"`,
				`NO "Unknown command"`, `BYE "Too many errors, closing connection"`}, false},
		// Patch 71: commands that never fail still run out before login.
		{"too many commands before login", false, strings.Repeat("NOOP\r\n", 8) + "\r\nNOOP\r\n",
			append(repeat("OK", 8), `BYE "Too many commands without authentication"`), false},
		{"many commands after login", true, strings.Repeat("NOOP\r\n", 20), repeat("OK", 20), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t)
			c.skipGreeting()
			if tc.auth {
				c.login()
			}
			c.send(tc.in)
			c.expect(tc.want...)
			if tc.open {
				c.cmd("NOOP", "OK")
			} else {
				c.eof()
			}
		})
	}

	// The server still serves.
	c := ts.dial(t)
	c.skipGreeting()
	c.login()
	c.cmd(`PUTSCRIPT "after" "keep;"`, `OK "Script stored"`)
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestIdleTimeout: a silent connection is told BYE (TRYLATER) and closed,
// sooner before login than after.
func TestIdleTimeout(t *testing.T) {
	ts := start(t, Options{AllowPlaintext: true, PreAuthTimeout: 100 * time.Millisecond, IdleTimeout: 2 * time.Second})
	bye := `BYE (TRYLATER) "Connection timed out due to inactivity, please reconnect"`

	c := ts.dial(t)
	c.skipGreeting()
	start := time.Now()
	c.expect(bye)
	c.eof()
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("an unauthenticated connection waited %v; PreAuthTimeout is 100ms, IdleTimeout 2s", d)
	}

	c = ts.dial(t)
	c.skipGreeting()
	c.login()
	// A literal sent slowly is bounded too.
	c.send(fmt.Sprintf("PUTSCRIPT \"x\" {%d+}\r\nke", 5))
	c.expect(`NO "Failed to read literal string content"`)
	c.eof()

	c = ts.dial(t)
	c.skipGreeting()
	c.login()
	time.Sleep(300 * time.Millisecond) // longer than PreAuthTimeout
	c.cmd("NOOP", "OK")
	c.expect(bye)
	c.eof()
}
