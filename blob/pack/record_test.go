package pack

import (
	"strings"
	"testing"

	"github.com/sealpost/sealpost"
)

func TestParseRef(t *testing.T) {
	valid := loc{seg: 0x12, off: 0xabcdef012345, n: 0x10000, id: [idLen]byte{0: 0xfe, 15: 0x01}}
	good := string(valid.ref())
	if len(good) != refLen {
		t.Fatalf("ref %q has length %d, want %d", good, len(good), refLen)
	}
	tests := []struct {
		ref string
		ok  bool
	}{
		{good, true},
		{strings.Repeat("0", refLen), true},
		{strings.Repeat("f", refLen), true},
		{strings.ToUpper(good), false},
		{good[:refLen-1], false},
		{good + "0", false},
		{good[:refLen-1] + "g", false},
		{good[:refLen-1] + "/", false},
		{"../" + good[3:], false},
		{"0x" + good[2:], false},
		{"+" + good[1:], false},
		{good[:10] + "_" + good[11:], false},
		{good[:refLen-1] + "\x00", false},
		{"", false},
	}
	for _, tt := range tests {
		l, err := parseRef(sealpost.BlobRef(tt.ref))
		if (err == nil) != tt.ok {
			t.Errorf("parseRef(%q): err %v, want ok=%v", tt.ref, err, tt.ok)
			continue
		}
		if tt.ok && string(l.ref()) != tt.ref {
			t.Errorf("parseRef(%q).ref() = %q", tt.ref, l.ref())
		}
	}
	if l, _ := parseRef(sealpost.BlobRef(good)); l != valid {
		t.Errorf("parseRef(%q) = %+v, want %+v", good, l, valid)
	}
}

// FuzzParseRef checks that no input panics parseRef and that every ref it
// accepts is exactly the encoding of what it decoded.
func FuzzParseRef(f *testing.F) {
	f.Fuzz(func(t *testing.T, ref string) {
		l, err := parseRef(sealpost.BlobRef(ref))
		if err != nil {
			return
		}
		if got := string(l.ref()); got != ref {
			t.Fatalf("parseRef(%q) round-trips to %q", ref, got)
		}
		if l.off < 0 || l.off >= maxOffset || l.recLen() < overhead {
			t.Fatalf("parseRef(%q) = %+v: out of range", ref, l)
		}
	})
}
