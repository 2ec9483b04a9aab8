package imapserver

import (
	"strconv"
	"testing"
)

// The messages of TestSectionsOfMessageParts: a message whose body is a
// message/rfc822, and a multipart with an attached message nested in a
// multipart, an empty part, base64 and quoted-printable parts.
const (
	inner       = "From: b@example.org\r\nSubject: inner\r\n\r\ninner body\r\n"
	rfc822Outer = "From: a@example.org\r\nSubject: outer\r\nContent-Type: message/rfc822\r\n\r\n" + inner

	// A message whose body is a message whose body is a message.
	innermost = "From: sub@example.org\r\nSubject: sub\r\n\r\nHello world\r\n"
	middle    = "From: b@example.org\r\nContent-Type: message/rfc822\r\n\r\n" + innermost
	twice     = "From: a@example.org\r\nContent-Type: message/rfc822\r\n\r\n" + middle

	nestedHeader = "From: c@example.org\r\nSubject: nested\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n"
	nestedText   = "--c\r\nContent-Type: text/plain\r\n\r\nplain\r\n--c\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--c--\r\n"
	nested       = "From: a@example.org\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n" +
		"--b\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n" +
		"--d\r\nContent-Type: message/rfc822\r\n\r\n" + nestedHeader + nestedText + "--d--\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nsoft\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAGFi\r\n" +
		"--b--\r\n"
)

