//go:build unix

package tlog

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock on f, so that two
// processes never append to one log.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }

func unlockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
