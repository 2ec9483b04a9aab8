// Package spill owns the temporary files of data in transit: anonymous
// files (no name, so nothing is left behind when the process dies, however
// it dies) and Buffer, which keeps a small amount in memory and spills the
// rest to such a file. Callers put only ciphertext in them; this package
// neither knows nor checks.
package spill

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sealpost/sealpost/errors"
)

// oTmpFile is Linux's O_TMPFILE (O_TMPFILE | O_DIRECTORY in the kernel's
// headers, 020200000), which the standard library does not name.
const oTmpFile = 0o20200000

// File creates an anonymous file in dir, open for reading and writing.
// Where the file system supports it (Linux's O_TMPFILE: ext4, xfs, btrfs,
// tmpfs) the file never has a name; elsewhere it is created under a random
// name and unlinked at once, so only a crash in between those two system
// calls can leave a name behind (Sweep removes such names). Either way the
// kernel frees its blocks when the last descriptor closes, which a crash
// does too.
func File(dir string) (*os.File, error) {
	const op = "spill.File"
	f, err := Unnamed(dir)
	if err == nil {
		return f, nil
	}
	if !errors.IsErr(err, ErrNoTmpfile) {
		return nil, err
	}
	f, err = os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return nil, errors.E(op, kindOf(err), err)
	}
	if err := os.Remove(f.Name()); err != nil && !os.IsNotExist(err) { // Sweep may have been first
		f.Close()
		return nil, errors.E(op, kindOf(err), err)
	}
	return f, nil
}

// Unnamed creates a file in dir that has no name (O_TMPFILE), open for
// reading and writing, which Link can give a name later. Where the file
// system cannot, the error wraps ErrNoTmpfile.
func Unnamed(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_RDWR|oTmpFile, 0o600)
	if err == nil {
		return f, nil
	}
	if fallback(err) {
		return nil, errors.E("spill.Unnamed", errors.Internal, fmt.Errorf("%s: %w (%v)", dir, ErrNoTmpfile, err))
	}
	return nil, errors.E("spill.Unnamed", kindOf(err), err)
}

// Link gives f, made by Unnamed, the name name (linkat(2) through
// /proc/self/fd, which needs no privilege): it appears whole at once. The
// caller fsyncs f before and name's directory after, for durability.
func Link(f *os.File, name string) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		lerr = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(fd)), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
	}); err != nil {
		return err
	}
	if lerr != nil {
		return &os.LinkError{Op: "linkat", Old: f.Name(), New: name, Err: lerr}
	}
	return nil
}

// ErrNoTmpfile says a file system cannot make unnamed files.
var ErrNoTmpfile = errors.Str("O_TMPFILE not supported")

// tempPrefix begins the names of File's fallback files.
const tempPrefix = ".spill-"

// fallback reports whether O_TMPFILE failed for want of support (an old
// kernel ignores the flag and fails on the directory, a file system
// without it says EOPNOTSUPP), not for a reason a named file would share.
func fallback(err error) bool {
	return errors.IsErr(err, syscall.EOPNOTSUPP) || errors.IsErr(err, syscall.EISDIR) ||
		errors.IsErr(err, syscall.EINVAL)
}

// Sweep removes from dir the names File's fallback may have left behind in
// a crash. Those names live one system call, so any found at start belong
// to a process that died.
func Sweep(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return errors.E("spill.Sweep", errors.Internal, err)
	}
	for _, e := range ents {
		if len(e.Name()) > len(tempPrefix) && e.Name()[:len(tempPrefix)] == tempPrefix {
			os.Remove(dir + string(os.PathSeparator) + e.Name())
		}
	}
	return nil
}

// kindOf classifies a file error: a full disk or quota is Unavailable (the
// sender may retry later), anything else Internal.
func kindOf(err error) errors.Kind {
	if errors.IsErr(err, syscall.ENOSPC) || errors.IsErr(err, syscall.EDQUOT) {
		return errors.Unavailable
	}
	return errors.Internal
}

