package imapserver

import (
	"fmt"
	"strings"
	"testing"
)

// TestPreviewText: RFC 8970's preview from the first text part, decoded,
// white space collapsed, 256 characters at most.
func TestPreviewText(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct{ name, msg, want string }{
		{"plain", "Subject: x\r\n\r\nHello   there,\r\n\r\nsecond line\r\n", "Hello there, second line"},
		{"no body", "Subject: x\r\n\r\n", ""},
		{"256 characters, not bytes", "Content-Type: text/plain; charset=utf-8\r\n\r\n" + long + "\r\n", strings.Repeat("é", 256)},
		{"quoted-printable latin-1", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me=\r\n br=FBl=E9e\r\n", "Café crème brûlée"},
		{"base64", "Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8gYmFzZTY0\r\n", "Hello base64"},
		{"first text/plain, not an attachment", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
			"Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nattached\r\n--b\r\n" +
			"Content-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--c\r\n" +
			"Content-Type: text/plain\r\n\r\nthe text\r\n--c--\r\n--b--\r\n", "the text"},
		{"html when there is no plain text", "Content-Type: text/html\r\n\r\n<html><head><style>p {color: red}</style></head>" +
			"<body><!-- note --><p>Fish &amp; chips</p><script>x()</script><b>now</b></body></html>\r\n", "Fish & chips now"},
		{"not text", "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n", ""},
	}
	for _, tt := range tests {
		if got := preview(parseMessage([]byte(tt.msg))); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestPreviewWire: FETCH PREVIEW and PREVIEW (LAZY) (RFC 8970), exact, over
// sealed messages, beside other items; a preview with non-ASCII text is a
// literal for an IMAP4rev1 client; bad modifiers are BAD.
func TestPreviewWire(t *testing.T) {
	e := newEnv(t)
	e.deliver(simpleMsg)
	e.deliver(multipartMsg)
	e.deliver("Content-Type: text/plain; charset=utf-8\r\n\r\nCaf\u00e9\r\n")
	r := e.rawTLS()
	r.login(alice)
	if u := r.ok("CAPABILITY"); !strings.Contains(u[0], " PREVIEW") {
		t.Errorf("PREVIEW not advertised: %q", u)
	}
	r.ok("SELECT INBOX")
	tests := []struct{ cmd, want string }{
		{"FETCH 1 PREVIEW", `* 1 FETCH (PREVIEW "Hello Alice, this is a test.")`},
		{"FETCH 1 (PREVIEW)", `* 1 FETCH (PREVIEW "Hello Alice, this is a test.")`},
		{"FETCH 1 (PREVIEW (LAZY) UID)", `* 1 FETCH (UID 1 PREVIEW "Hello Alice, this is a test.")`},
		{"FETCH 1 (UID PREVIEW RFC822.SIZE)", fmt.Sprintf(`* 1 FETCH (UID 1 RFC822.SIZE %d PREVIEW "Hello Alice, this is a test.")`, len(simpleMsg))},
		{"UID FETCH 2 (PREVIEW (lazy))", `* 2 FETCH (UID 2 PREVIEW "Part one text.")`},
		{"FETCH 3 PREVIEW", "* 3 FETCH (PREVIEW {5}\r\nCaf\u00e9)"},
	}
	for _, tt := range tests {
		u := r.ok("%s", tt.cmd)
		if len(u) != 1 || u[0] != tt.want+"\r\n" {
			t.Errorf("%s: got %q, want %q", tt.cmd, u, tt.want)
		}
	}
	for _, cmd := range []string{"FETCH 1 (PREVIEW (FAST))", "FETCH 1 (PREVIEW ())", "FETCH 1 (PREVIEW (LAZY)"} {
		if u, tagged := r.cmd("%s", cmd); !strings.Contains(tagged, " BAD ") || len(u) != 0 {
			t.Errorf("%s: %q %q", cmd, u, tagged)
		}
	}
	// \Seen is not set by PREVIEW.
	if u := r.ok("FETCH 1 FLAGS"); strings.Contains(u[0], `\Seen`) {
		t.Errorf("flags after PREVIEW: %q", u)
	}
}
