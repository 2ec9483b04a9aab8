package imapserver

import (
	"bytes"
	"strings"
	"testing"
)

// TestDecodeQP: RFC 2045 6.7: "=XX" octets, soft line breaks ("=" at a line
// end, with any white space transport added after it), trailing white space
// on a line deleted, an "=" that starts nothing kept.
func TestDecodeQP(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"caf=C3=A9", "caf\xc3\xa9"},
		{"hello  \r\nbar=\r\n\r\n", "hello\r\nbar\r\n"},
		{"foo\t=\r\nbar\r\n", "foo\tbar\r\n"},
		{"foo\t \t= \r\n=62\r\n", "foo\t \tb\r\n"},
		{"foo = \t\r\nbar\r\n", "foo bar\r\n"},
		{"foo =\nbar\n", "foo bar\n"},
		{"a = b", "a = b"},
		{"a =", "a "},
		{"a=\t", "a"},
		{"a=4", "a=4"},
		{"x  y\t\r\n", "x  y\r\n"},
	} {
		if got := decodeQP([]byte(c.in)); string(got) != c.want {
			t.Errorf("decodeQP(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// A long run of white space is scanned once (it was once per byte).
	in := strings.Repeat(" ", 1<<22) + "x"
	if got := decodeQP([]byte(in)); !bytes.Equal(got, []byte(in)) {
		t.Errorf("long run: %d bytes, want %d", len(got), len(in))
	}
}

// FuzzDecodeQP: decoding never grows the data and never panics.
func FuzzDecodeQP(f *testing.F) {
	for _, s := range []string{"caf=C3=A9", "a= \r\nb", "=\r", "  \t=", "=4", "x=\n=", "= =\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if out := decodeQP(b); len(out) > len(b) {
			t.Errorf("decodeQP(%q) = %q: longer", b, out)
		}
	})
}