// TestSectionsOfMessageParts: section numbers inside message/rfc822 parts
// (RFC 3501 6.4.5, RFC 9051 6.4.5: a message whose body is not multipart
// has a part 1, its body; the parts of a message/rfc822 part are those of
// the message it encapsulates), and BINARY with partial ranges, whose
// response names the origin ("BINARY[5]<0>") and uses a literal8 only for
// content with NUL (RFC 9051 7.5.2).
func TestSectionsOfMessageParts(t *testing.T) {
	e := newEnv(t)
	e.deliver(rfc822Outer)
	e.deliver(nested)
	e.deliver(twice)
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	// The CRLF before "--d--" belongs to the delimiter (RFC 2046 5.1.1).
	lit := func(s string) string { return "{" + strconv.Itoa(len(s)) + "}\r\n" + s }
	for _, c := range []struct{ cmd, want string }{
		{"FETCH 1 BODY.PEEK[1]", "* 1 FETCH (BODY[1] " + lit(inner) + ")\r\n"},
		{"FETCH 1 BODY.PEEK[1.HEADER]", "* 1 FETCH (BODY[1.HEADER] " + lit("From: b@example.org\r\nSubject: inner\r\n\r\n") + ")\r\n"},
		{"FETCH 1 BODY.PEEK[1.TEXT]", "* 1 FETCH (BODY[1.TEXT] " + lit("inner body\r\n") + ")\r\n"},
		{"FETCH 1 BODY.PEEK[1.1]", "* 1 FETCH (BODY[1.1] " + lit("inner body\r\n") + ")\r\n"},
		{"FETCH 1 BODY.PEEK[1.MIME]", "* 1 FETCH (BODY[1.MIME] " + lit("From: a@example.org\r\nSubject: outer\r\nContent-Type: message/rfc822\r\n\r\n") + ")\r\n"},
		{"FETCH 2 BODY.PEEK[1]", "* 2 FETCH (BODY[1] " + lit("part one") + ")\r\n"},
		{"FETCH 2 BODY.PEEK[2.1]", "* 2 FETCH (BODY[2.1] " + lit(nestedHeader+nestedText[:len(nestedText)-2]) + ")\r\n"},
		{"FETCH 2 BODY.PEEK[2.1.MIME]", "* 2 FETCH (BODY[2.1.MIME] " + lit("Content-Type: message/rfc822\r\n\r\n") + ")\r\n"},
		{"FETCH 2 BODY.PEEK[2.1.HEADER]", "* 2 FETCH (BODY[2.1.HEADER] " + lit(nestedHeader) + ")\r\n"},
		{"FETCH 2 BODY.PEEK[2.1.TEXT]", "* 2 FETCH (BODY[2.1.TEXT] " + lit(nestedText[:len(nestedText)-2]) + ")\r\n"},
		{"FETCH 2 BODY.PEEK[2.1.1]", "* 2 FETCH (BODY[2.1.1] " + lit("plain") + ")\r\n"},
		{"FETCH 2 BODY.PEEK[2.1.2]", "* 2 FETCH (BODY[2.1.2] " + lit("<p>html</p>") + ")\r\n"},
		{"FETCH 2 BODY.PEEK[2.1.2.MIME]", "* 2 FETCH (BODY[2.1.2.MIME] " + lit("Content-Type: text/html\r\n\r\n") + ")\r\n"},
		{"FETCH 2 BODY.PEEK[3]", "* 2 FETCH (BODY[3] {0}\r\n)\r\n"},
		{"FETCH 2 BINARY.PEEK[3]", "* 2 FETCH (BINARY[3] {0}\r\n)\r\n"},
		{"FETCH 2 BINARY.PEEK[4]<0.7>", "* 2 FETCH (BINARY[4]<0> {7}\r\nhello w)\r\n"},
		{"FETCH 2 BINARY.PEEK[4]<6.100>", "* 2 FETCH (BINARY[4]<6> {5}\r\nworld)\r\n"},
		{"FETCH 2 BINARY.SIZE[4]", "* 2 FETCH (BINARY.SIZE[4] 11)\r\n"},
		{"FETCH 2 BINARY.PEEK[5]<0.7>", "* 2 FETCH (BINARY[5]<0> {7}\r\ncaf\xc3\xa9 s)\r\n"},
		{"FETCH 2 BINARY.PEEK[5]", "* 2 FETCH (BINARY[5] {10}\r\ncaf\xc3\xa9 soft)\r\n"},
		{"FETCH 2 BINARY.SIZE[5]", "* 2 FETCH (BINARY.SIZE[5] 10)\r\n"},
		{"FETCH 3 BODY.PEEK[TEXT]", "* 3 FETCH (BODY[TEXT] " + lit(middle) + ")\r\n"},
		{"FETCH 3 BODY.PEEK[1]", "* 3 FETCH (BODY[1] " + lit(middle) + ")\r\n"},
		{"FETCH 3 BODY.PEEK[1.HEADER]", "* 3 FETCH (BODY[1.HEADER] " + lit("From: b@example.org\r\nContent-Type: message/rfc822\r\n\r\n") + ")\r\n"},
		{"FETCH 3 BODY.PEEK[1.TEXT]", "* 3 FETCH (BODY[1.TEXT] " + lit(innermost) + ")\r\n"},
		{"FETCH 3 BODY.PEEK[1.1]", "* 3 FETCH (BODY[1.1] " + lit(innermost) + ")\r\n"},
		{"FETCH 3 BODY.PEEK[1.1.HEADER]", "* 3 FETCH (BODY[1.1.HEADER] " + lit("From: sub@example.org\r\nSubject: sub\r\n\r\n") + ")\r\n"},
		{"FETCH 3 BODY.PEEK[1.1.TEXT]", "* 3 FETCH (BODY[1.1.TEXT] " + lit("Hello world\r\n") + ")\r\n"},
		{"FETCH 3 BODY.PEEK[1.1.1]", "* 3 FETCH (BODY[1.1.1] " + lit("Hello world\r\n") + ")\r\n"},
		{"FETCH 2 BINARY.PEEK[6]", "* 2 FETCH (BINARY[6] ~{3}\r\n\x00ab)\r\n"},
	} {
		u := r.ok("%s", c.cmd)
		if len(u) != 1 || u[0] != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.cmd, u, c.want)
		}
	}
}
