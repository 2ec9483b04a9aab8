package imapserver

import (
	"io"
	"strings"
	"testing"
)

// TestAppendEmptyAndBinary: APPEND of an empty literal stores an empty
// message (RFC 3501 6.3.11 forbids nothing of the sort), and a BINARY
// APPEND (RFC 3516 4.3: a literal8, "~{n}", whose content may hold NUL)
// stores its bytes as they are; both round-trip byte for byte through
// BODY[] and RFC822.SIZE, with non-synchronizing literals too.
func TestAppendEmptyAndBinary(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)
	bin := "Subject: bin\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\xff\r\nend\x00\r\n"
	for i, c := range []struct{ lit, body string }{
		{"{0}", ""},
		{"{0+}", ""},
		{"~{" + itoa(len(bin)) + "}", bin},
		{"~{" + itoa(len(bin)) + "+}", bin},
	} {
		tag := "A" + itoa(i)
		if _, err := io.WriteString(r.conn, tag+" APPEND INBOX "+c.lit+"\r\n"); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(c.lit, "+}") {
			if l := r.line(); !strings.HasPrefix(l, "+ ") {
				t.Fatalf("%s: continuation: %q", c.lit, l)
			}
		}
		lines := r.send(tag, c.body+"\r\n")
		if l := tagged(lines, tag); !strings.HasPrefix(l, tag+" OK [APPENDUID ") {
			t.Errorf("APPEND %s: %q", c.lit, lines)
		}
	}
	r.ok("SELECT INBOX")
	for i, want := range []string{"", "", bin, bin} {
		seq := itoa(i + 1)
		u := r.ok("FETCH %s (RFC822.SIZE BODY.PEEK[])", seq)
		if len(u) != 1 || !strings.HasPrefix(u[0], "* "+seq+" FETCH (RFC822.SIZE "+itoa(len(want))+" BODY[] ") {
			t.Errorf("FETCH %s: %q", seq, u)
			continue
		}
		mustEqualBytes(t, "BODY[] of message "+seq, literalOf(t, u[0], "BODY[]"), []byte(want))
	}
}
