package srs

import (
	"strings"
	"testing"
)

// FuzzReverse feeds Reverse untrusted addresses (a RCPT TO at our MX),
// and uses the same input as an original to check the round trip. Seeds:
// testdata/fuzz/FuzzReverse.
func FuzzReverse(f *testing.F) {
	for _, s := range []string{
		"SRS0=ABCD=BO=example.com=bob@demo.example",
		mustSeed(f, "bob@example.com"),
		mustSeed(f, `"john doe"@example.com`),
		mustSeed(f, "SRS0=HhHh=BO=example.com=bob@fwd1.example"),
		"SRS1=ABCD=fwd1.example==HHHH=BO=example.com=bob@demo.example",
		`"SRS0=ABCD=BO=example.com=a\"b"@demo.example`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got, err := Reverse(testKey, addr, testNow)
		if err == nil {
			if _, _, serr := split(got); serr != nil {
				t.Fatalf("Reverse(%q) = %q, which does not parse: %v", addr, got, serr)
			}
		}
		fwd, err := Forward(testKey, addr, ours, testNow)
		if err != nil || fwd == addr || fwd == "" {
			return
		}
		if len(fwd) > maxPath {
			t.Fatalf("Forward(%q) = %q: %d octets", addr, fwd, len(fwd))
		}
		back, err := Reverse(testKey, fwd, testNow)
		if err != nil {
			t.Fatalf("Reverse(Forward(%q) = %q): %v", addr, fwd, err)
		}
		local, domain, _ := split(addr)
		tag, _ := srsTag(local)
		switch want := quote(local) + "@" + domain; tag {
		case "":
			if back != want {
				t.Fatalf("Reverse(Forward(%q)) = %q, want %q", addr, back, want)
			}
		case tag0: // the tag's case is not kept
			if !strings.EqualFold(back, want) {
				t.Fatalf("Reverse(Forward(%q)) = %q, want %q", addr, back, want)
			}
		}
	})
}

func mustSeed(f *testing.F, orig string) string {
	s, err := Forward(testKey, orig, ours, testNow)
	if err != nil {
		f.Fatal(err)
	}
	return s
}
