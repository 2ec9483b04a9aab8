package mailauth

import (
	"bytes"
	"strings"
	"testing"
)

func TestRemoveOwnResults(t *testing.T) {
	const id = "mx.example.test"
	for _, c := range []struct{ in, want string }{
		{"Authentication-Results: mx.example.test; dkim=pass\r\nFrom: a@b\r\n\r\nbody\r\n",
			"From: a@b\r\n\r\nbody\r\n"},
		{"From: a@b\r\nauthentication-results : (c) MX.Example.Test 1;\r\n\tspf=pass\r\nSubject: s\r\n\r\nAuthentication-Results: mx.example.test; x\r\n",
			"From: a@b\r\nSubject: s\r\n\r\nAuthentication-Results: mx.example.test; x\r\n"},
		{"Authentication-Results: \"mx.example.test\"; dmarc=pass\r\n\r\n", "\r\n"},
		{"Authentication-Results: other.test; dkim=pass\r\nAuthentication-Results: mx.example.test.evil; none\r\n\r\nb",
			"Authentication-Results: other.test; dkim=pass\r\nAuthentication-Results: mx.example.test.evil; none\r\n\r\nb"},
		{"X-Authentication-Results: mx.example.test; dkim=pass\r\n\r\n", "X-Authentication-Results: mx.example.test; dkim=pass\r\n\r\n"},
		{"Authentication-Results: mx.example.test; spf=pass\nTo: c@d\n\nbody", "To: c@d\n\nbody"},
	} {
		if got := RemoveOwnResults([]byte(c.in), id); string(got) != c.want {
			t.Errorf("RemoveOwnResults(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	in := []byte("From: a@b\r\n\r\nAuthentication-Results: mx.example.test; x\r\n")
	if got := RemoveOwnResults(in, id); &got[0] != &in[0] {
		t.Error("a message with nothing to remove was copied")
	}
}

// FuzzRemoveOwnResults: whatever the message, what is left has no field
// of ours that our own reader would find, removing again changes nothing,
// the body is untouched, and every field kept is kept byte for byte.
func FuzzRemoveOwnResults(f *testing.F) {
	for _, s := range []string{
		"Authentication-Results: mx.example.test; dkim=pass\r\nFrom: a@b\r\n\r\nbody\r\n",
		"Authentication-Results:(((x)))mx.example.test;\r\n \r\n\r\n",
		"Authentication-Results: \"mx.ex\\ample.test\"; x\r\n\r\n",
		"a\r\n\tb\r\nAuthentication-Results: mx.example.test\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	const id = "mx.example.test"
	f.Fuzz(func(t *testing.T, msg []byte) {
		orig := bytes.Clone(msg)
		out := RemoveOwnResults(msg, id)
		if !bytes.Equal(msg, orig) {
			t.Fatal("the input was modified")
		}
		if again := RemoveOwnResults(out, id); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
		for name, value := range headerFields(out) {
			if strings.EqualFold(name, "Authentication-Results") {
				if v, ok := firstValue([]byte(value)); ok && strings.EqualFold(v, id) {
					t.Fatalf("%q still has our field: %q", out, value)
				}
			}
		}
		if !bytes.HasSuffix(orig, out[len(out)-min(len(out), bodyLen(orig)):]) {
			t.Fatalf("the body changed: %q → %q", orig, out)
		}
		if len(out) > len(orig) {
			t.Fatalf("longer: %q → %q", orig, out)
		}
	})
}

// bodyLen is the length of what follows msg's header section.
func bodyLen(msg []byte) int {
	if i := bytes.Index(msg, []byte("\n\r\n")); i >= 0 && (bytes.Index(msg, []byte("\n\n")) < 0 || i < bytes.Index(msg, []byte("\n\n"))) {
		return len(msg) - i - 3
	}
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		return len(msg) - i - 2
	}
	return 0
}
