//go:build unix

package durable

import (
	"os"
	"syscall"
)

// Lock takes an exclusive lock shared by every process on the file name
// (created 0600 if missing), waiting for it if another holds it, and
// returns the function that releases it. The lock goes with the process:
// a crash cannot leave it held.
func Lock(name string) (unlock func(), err error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
