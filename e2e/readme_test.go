package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestREADMESnippet runs the README's "Try it" Python snippet against a demo,
// with the demo's ports put in place of the documented ones, so the first
// thing a newcomer copies keeps working.
func TestREADMESnippet(t *testing.T) {
	py := testenv.NeedTool(t, "python3", "python3")
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)python3 - <<'PY'\n(.*?)\nPY\n").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no python3 heredoc snippet")
	}
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	port := func(name string) string { return d.Addrs[name][strings.LastIndexByte(d.Addrs[name], ':')+1:] }
	script := strings.NewReplacer("2525", port("smtp"), "2465", port("submissions"), "1993", port("imaps")).Replace(string(m[1]))
	out, err := exec.Command(py, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("README snippet: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "hello") || !strings.Contains(string(out), "Subject: hi") {
		t.Fatalf("README snippet printed %q, want the delivered message", out)
	}
}
