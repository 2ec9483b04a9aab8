package imapserver

import (
	"strings"
	"testing"
)

// TestLiteralCapabilities: LITERAL+ implies LITERAL- (RFC 7888 5), so only
// LITERAL+ is advertised, before login as after, and a non-synchronizing
// literal works before login.
func TestLiteralCapabilities(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	check := func(when string) {
		t.Helper()
		u := r.ok("CAPABILITY")
		if len(u) != 1 {
			t.Fatalf("%s: %q", when, u)
		}
		caps := strings.Fields(strings.TrimSpace(u[0]))
		n := 0
		for _, c := range caps {
			switch c {
			case "LITERAL+":
				n++
			case "LITERAL-":
				t.Errorf("%s: LITERAL- beside LITERAL+: %q", when, u[0])
			}
		}
		if n != 1 {
			t.Errorf("%s: LITERAL+ %d times: %q", when, n, u[0])
		}
	}
	check("before login")
	lines := r.send("L1", "L1 LOGIN {17+}\r\n"+alice+" {21+}\r\n"+password+"\r\n")
	if l := tagged(lines, "L1"); !strings.HasPrefix(l, "L1 OK") {
		t.Fatalf("LOGIN with non-synchronizing literals: %q", lines)
	}
	check("after login")
}
