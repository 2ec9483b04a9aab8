package imapserver

import (
	"strings"
	"testing"
)

// TestID: ID (RFC 2971) before and after login, NIL or a list, answered with
// the server's name only; over-long lists and fields are BAD, and the
// connection stays usable.
func TestID(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	u := r.ok("CAPABILITY")
	if !strings.Contains(u[0], " ID") {
		t.Errorf("ID not advertised before login: %q", u)
	}
	u = r.ok(`ID ("name" "imaplib" "version" "3.12")`)
	if len(u) != 1 || u[0] != "* ID (\"name\" \"Sealpost\")\r\n" {
		t.Errorf("ID before login: %q", u)
	}
	u = r.ok("ID NIL")
	if len(u) != 1 || u[0] != "* ID (\"name\" \"Sealpost\")\r\n" {
		t.Errorf("ID NIL: %q", u)
	}
	u = r.ok("ID ()")
	if len(u) != 1 {
		t.Errorf("ID (): %q", u)
	}
	var pairs []string
	for i := range 31 {
		pairs = append(pairs, `"f`+strings.Repeat("x", i%5)+`" NIL`)
	}
	bad := []string{
		"ID (" + strings.Join(pairs, " ") + ")",           // 31 pairs
		`ID ("` + strings.Repeat("n", 31) + `" "v")`,      // field over 30 octets
		`ID ("name" "` + strings.Repeat("v", 1025) + `")`, // value over 1024 octets
		`ID ("name")`,
		`ID name`,
		`ID`,
	}
	for _, cmd := range bad {
		u, tagged := r.cmd("%s", cmd)
		if !strings.Contains(tagged, " BAD ") || len(u) != 0 {
			t.Errorf("%.40s: %q %q", cmd, u, tagged)
		}
	}
	// 30 pairs, a 30-octet field and a 1024-octet value are within bounds.
	r.ok("%s", "ID ("+strings.Join(pairs[:30], " ")+")")
	r.ok("%s", `ID ("`+strings.Repeat("n", 30)+`" "`+strings.Repeat("v", 1024)+`")`)
	r.login(alice)
	u = r.ok(`ID ("name" "after login")`)
	if len(u) != 1 || u[0] != "* ID (\"name\" \"Sealpost\")\r\n" {
		t.Errorf("ID after login: %q", u)
	}
}
