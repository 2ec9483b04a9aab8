package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadManifest: whatever a backup folder's MANIFEST.json holds, a
// manifest ReadManifest accepts (parseManifest is its check) names only files inside the folder, so
// Check and Restore never read or write elsewhere.
func FuzzReadManifest(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "manifest-*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const dir = "/backup"
		m, err := parseManifest(data)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			p := filepath.Join(dir, filepath.FromSlash(file.Name))
			if rel, err := filepath.Rel(dir, p); err != nil || rel == "." || strings.HasPrefix(rel, "..") {
				t.Fatalf("accepted %q, which resolves to %s", file.Name, p)
			}
			if file.Size < 0 {
				t.Fatalf("accepted a size of %d", file.Size)
			}
		}
	})
}
