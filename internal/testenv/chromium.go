package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium browser for tests that drive a
// real browser (github.com/chromedp/chromedp): Debian's chromium package
// (/usr/bin/chromium), or a chromium or chromium-browser on PATH. When
// none is installed the test skips with a clear message, or fails when
// SEALPOST_REQUIRE_TOOLS is set, so CI never skips.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found: install Debian's chromium package (make test does) to run the browser tests"
	if os.Getenv("SEALPOST_REQUIRE_TOOLS") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
