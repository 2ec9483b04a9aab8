package imapserver

import (
	"io"
	"strconv"
	"strings"
	"testing"
)

// TestOddButLegalNames: a pattern made of every atom character but "&"
// starting a valid modified UTF-7 run is legal (RFC 3501 9: list-mailbox
// is 1*list-char) and simply lists nothing, as Dovecot does; a backslash,
// which is no list-char, is a syntax error, never [SERVERBUG]; a mailbox
// named with such characters (its "&" written "&-") round-trips.
func TestOddButLegalNames(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)
	if u, tg := r.cmd("LIST \"\" !#$$&'+,-.0123456789:;<=>?@^_`|[}%%*"); len(u) != 0 || !strings.HasPrefix(tg, "T2 OK LIST completed") {
		t.Errorf("odd atom pattern: %q %q", u, tg)
	}
	if _, tg := r.cmd("LIST \"\" !#$$&'+,-.0123456789:;<=>?@^_\\`|[}%%*"); !strings.HasPrefix(tg, "T3 BAD [CLIENTBUG]") {
		t.Errorf("pattern with a backslash: %q", tg)
	}
	r.ok("CREATE \"!#$$&-'+,-.0123456789:;<=>?@^_`|[}\"")
	want := "* LIST (\\HasNoChildren) \"/\" \"!#$$&-'+,-.0123456789:;<=>?@^_`|[}\"\r\n"
	if u := r.ok("LIST \"\" !#$$&-'+,-.0123456789:;<=>?@^_`|[}%%"); len(u) != 1 || u[0] != want {
		t.Errorf("LIST of the odd name: %q, want %q", u, want)
	}
	r.ok("SELECT \"!#$$&-'+,-.0123456789:;<=>?@^_`|[}\"")

	// NUL in a name: BAD with the reason. Malformed modified UTF-7 is a
	// legal astring that names no mailbox: NO, as Dovecot answers (and
	// imaptest's "atoms" script expects of SELECT).
	for _, c := range []string{"CREATE {3+}\r\na\x00b", "EXAMINE {3+}\r\na\x00b"} {
		if _, tg := r.cmd("%s", c); !strings.Contains(tg, "BAD [CLIENTBUG] Syntax error: mailbox name in modified UTF-7") {
			t.Errorf("%q: %q", c, tg)
		}
	}
	for _, c := range []string{"CREATE \"a&Jjo\"", "RENAME INBOX \"&-&\"", "SELECT !#$$&'+,-.0123456789:;<=>?@^_`|[}"} {
		if _, tg := r.cmd("%s", c); !strings.Contains(tg, " NO [CANNOT] Mailbox name is not valid modified UTF-7") {
			t.Errorf("%q: %q", c, tg)
		}
	}
}

// TestLiteralsBeforeLogin: a synchronizing and a non-synchronizing literal
// of ordinary size work before login (RFC 3501 4.3, RFC 7888).
func TestLiteralsBeforeLogin(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	if _, err := io.WriteString(r.conn, "A1 LOGIN {17}\r\n"); err != nil {
		t.Fatal(err)
	}
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation: %q", l)
	}
	lines := r.send("A1", alice+" {21+}\r\n"+password+"\r\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "A1 OK") {
		t.Errorf("LOGIN with literals: %q", lines)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
