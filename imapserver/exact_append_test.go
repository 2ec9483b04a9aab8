package imapserver

import (
	"io"
	"strings"
	"testing"
)

// TestAppendEmptyAndBinary: APPEND of an empty literal stores an empty
// message, and a BINARY APPEND (RFC 3516 4.4: a literal8, "~{n}") stores
// what it is given byte for byte, unless a part holds NUL, which no
// literal may carry (RFC 9051 4.3): that part is stored in base64, so that
// BODY[] is 7-bit, and BINARY[n] gives back the client's bytes exactly.
// Synchronizing and non-synchronizing literals alike.
func TestAppendEmptyAndBinary(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)
	const header = "Subject: bin\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
	content := "\x00-\xe4\n\r\n\n" + strings.Repeat("\x00\x01\x02\xff", 20)
	bin := header + content
	eightBit := "Subject: 8bit\r\n\r\n\xff\xfe caf\xc3\xa9\r\n"
	for i, c := range []struct{ lit, body string }{
		{"{0}", ""},
		{"{0+}", ""},
		{"~{" + itoa(len(bin)) + "}", bin},
		{"~{" + itoa(len(bin)) + "+}", bin},
		{"~{" + itoa(len(eightBit)) + "}", eightBit},
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
	b64 := base64Lines([]byte(content))
	stored := strings.Replace(header, "binary", "base64", 1) + string(b64)
	for i, want := range []string{"", "", stored, stored, eightBit} {
		seq := itoa(i + 1)
		u := r.ok("FETCH %s (RFC822.SIZE BODY.PEEK[])", seq)
		if len(u) != 1 || !strings.HasPrefix(u[0], "* "+seq+" FETCH (RFC822.SIZE "+itoa(len(want))+" BODY[] {") {
			t.Errorf("FETCH %s: %q", seq, u)
			continue
		}
		mustEqualBytes(t, "BODY[] of message "+seq, literalOf(t, u[0], "BODY[]"), []byte(want))
	}
	wantLines(t, "BINARY[1]", r.ok("FETCH 3 (BINARY.SIZE[1] BINARY.PEEK[1])"),
		"* 3 FETCH (BINARY[1] ~{"+itoa(len(content))+"}\r\n"+content+" BINARY.SIZE[1] "+itoa(len(content))+")\r\n")
	wantLines(t, "BINARY[] without NUL", r.ok("FETCH 5 (BINARY.PEEK[])"), "* 5 FETCH (BINARY[] {"+itoa(len(eightBit))+"}\r\n"+eightBit+")\r\n")
}

// TestEncodeBinaryParts: only the leaf parts holding NUL are re-encoded,
// their Content-Transfer-Encoding replaced or added; the rest of the
// message stays byte for byte.
func TestEncodeBinaryParts(t *testing.T) {
	in := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\na\x00b\r\n--b--\r\n"
	want := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nYQBi\r\n--b--\r\n"
	if got := string(encodeBinaryParts([]byte(in))); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if plain := []byte("Subject: y\r\n\r\n\xffno nul\r\n"); &encodeBinaryParts(plain)[0] != &plain[0] {
		t.Error("a message without NUL was copied")
	}
	long := strings.Repeat("\x00", 100)
	if got := string(encodeBinaryParts([]byte("A: b\r\n\r\n" + long))); got != "A: b\r\nContent-Transfer-Encoding: base64\r\n\r\n"+string(base64Lines([]byte(long))) ||
		!strings.Contains(got, "\r\n") {
		t.Errorf("long part: %q", got)
	}
}
