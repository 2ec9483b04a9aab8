package mtasts_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mtasts"
)

func TestParse(t *testing.T) {
	valid := []struct {
		name, text string
		want       mtasts.Policy
	}{
		{"RFC 8461 3.2 example, CRLF", "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
			mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mail.example.com", "*.example.net", "backupmx.example.com"}, MaxAge: 604800 * time.Second}},
		{"LF, no final newline, any order", "mx: MX.Example.COM\nmax_age: 86400\nmode: testing\nversion: STSv1",
			mtasts.Policy{Mode: mtasts.Testing, MX: []string{"mx.example.com"}, MaxAge: 86400 * time.Second}},
		{"whitespace around values, blank lines", "version:STSv1 \n\nmode:\tenforce\nmx:  mx.example.com\t\nmax_age: 0\n\n",
			mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mx.example.com"}}},
		{"unknown keys ignored", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 31557600\nfuture_key: anything: at all\nMode: none\n",
			mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mx.example.com"}, MaxAge: mtasts.MaxMaxAge}},
		{"none needs no mx", "version: STSv1\nmode: none\nmax_age: 86400\n",
			mtasts.Policy{Mode: mtasts.None, MaxAge: 86400 * time.Second}},
		{"leading zeros", "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 0000000060\n",
			mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mx.example.com"}, MaxAge: time.Minute}},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			p, err := mtasts.Parse([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*p, tc.want) {
				t.Fatalf("got %+v, want %+v", *p, tc.want)
			}
		})
	}

	const ok = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"
	invalid := map[string]string{
		"empty":                 "",
		"no version":            "mode: enforce\nmx: mx.example.com\nmax_age: 86400\n",
		"version STSv2":         strings.Replace(ok, "STSv1", "STSv2", 1),
		"version case":          strings.Replace(ok, "STSv1", "stsv1", 1),
		"version twice":         ok + "version: STSv1\n",
		"no mode":               "version: STSv1\nmx: mx.example.com\nmax_age: 86400\n",
		"mode unknown":          strings.Replace(ok, "enforce", "strict", 1),
		"mode case":             strings.Replace(ok, "enforce", "Enforce", 1),
		"mode twice":            ok + "mode: testing\n",
		"no max_age":            "version: STSv1\nmode: enforce\nmx: mx.example.com\n",
		"max_age too large":     strings.Replace(ok, "86400", "31557601", 1),
		"max_age 11 digits":     strings.Replace(ok, "86400", "00000000001", 1),
		"max_age negative":      strings.Replace(ok, "86400", "-1", 1),
		"max_age plus":          strings.Replace(ok, "86400", "+1", 1),
		"max_age unit":          strings.Replace(ok, "86400", "1d", 1),
		"max_age twice":         ok + "max_age: 1\n",
		"no mx in enforce":      "version: STSv1\nmode: enforce\nmax_age: 86400\n",
		"no mx in testing":      "version: STSv1\nmode: testing\nmax_age: 86400\n",
		"mx empty":              ok + "mx:\n",
		"mx two-label wildcard": ok + "mx: *.*.example.com\n",
		"mx inner wildcard":     ok + "mx: mail.*.example.com\n",
		"mx partial wildcard":   ok + "mx: mx*.example.com\n",
		"mx bare wildcard":      ok + "mx: *\n",
		"mx trailing dot":       ok + "mx: mx.example.com.\n",
		"mx underscore":         ok + "mx: m_x.example.com\n",
		"mx hyphen first":       ok + "mx: -mx.example.com\n",
		"mx IP literal":         ok + "mx: [192.0.2.1]\n",
		"mx long label":         ok + "mx: " + strings.Repeat("a", 64) + ".example.com\n",
		"mx two hosts":          ok + "mx: a.example.com b.example.com\n",
		"line without colon":    ok + "this is not a field\n",
		"space before colon":    strings.Replace(ok, "mode:", "mode :", 1),
		"leading whitespace":    strings.Replace(ok, "mode:", " mode:", 1),
		"HTML":                  "<html><body>Not Found</body></html>\n",
		"not UTF-8":             ok + "x: \xff\n",
	}
	for name, text := range invalid {
		t.Run(name, func(t *testing.T) {
			p, err := mtasts.Parse([]byte(text))
			testkit.WantKind(t, "Parse", err, errors.Invalid)
			if p != nil {
				t.Errorf("Parse returned %+v with its error", p)
			}
		})
	}
	big := ok + strings.Repeat("x: y\n", mtasts.MaxPolicySize/5)
	if _, err := mtasts.Parse([]byte(big)); !errors.Is(errors.TooLarge, err) {
		t.Errorf("Parse of %d bytes: %v, want TooLarge", len(big), err)
	}
}

// RFC 8461 4.1: exact names, or "*." and exactly one label; case and a
// trailing dot do not matter.
func TestMatch(t *testing.T) {
	p := &mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com":      true,
		"MAIL.Example.Com.":     true,
		"mx1.example.net":       true,
		"MX1.EXAMPLE.NET.":      true,
		"example.net":           false,
		"a.b.example.net":       false,
		".example.net":          false,
		"other.example.com":     false,
		"mail.example.com.evil": false,
		"xmail.example.com":     false,
		"example.com":           false,
		"":                      false,
	} {
		if got := p.Match(host); got != want {
			t.Errorf("Match(%q) = %v, want %v", host, got, want)
		}
	}
	var none *mtasts.Policy
	if none.Enforced() || (&mtasts.Policy{Mode: mtasts.Testing}).Enforced() || !p.Enforced() {
		t.Error("Enforced is true only for a policy in enforce mode")
	}
}

// Our own policy: what PolicyText writes, Parse reads back, and its id
// changes exactly when the text does.
func TestPolicyText(t *testing.T) {
	text, err := mtasts.PolicyText(mtasts.Enforce, []string{"MX.Example.org."}, 7*24*time.Hour)
	testkit.Must(t, err)
	if want := "version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 604800\r\n"; string(text) != want {
		t.Fatalf("PolicyText = %q, want %q", text, want)
	}
	p, err := mtasts.Parse(text)
	testkit.Must(t, err)
	if p.Mode != mtasts.Enforce || !p.Match("mx.example.org") || p.MaxAge != 7*24*time.Hour {
		t.Fatalf("round trip: %+v", p)
	}
	id := mtasts.PolicyID(text)
	if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("PolicyID = %q, want 16 hex digits", id)
	}
	other, _ := mtasts.PolicyText(mtasts.Testing, []string{"mx.example.org"}, 7*24*time.Hour)
	if mtasts.PolicyID(other) == id || mtasts.PolicyID(text) != id {
		t.Error("PolicyID does not follow the text")
	}
	if got := mtasts.TXTRecord(text); got != "v=STSv1; id="+id {
		t.Errorf("TXTRecord = %q", got)
	}
	for _, bad := range []struct {
		mode mtasts.Mode
		mx   []string
		age  time.Duration
	}{
		{"strict", []string{"mx.example.org"}, time.Hour},
		{mtasts.Enforce, []string{"not a host"}, time.Hour},
		{mtasts.Enforce, nil, time.Hour},
		{mtasts.Enforce, []string{"mx.example.org"}, 2 * mtasts.MaxMaxAge},
	} {
		if _, err := mtasts.PolicyText(bad.mode, bad.mx, bad.age); !errors.Is(errors.Invalid, err) {
			t.Errorf("PolicyText(%v, %v, %v): %v, want Invalid", bad.mode, bad.mx, bad.age, err)
		}
	}
}
