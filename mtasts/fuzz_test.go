package mtasts_test

import (
	"reflect"
	"testing"

	"github.com/sealpost/sealpost/mtasts"
)

// FuzzParse: Parse never panics, and what it accepts is a policy it could
// have written itself: a known mode, max_age in range, mx patterns unless
// mode none, and PolicyText of it parses back to the same policy. Seeds are
// in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := mtasts.Parse(text)
		if err != nil {
			if p != nil {
				t.Fatalf("a policy with an error: %+v, %v", p, err)
			}
			return
		}
		switch p.Mode {
		case mtasts.Enforce, mtasts.Testing, mtasts.None:
		default:
			t.Fatalf("mode %q", p.Mode)
		}
		if p.MaxAge < 0 || p.MaxAge > mtasts.MaxMaxAge || (len(p.MX) == 0 && p.Mode != mtasts.None) {
			t.Fatalf("accepted %+v", p)
		}
		again, err := mtasts.PolicyText(p.Mode, p.MX, p.MaxAge)
		if err != nil {
			t.Fatalf("PolicyText of an accepted policy: %v", err)
		}
		q, err := mtasts.Parse(again)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip: %+v became %+v (%v)", p, q, err)
		}
	})
}
