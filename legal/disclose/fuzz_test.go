package disclose

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

// The seed corpus (testdata/fuzz/FuzzVerify) holds packages signed with
// testKey, so mutations of them get past the signature check into the
// manifest and entry checks. Refresh it with
//
//	go test ./legal/disclose -run TestSeeds -update
var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata")

var seedDir = filepath.Join("testdata", "fuzz", "FuzzVerify")

// seeds returns the seed packages by file name. The first is a complete,
// valid package.
func seeds(t testing.TB) map[string][]byte {
	valid := buildPackage(t, testManifest(), testFiles())
	small := buildPackage(t, testManifest(), []File{{Name: "subscriber.json", Data: []byte("[]\n")}})
	es := readEntries(t, small)
	return map[string][]byte{
		"valid":        valid,
		"small":        small,
		"empty-files":  buildPackage(t, testManifest(), nil),
		"truncated":    valid[:len(valid)/2],
		"unlisted":     writeEntries(t, append(slices.Clone(es), entry{hdr: es[2].hdr, data: []byte("x")})),
		"no-signature": writeEntries(t, append(slices.Clone(es[:1]), es[2:]...)),
		"empty":        {},
	}
}

// TestSeeds checks that the stored seeds are what this version builds, so
// that a valid seed really is valid; with -update it rewrites them.
func TestSeeds(t *testing.T) {
	for name, data := range seeds(t) {
		path := filepath.Join(seedDir, name)
		text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if *update {
			if err := os.MkdirAll(seedDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		stored, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (regenerate with: go test ./legal/disclose -run TestSeeds -update)", err)
		}
		if string(stored) != text {
			t.Errorf("seed %s differs from what this version builds: the package format changed? (regenerate with -update)", name)
		}
	}
	valid := seeds(t)["valid"]
	if _, err := Verify(bytes.NewReader(valid), testPub()); err != nil {
		t.Fatalf("valid seed: %v", err)
	}
}

// FuzzVerify feeds arbitrary bytes to Verify: it never panics, fails with
// a kind callers can act on, and whatever it accepts is a well-formed
// manifest.
func FuzzVerify(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxFiles: 1000, MaxManifest: 1 << 20, MaxTotal: 1 << 24}
		m, err := VerifyLimits(bytes.NewReader(data), testPub(), lim)
		if err != nil {
			if k := errors.KindOf(err); k != errors.Invalid && k != errors.TooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if m.Format != Format || m.SigningKey != EncodePublicKey(testPub()) {
			t.Fatalf("accepted manifest %+v", m)
		}
		for i, f := range m.Files {
			if checkName(f.Name) != "" || i > 0 && m.Files[i-1].Name >= f.Name {
				t.Fatalf("accepted manifest lists %q", f.Name)
			}
		}
	})
}
