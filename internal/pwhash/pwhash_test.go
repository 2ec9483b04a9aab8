package pwhash

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		p  Params
		ok bool
	}{
		{DefaultParams, true},
		{TestParams, true},
		{Params{Time: 1, MemoryKiB: 8, Threads: 1}, true},
		{Params{Time: 100, MemoryKiB: 4 << 20, Threads: 255}, true},
		{Params{}, false},
		{Params{Time: 0, MemoryKiB: 64, Threads: 1}, false},
		{Params{Time: 101, MemoryKiB: 64, Threads: 1}, false},
		{Params{Time: 1, MemoryKiB: 64, Threads: 0}, false},
		{Params{Time: 1, MemoryKiB: 7, Threads: 1}, false},
		{Params{Time: 1, MemoryKiB: 15, Threads: 2}, false},
		{Params{Time: 1, MemoryKiB: 4<<20 + 1, Threads: 1}, false},
		{Params{Time: 1, MemoryKiB: ^uint32(0), Threads: 1}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: Validate = %v, want ok=%v", tt.p, err, tt.ok)
		}
	}
}

// TestStoredHashes checks PHC strings written by an earlier build: a change
// to the derivation or the format that would lock officers out fails here.
func TestStoredHashes(t *testing.T) {
	const pw = "correct horse battery staple"
	for _, h := range []string{
		"$argon2id$v=19$m=64,t=1,p=1$PEBscV7IzPkJX3BiR3thQg$FTWfXj26aqmcKoIptvwZriZWaZ5Q+okEgfXLBZ4IPJo",
		"$argon2id$v=19$m=128,t=2,p=2$dK4r2cwTCTf1JjjHXc+jUQ$YZOfiAW/5yWRDsozDDFqpc4V49XP38+bayqY9/nS4ls",
	} {
		if ok, err := Check(h, pw); !ok || err != nil {
			t.Errorf("Check(%q) = %v, %v", h, ok, err)
		}
		if ok, err := Check(h, pw+"!"); ok || err != nil {
			t.Errorf("Check(%q) with a wrong password = %v, %v", h, ok, err)
		}
	}
}

func TestHashCheck(t *testing.T) {
	// A hash made with other parameters still checks: they are read from
	// the hash.
	h, err := Hash(Params{Time: 2, MemoryKiB: 128, Threads: 2}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=128,t=2,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h) {
		t.Errorf("hash %q is not PHC argon2id with m=128,t=2,p=2", h)
	}
	if h2, _ := Hash(Params{Time: 2, MemoryKiB: 128, Threads: 2}, "pw"); h2 == h {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if ok, err := Check(h, "pw"); !ok || err != nil {
		t.Errorf("own hash: %v %v", ok, err)
	}
	if ok, err := Check(h, "pW"); ok || err != nil {
		t.Errorf("wrong password: %v %v", ok, err)
	}
	if _, err := Hash(Params{}, "pw"); !errors.Is(errors.Invalid, err) {
		t.Errorf("Hash with zero parameters: %v", err)
	}
	f := strings.Split(h, "$")
	for name, bad := range map[string]string{
		"argon2i":        strings.Replace(h, "argon2id", "argon2i", 1),
		"version 16":     strings.Replace(h, "v=19", "v=16", 1),
		"huge memory":    strings.Join([]string{"", f[1], f[2], "m=99999999,t=1,p=1", f[4], f[5]}, "$"),
		"huge time":      strings.Join([]string{"", f[1], f[2], "m=64,t=1000,p=1", f[4], f[5]}, "$"),
		"zero threads":   strings.Join([]string{"", f[1], f[2], "m=64,t=1,p=0", f[4], f[5]}, "$"),
		"threads 256":    strings.Join([]string{"", f[1], f[2], "m=4096,t=1,p=256", f[4], f[5]}, "$"),
		"bad salt":       strings.Join([]string{"", f[1], f[2], f[3], "!!", f[5]}, "$"),
		"short hash":     strings.Join([]string{"", f[1], f[2], f[3], f[4], "AAAA"}, "$"),
		"missing fields": "$argon2id$v=19",
		"empty":          "",
	} {
		if ok, err := Check(bad, "pw"); ok || !errors.Is(errors.Invalid, err) {
			t.Errorf("%s: %q accepted (%v, %v)", name, bad, ok, err)
		}
	}
}
