package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestSystemdUnit checks contrib/systemd/sealpost.service with systemd's
// own tools: `systemd-analyze verify` finds nothing wrong with it (run
// against the built binary), and `systemd-analyze security` rates its
// exposure at most 2.0 ("OK"), so a change that weakens the sandbox fails
// here.
func TestSystemdUnit(t *testing.T) {
	sa := testenv.NeedTool(t, "systemd-analyze", "systemd")
	unit, err := os.ReadFile(filepath.Join("..", "contrib", "systemd", "sealpost.service"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(unit), "ExecStart=/usr/local/bin/sealpost ", "ExecStart="+testenv.BuildBinary(t)+" ", 1)
	if text == string(unit) {
		t.Fatal("the unit's ExecStart is not /usr/local/bin/sealpost")
	}
	path := filepath.Join(t.TempDir(), "sealpost.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(sa, "security", "--offline=true", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for sealpost\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure level %.1f, want at most 2.0:\n%s", level, out)
	}
}