// KindOf is kindOf for callers writing to a File themselves.
func KindOf(err error) errors.Kind { return kindOf(err) }

// Buffer holds written bytes in memory up to a limit, and past it in an
// anonymous File; then they can be read back as many times as needed. Its
// memory is bounded by the limit whatever is written. Not safe for
// concurrent writes; reads (ReadAt) after the last write may be
// concurrent. Close it to free the file.
type Buffer struct {
	dir   string
	limit int
	max   int64 // 0: no bound
	mem   []byte
	f     *os.File
	n     int64
	err   error // the first write error: final
}

// NewBuffer returns a Buffer keeping up to limit bytes in memory, spilling
// to a File in dir.
func NewBuffer(dir string, limit int) *Buffer {
	return &Buffer{dir: dir, limit: limit}
}

// NewBoundedBuffer is NewBuffer holding at most max bytes in all: a Write
// past it fails with errors.TooLarge (a blob store's bound on one blob).
func NewBoundedBuffer(dir string, limit int, max int64) *Buffer {
	return &Buffer{dir: dir, limit: limit, max: max}
}

// Write appends p. A failure (over the bound: TooLarge; disk full:
// Unavailable) is final: every later Write returns it.
func (b *Buffer) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.max > 0 && b.n+int64(len(p)) > b.max {
		b.err = errors.E("spill.Write", errors.TooLarge, errors.Errorf("over %d bytes", b.max))
		return 0, b.err
	}
	if b.f == nil && len(b.mem)+len(p) <= b.limit {
		b.mem = append(b.mem, p...)
		b.n += int64(len(p))
		return len(p), nil
	}
	if b.f == nil {
		f, err := File(b.dir)
		if err != nil {
			b.err = err
			return 0, err
		}
		b.f = f
		if _, err := f.Write(b.mem); err != nil {
			b.err = errors.E("spill.Write", kindOf(err), err)
			return 0, b.err
		}
		b.mem = nil
	}
	n, err := b.f.Write(p)
	b.n += int64(n)
	if err != nil {
		b.err = errors.E("spill.Write", kindOf(err), err)
		return n, b.err
	}
	return n, nil
}

// Len is the number of bytes written.
func (b *Buffer) Len() int64 { return b.n }

// InMemory returns the bytes when they all fit in memory, else nil, false.
func (b *Buffer) InMemory() ([]byte, bool) {
	if b.f != nil {
		return nil, false
	}
	return b.mem, true
}

// ReadAt reads written bytes at off.
func (b *Buffer) ReadAt(p []byte, off int64) (int, error) {
	if b.f != nil {
		if off+int64(len(p)) > b.n { // never read past what Write accepted
			if off >= b.n {
				return 0, io.EOF
			}
			n, err := b.f.ReadAt(p[:b.n-off], off)
			if err == nil {
				err = io.EOF
			}
			return n, err
		}
		return b.f.ReadAt(p, off)
	}
	return bytes.NewReader(b.mem).ReadAt(p, off)
}

// Reader returns a reader over everything written, from the start.
func (b *Buffer) Reader() *io.SectionReader { return io.NewSectionReader(b, 0, b.n) }

// Err is the error that ended writing: the first failed Write's, or
// ErrClosed after Close; nil while Writes may go on.
func (b *Buffer) Err() error { return b.err }

// ErrClosed is Err after Close.
var ErrClosed = errors.E("spill.Write", errors.Invalid, errors.Str("buffer closed"))

// Close frees the memory and the file; later Writes fail with ErrClosed.
// It may be called more than once.
func (b *Buffer) Close() error {
	if b.err == nil {
		b.err = ErrClosed
	}
	clear(b.mem)
	b.mem = nil
	if b.f != nil {
		f := b.f
		b.f = nil
		return f.Close()
	}
	return nil
}
