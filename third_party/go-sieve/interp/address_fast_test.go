package interp

import (
	"reflect"
	"testing"

	"github.com/emersion/go-message/mail"
)

// Sealpost patch 78's tests: simpleAddress answers as
// mail.ParseAddressList, or not at all.

func checkSimpleAddress(t *testing.T, s string) bool {
	t.Helper()
	got, ok := simpleAddress(s)
	if !ok {
		return false
	}
	want, err := mail.ParseAddressList(s)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: %+v, mail.ParseAddressList %+v %v", s, got, want, err)
	}
	return true
}

func TestSimpleAddress(t *testing.T) {
	for _, c := range []struct {
		s    string
		fast bool
	}{
		{"Wile E. Coyote <coyote@desert.example.org>", true},
		{"  Someone   Else\t<someone5@example.net>  ", true},
		{"<ann@example.org>", true},
		{"ann@example.org", true},
		{" ann@example.org\t", true},
		{"bounce+a=b@example.org", true},
		{"x.y <a.b@c.d>", true},
		{".x.. <a@b>", true}, // obs-phrase dots
		{"Coyote<a@b>", true},
		{"a@b <c@d>", false},
		{"=?utf-8?q?Caf=C3=A9?= <a@b>", false},
		{`"Quoted" <a@b>`, false},
		{"Name (comment) <a@b>", false},
		{"a@b, c@d", false},
		{"group: a@b;", false},
		{"<a@b >", false},
		{"< a@b>", false},
		{"a..b@c", false},
		{".a@c", false},
		{"a@c.", false},
		{"a@[192.0.2.1]", false},
		{"Café <a@b>", false},
		{"a@ b", false},
		{"", false},
		{"<>", false},
		{"<a@b>>", false},
		{"A <a@b> <c@d>", false},
	} {
		if got := checkSimpleAddress(t, c.s); got != c.fast {
			t.Errorf("%q: fast %v, want %v", c.s, got, c.fast)
		}
	}
}

func FuzzSimpleAddress(f *testing.F) {
	for _, s := range []string{"Wile E. Coyote <coyote@desert.example.org>", "a@b", " x\t y <a@b>", "a..b <c@d>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkSimpleAddress(t, s) })
}
