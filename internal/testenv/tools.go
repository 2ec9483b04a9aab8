// Package testenv provides what Sealpost's integration tests share: finding
// outside programs (skipping, or failing in CI, when one is missing) and
// running the whole stack in-process on loopback.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// NeedTool returns the path of an outside program the test drives. When it
// is missing the test skips with a clear message, or fails when
// SEALPOST_REQUIRE_TOOLS is set (as .ci/run sets it), so CI never skips.
func NeedTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	missing(t, name+" not found: install Debian's "+pkg+" package (make test does) to run this test")
	return ""
}

// DebianPython is the system's Python 3, the one Debian's python3-*
// packages install modules for (a python3 earlier on PATH, such as
// pyenv's, does not see them).
const DebianPython = "/usr/bin/python3"

// NeedPythonModule returns DebianPython when it can import module, which
// Debian's package pkg provides; otherwise it skips or fails as NeedTool.
func NeedPythonModule(t testing.TB, module, pkg string) string {
	t.Helper()
	if err := exec.Command(DebianPython, "-c", "import "+module).Run(); err != nil {
		missing(t, DebianPython+" cannot import "+module+": install Debian's "+pkg+" package (make test does) to run this test")
	}
	return DebianPython
}

// missing skips the test with msg, or fails it when SEALPOST_REQUIRE_TOOLS
// is set.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("SEALPOST_REQUIRE_TOOLS") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
