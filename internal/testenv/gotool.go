package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// goTool returns the path of a Go program the tests run as a process:
// name on PATH, else dir/name, else built there once with go install
// pkg@version (a minute or two). scripts/test.sh builds the same versions
// into the same folders.
func goTool(name, pkg, version, dir string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	bin := filepath.Join(dir, name)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	if err := buildGoTool(name, pkg, version, dir); err != nil {
		return "", err
	}
	return bin, nil
}

// buildGoTool installs pkg@version into dir. Test binaries of several
// packages may do so at once: an flock on dir/.lock makes one build while
// the others wait, and the binary is built beside its final name and
// renamed into place, so nobody runs a half-written file.
func buildGoTool(name, pkg, version, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err == nil {
		return nil // another process built it while we waited
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", pkg+"@"+version)
	// Outside any module, with the caller's proxy settings but not its
	// GOFLAGS (a -mod flag there is meant for this module, not the tool's).
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	fmt.Fprintf(os.Stderr, "testenv: building %s %s into %s (once; a minute or two)\n", name, version, dir)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s@%s: %v\n%s", pkg, version, err, tail(out.Bytes(), 2000))
	}
	return os.Rename(filepath.Join(tmp, name), bin)
}

// toolDir returns the folder a built tool is cached in:
// $XDG_CACHE_HOME (or ~/.cache)/sealpost-test/NAME-VERSION.
func toolDir(name, version string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "sealpost-test", name+"-"+version), nil
}
