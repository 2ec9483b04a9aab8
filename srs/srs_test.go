package srs

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
)

var (
	testKey = Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
	testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
)

const ours = "demo.example"

func mustForward(t *testing.T, orig string, now time.Time) string {
	t.Helper()
	fwd, err := Forward(testKey, orig, ours, now)
	if err != nil {
		t.Fatalf("Forward(%q): %v", orig, err)
	}
	return fwd
}

func wantKind(t *testing.T, what string, err error, kind errors.Kind) {
	t.Helper()
	if !errors.Is(kind, err) {
		t.Errorf("%s: got %v, want a %v error", what, err, kind)
	}
}

func TestForwardForm(t *testing.T) {
	fwd := mustForward(t, "bob@example.com", testNow)
	if !regexp.MustCompile(`^SRS0=[A-Z2-7]{4}=[A-Z2-7]{2}=example\.com=bob@demo\.example$`).MatchString(fwd) {
		t.Fatalf("Forward = %q", fwd)
	}
	// TT is the day number modulo 1024, high five bits first: 2026-03-14
	// is day 20526; 20526 % 1024 = 46 = 1*32 + 14: "BO".
	if tt := strings.Split(fwd, "=")[2]; tt != "BO" {
		t.Errorf("TT = %q, want BO", tt)
	}
	if !IsSRS(strings.Split(fwd, "@")[0]) {
		t.Errorf("IsSRS(%q) = false", fwd)
	}
	// The same input gives the same address; another key another hash.
	if again := mustForward(t, "bob@example.com", testNow); again != fwd {
		t.Errorf("Forward not deterministic: %q, %q", fwd, again)
	}
	other, _ := Forward(Key{9}, "bob@example.com", ours, testNow)
	if other == fwd {
		t.Errorf("two keys gave the same address %q", fwd)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, orig := range []string{
		"bob@example.com",
		"Bob.Smith@Example.COM",
		"bob+tag@example.com",
		"a=b==c=@example.com",        // '=' in the local part: the last field takes all
		"x-y_z!#$%&'*/?^`{|}~@ex.io", // all of atext
		`"john doe"@example.com`,     // quoted: needs quoting again
		`"a\"b\\c"@example.com`,      // quoted pairs
		`"a..b"@example.com`,
		"srs0@example.com", // looks like a tag, but no separator
		"josé@bücher.example",
		"bob@[192.0.2.1]",
		"bob@[IPv6:2001:db8::1]",
		strings.Repeat("l", 64) + "@" + strings.Repeat("d", 63) + ".example", // SRS local part > 64 octets
	} {
		fwd := mustForward(t, orig, testNow)
		local := fwd[:strings.LastIndexByte(fwd, '@')]
		if !IsSRS(local) {
			t.Errorf("%s: IsSRS(%q) = false", orig, local)
		}
		got, err := Reverse(testKey, fwd, testNow)
		if err != nil {
			t.Errorf("%s: Reverse(%q): %v", orig, fwd, err)
			continue
		}
		if got != orig {
			t.Errorf("Reverse(Forward(%q)) = %q (via %q)", orig, got, fwd)
		}
	}
}

func TestQuotedForm(t *testing.T) {
	fwd := mustForward(t, `"john doe"@example.com`, testNow)
	if !strings.HasPrefix(fwd, `"SRS0=`) || !strings.HasSuffix(fwd, `=example.com=john doe"@demo.example`) {
		t.Errorf("quoted original gave %q", fwd)
	}
}

func TestNullAndOwnDomain(t *testing.T) {
	if fwd, err := Forward(testKey, "", ours, testNow); fwd != "" || err != nil {
		t.Errorf("Forward of the null sender = %q, %v", fwd, err)
	}
	for _, a := range []string{"alice@demo.example", "alice@DEMO.example", "SRS0=ABCD=BO=example.com=bob@demo.example"} {
		if fwd := mustForward(t, a, testNow); fwd != a {
			t.Errorf("Forward(%q) in our own domain = %q", a, fwd)
		}
	}
}

func TestCaseInsensitive(t *testing.T) {
	fwd := mustForward(t, "Bob@Example.com", testNow)
	for _, variant := range []string{strings.ToLower(fwd), strings.ToUpper(fwd)} {
		got, err := Reverse(testKey, variant, testNow)
		if err != nil {
			t.Errorf("Reverse(%q): %v", variant, err)
			continue
		}
		if !strings.EqualFold(got, "bob@example.com") {
			t.Errorf("Reverse(%q) = %q", variant, got)
		}
	}
	// libsrs2's other separators after the tag.
	for _, s := range []string{"+", "-"} {
		variant := "SRS0" + s + fwd[len("SRS0="):]
		if _, err := Reverse(testKey, variant, testNow); err != nil {
			t.Errorf("Reverse(%q): %v", variant, err)
		}
	}
}

func TestTamper(t *testing.T) {
	fwd := mustForward(t, "bob@example.com", testNow)
	f := strings.Split(fwd, "=") // SRS0 HHHH TT example.com bob@demo.example
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	for name, addr := range map[string]string{
		"hash":        strings.Join([]string{f[0], flip(f[1]), f[2], f[3], f[4]}, "="),
		"stamp":       strings.Join([]string{f[0], f[1], flip(f[2]), f[3], f[4]}, "="),
		"domain":      strings.Join([]string{f[0], f[1], f[2], "example.net", f[4]}, "="),
		"local":       strings.Join([]string{f[0], f[1], f[2], f[3], "carol@demo.example"}, "="),
		"moved char":  strings.Join([]string{f[0], f[1], f[2], "example.comb", "ob@demo.example"}, "="),
		"short hash":  strings.Join([]string{f[0], f[1][:3], f[2], f[3], f[4]}, "="),
		"long hash":   strings.Join([]string{f[0], f[1] + "A", f[2], f[3], f[4]}, "="),
		"as SRS1":     "SRS1" + fwd[4:],
		"other key":   "",
		"forged SRS1": "SRS1=" + f[1] + "=example.com==" + f[1] + "=" + f[2] + "=x=y@demo.example",
	} {
		k := testKey
		if name == "other key" {
			k, addr = Key{9}, fwd
		}
		_, err := Reverse(k, addr, testNow)
		if err == nil {
			t.Errorf("%s: Reverse(%q) succeeded", name, addr)
			continue
		}
		if k := errors.KindOf(err); k != errors.Permission && k != errors.Invalid {
			t.Errorf("%s: %v, want Permission or Invalid", name, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	fwd := mustForward(t, "bob@example.com", testNow)
	day := 24 * time.Hour
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{
		{0, true},
		{MaxAge * day, true},
		{(MaxAge + 1) * day, false},
		{-day, true}, // a node a little ahead wrote it
		{-2 * day, false},
		{100 * day, false},
		{1024 * day, true}, // the stamp wraps: as old as 0 days (libsrs2 alike)
		{(1024 + MaxAge + 1) * day, false},
	} {
		_, err := Reverse(testKey, fwd, testNow.Add(tc.after))
		if tc.ok && err != nil {
			t.Errorf("after %v: %v", tc.after, err)
		}
		if !tc.ok {
			wantKind(t, "after "+tc.after.String(), err, errors.Permission)
		}
	}
	// Across the wrap of the 1024-day counter: day 1023 written, read on
	// day 1024 (counter 0) and 21 days later.
	wrote := time.Unix(1023*daySecs+5, 0)
	fwd = mustForward(t, "bob@example.com", wrote)
	if !strings.Contains(fwd, "=77=") {
		t.Fatalf("day 1023 stamp: %q", fwd)
	}
	for _, d := range []int{1, MaxAge} {
		if _, err := Reverse(testKey, fwd, wrote.Add(time.Duration(d)*day)); err != nil {
			t.Errorf("%d days after day 1023: %v", d, err)
		}
	}
	_, err := Reverse(testKey, fwd, wrote.Add((MaxAge+1)*day))
	wantKind(t, "22 days after day 1023", err, errors.Permission)
}

// TestGuarded: an original that is already SRS is rewritten as SRS1
// (libsrs2's guarded scheme), which keeps the first forwarder and
// reverses to its SRS0 address.
func TestGuarded(t *testing.T) {
	first := "SRS0=HhHh=BO=example.com=bob@fwd1.example" // another forwarder's, any hash
	srs1 := mustForward(t, first, testNow)
	if !regexp.MustCompile(`^SRS1=[A-Z2-7]{4}=fwd1\.example==HhHh=BO=example\.com=bob@demo\.example$`).MatchString(srs1) {
		t.Fatalf("Forward(%q) = %q", first, srs1)
	}
	got, err := Reverse(testKey, srs1, testNow.Add(500*24*time.Hour)) // SRS1 carries no stamp
	if err != nil || got != first {
		t.Fatalf("Reverse(%q) = %q, %v; want %q", srs1, got, err, first)
	}
	// An SRS1 from a second forwarder: still the first one, our hash.
	second := "SRS1=ZZZZ=fwd1.example=+HhHh=BO=example.com=bob@fwd2.example"
	again := mustForward(t, second, testNow)
	if !regexp.MustCompile(`^SRS1=[A-Z2-7]{4}=fwd1\.example=\+HhHh=BO=example\.com=bob@demo\.example$`).MatchString(again) {
		t.Fatalf("Forward(%q) = %q", second, again)
	}
	got, err = Reverse(testKey, again, testNow)
	if err != nil || got != "SRS0+HhHh=BO=example.com=bob@fwd1.example" {
		t.Fatalf("Reverse(%q) = %q, %v", again, got, err)
	}
	_, err = Forward(testKey, "SRS1=ZZZZ=fwd1.example@fwd2.example", ours, testNow)
	wantKind(t, "malformed SRS1 original", err, errors.Invalid)
}

func TestInvalid(t *testing.T) {
	for _, orig := range []string{"bob", "@example.com", "bob@", "bob@exa=mple.com", "bob@exa mple.com",
		"bo\r\nb@example.com", `"unterminated@example.com`, `"a"b"@example.com`, `""@example.com`,
		strings.Repeat("x", 250) + "@example.com"} {
		_, err := Forward(testKey, orig, ours, testNow)
		wantKind(t, "Forward("+orig+")", err, errors.Invalid)
	}
	_, err := Forward(testKey, "bob@example.com", "bad=domain", testNow)
	wantKind(t, "Forward to a bad domain", err, errors.Invalid)
	_, err = Forward(Key{}, "bob@example.com", ours, testNow)
	wantKind(t, "Forward with a zero key", err, errors.Invalid)
	_, err = Reverse(Key{}, mustForward(t, "bob@example.com", testNow), testNow)
	wantKind(t, "Reverse with a zero key", err, errors.Invalid)

	for _, addr := range []string{"alice@demo.example", "SRS0@demo.example", "SRS0=@demo.example",
		"SRS0=ABCD@demo.example", "SRS0=ABCD=BO@demo.example", "SRS0=ABCD=BO=example.com@demo.example",
		"SRS0=ABCD=BO=example.com=@demo.example", "SRS0=ABCD=B=example.com=bob@demo.example",
		"SRS0=ABCD=B1=example.com=bob@demo.example", "SRS0=ABCD=BO==bob@demo.example",
		"SRS1=ABCD=fwd1.example@demo.example", "SRS1=ABCD=fwd1.example=x@demo.example", "SRS0=ABCD=BO=x=y"} {
		_, err := Reverse(testKey, addr, testNow)
		wantKind(t, "Reverse("+addr+")", err, errors.Invalid)
	}
}

func TestIsSRS(t *testing.T) {
	for local, want := range map[string]bool{
		"SRS0=ABCD=BO=example.com=bob": true,
		"srs0=abcd=bo=example.com=bob": true,
		"SRS1=ABCD=fwd==x":             true,
		"SRS0+x":                       true,
		"SRS0-x":                       true,
		`"SRS0=A=B=c=john doe"`:        true,
		"SRS0":                         false,
		"SRS2=x":                       false,
		"SRS0.x":                       false,
		"bob":                          false,
		"":                             false,
		"xSRS0=":                       false,
	} {
		if got := IsSRS(local); got != want {
			t.Errorf("IsSRS(%q) = %v", local, got)
		}
	}
}
