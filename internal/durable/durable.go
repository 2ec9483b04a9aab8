// Package durable owns the file-system steps that make data survive a crash:
// creating a private directory, fsyncing a directory so that its entries are
// durable, writing a small file atomically, and locking a file against
// other processes. The blob stores and the server's key files share them.
package durable

import (
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/errors"
)

// PrivateDir creates dir (0700) if needed and checks it is a directory.
func PrivateDir(op, dir string) error {
	if dir == "" {
		return errors.E(op, errors.Invalid, errors.Str("empty directory"))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	if !fi.IsDir() {
		return errors.E(op, errors.Invalid, errors.Errorf("%s is not a directory", dir))
	}
	return nil
}

// SyncDir fsyncs a directory, making the entries in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFile writes a file atomically and durably: a temporary file, fsync,
// rename over name, fsync of the directory.
func WriteFile(name string, data []byte, perm os.FileMode) error {
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(name))
}
