package sieve

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// checkHeader compares parseFields(head, section) with go-message's
// textproto.ReadHeader of the two joined (parseHeader, what runs used
// before): the same fields, the same values for every name in any case
// and for q, and the same values again from the run's memory.
func checkHeader(t *testing.T, head, section []byte, q string) {
	t.Helper()
	want := parseHeader(append(append([]byte(nil), head...), section...))
	got := parseFields(head, section)
	if n := want.Len(); n != len(got.fields) {
		t.Fatalf("%q %q: %d fields, want %d", head, section, len(got.fields), n)
	}
	names := []string{q, strings.ToLower(q), strings.ToUpper(q)}
	for fs := want.Fields(); fs.Next(); {
		k := fs.Key()
		names = append(names, k, strings.ToLower(k), strings.ToUpper(k))
	}
	for _, f := range got.fields {
		names = append(names, f.name)
	}
	for range 2 { // the second time from the run's memory
		for _, name := range names {
			w, g := want.Values(name), got.values(name)
			if len(w) == 0 && len(g) == 0 {
				continue
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("%q %q: values of %q = %q, want %q", head, section, name, g, w)
			}
		}
	}
}

func TestParseFields(t *testing.T) {
	for _, c := range []struct{ head, section string }{
		{"", testHeader},
		{"X-Spam-Score: 0.500 (bayes)\r\n", testHeader},
		{"X-Spam-Score: 1\r\n", "x-spam-score: 2\r\nX-SPAM-SCORE:3\r\n\r\nBody: no\r\n"},
		{"", "Subject: folded\r\n  over\r\n\tthree  \r\n lines\r\nTo: a\r\n\r\n"},
		{"", "Subject: empty continuation\r\n   \r\n x\r\n\r\n"},
		{"", "Subject: bare LF\nTo: b\n\n"},
		{"", "Subject: no end"},
		{"", "Subject: CR at the end\r"},
		{"", "Subject: CRs\r\r\nTo: a\rb\r\n\r\n"},
		{"", " Subject: starts with a blank\r\n\r\n"},
		{"X-A: 1\r\n", " continued from the head\r\nTo: a\r\n\r\n"},
		{"X-A: no end of line", "To: a\r\n\r\n"},
		{"", "Subject: a\r\nno colon\r\nTo: after the fault\r\n\r\n"},
		{"", "Subject : blank before the colon\r\n: empty name\r\nTo: a\r\n\r\n"},
		{"", "Sub ject: space in the name\r\nTo: a\r\n\r\n"},
		{"", "Sub(ject): comment bytes\r\nsub(JECT): x\r\n\r\n"},
		{"", "Subj\xe9ct: 8 bit\r\nTo: a\r\n\r\n"},
		{"", "List-Id: <a.example.org>\r\nlist-id: <b>\r\nLIST-ID: <c>\r\n\r\n"},
		{"", ""},
		{"", "\r\n"},
	} {
		for _, q := range []string{"subject", "Sub(ject)", "sub ject", "list-id", "x-spam-score", "to", ""} {
			checkHeader(t, []byte(c.head), []byte(c.section), q)
		}
	}
}

// TestHeaderValuesShared: the values a run remembers cannot be changed
// through an append by one test.
func TestHeaderValuesShared(t *testing.T) {
	h := parseFields(nil, []byte("To: a\r\nTo: b\r\n\r\n"))
	vs := h.values("to")
	_ = append(vs, "c")
	if got := h.values("TO"); !reflect.DeepEqual(got, []string{"a", "b"}) || cap(vs) != len(vs) {
		t.Fatalf("got %q, cap %d", got, cap(vs))
	}
}

// FuzzHeader cross-checks parseFields against go-message's ReadHeader.
func FuzzHeader(f *testing.F) {
	f.Add([]byte("X-Spam-Score: 0.500 (bayes)\r\n"), []byte(testHeader), "x-spam-score")
	f.Add([]byte(nil), []byte("A: 1\r\n b\r\n\r\n"), "a")
	f.Add([]byte("A: 1"), []byte(" b\n\n"), "A")
	f.Fuzz(func(t *testing.T, head, section []byte, q string) {
		if bytes.Count(head, []byte("\n"))+bytes.Count(section, []byte("\n")) > 200 {
			return
		}
		checkHeader(t, head, section, q)
	})
}
