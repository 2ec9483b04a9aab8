package imapserver

import (
	"strings"
	"testing"
)

// TestCreateSpecialUse: CREATE with USE (RFC 6154 3), advertised as
// CREATE-SPECIAL-USE; one of the five uses Sealpost has, one at a time.
func TestCreateSpecialUse(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)
	if u := r.ok("CAPABILITY"); !strings.Contains(u[0], " CREATE-SPECIAL-USE") {
		t.Errorf("CREATE-SPECIAL-USE not advertised: %q", u)
	}
	if _, tagged := r.cmd(`CREATE "Old Sent" (USE (\Sent))`); !strings.Contains(tagged, " NO [USEATTR] ") {
		t.Errorf("a second \\Sent: %q", tagged)
	}
	r.ok("DELETE Archive")
	r.ok(`CREATE Lists/Archive2 (USE (\archive))`)
	if _, tagged := r.cmd(`CREATE Archive (USE (\Archive))`); !strings.Contains(tagged, " NO [USEATTR] ") {
		t.Errorf("a second \\Archive: %q", tagged)
	}
	r.ok(`CREATE Plain (USE ())`)
	u := strings.Join(r.ok(`LIST "" "*"`), "")
	for _, want := range []string{
		"* LIST (\\HasNoChildren \\Archive) \"/\" \"Lists/Archive2\"\r\n",
		"* LIST (\\HasNoChildren) \"/\" \"Plain\"\r\n",
		"* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("LIST: no %q in %q", want, u)
		}
	}
	for _, cmd := range []string{`CREATE A1 (USE (\All))`, `CREATE A2 (USE (\Flagged))`, `CREATE A3 (USE (\Sent \Trash))`, `CREATE A4 (USE (\Inbox))`, `CREATE A5 (USE (\Held))`} {
		if _, tagged := r.cmd("%s", cmd); !strings.Contains(tagged, " NO [USEATTR] ") {
			t.Errorf("%s: %q", cmd, tagged)
		}
	}
	if _, tagged := r.cmd(`CREATE A6 (FOO (\Sent))`); !strings.Contains(tagged, " BAD ") {
		t.Errorf("unknown parameter: %q", tagged)
	}
	if u := r.ok(`LIST "" "A*"`); len(u) != 0 {
		t.Errorf("refused CREATEs made mailboxes: %q", u)
	}
}
