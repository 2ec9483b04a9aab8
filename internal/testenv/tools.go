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
	msg := name + " not found: install Debian's " + pkg + " package (make test does) to run this test"
	if os.Getenv("SEALPOST_REQUIRE_TOOLS") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// missing skips the test for want of what (or fails it when
// SEALPOST_REQUIRE_TOOLS is set).
func missing(t testing.TB, what string) {
	t.Helper()
	msg := "this test needs " + what
	if os.Getenv("SEALPOST_REQUIRE_TOOLS") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
