//go:build !unix

package tlog

import "os"

// lockFile is a no-op where flock is unavailable: run one process per log.
func lockFile(f *os.File) error { return nil }

func unlockFile(f *os.File) {}
