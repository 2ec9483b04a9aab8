// Package fs is a sealpost.BlobStore on a local file system: one file per
// sealed blob, under a directory the operator names.
//
// The store keeps bytes and nothing else: blobs arrive sealed (OpenPGP
// ciphertext) and leave as they came. A ref is 128 random bits in lower-case
// hex; it says nothing about the content. Files fan out into 256
// subdirectories named by the ref's first two hex digits, so no directory
// grows past a few hundred thousand entries for a few tens of millions of
// blobs.
//
// Durability: Put creates the file under its final name with O_EXCL, writes
// it, fsyncs it and fsyncs its directory before returning, so a blob whose ref
// has been handed out survives a crash. A crash during Put can leave a
// partial file whose ref was never returned and so is never referenced; it is
// garbage, not corruption. Delete does not fsync: a delete lost to a crash
// leaves an unreferenced (still sealed) file behind.
//
// Files are created 0600 and directories 0700: only the server's user reads
// them.
package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
)

// refLen is the length of a ref: 128 bits in hex.
const refLen = 32

// Store is a BlobStore over a directory. It is safe for concurrent use.
type Store struct {
	dir string
	// synced records fan-out subdirectories known to exist durably (created
	// and their parent fsynced) in this process.
	synced sync.Map // string -> struct{}
}

var _ sealpost.BlobStore = (*Store)(nil)

// Open opens (creating if needed) a blob store rooted at dir.
func Open(dir string) (*Store, error) {
	const op = "fs.Open"
	if err := durable.PrivateDir(op, dir); err != nil {
		return nil, err
	}
	sweepTemps(dir)
	return &Store{dir: dir}, nil
}

// Dir returns the directory the store was opened on.
func (s *Store) Dir() string { return s.dir }

// validRef reports whether ref has the exact form Put produces: refLen
// lower-case hex digits. Anything else (and so any path separator or "..")
// is refused before it reaches the file system.
func validRef(ref sealpost.BlobRef) bool {
	return len(ref) == refLen && lowerHex(string(ref))
}

// path returns the file name of a valid ref.
func (s *Store) path(ref sealpost.BlobRef) string {
	return filepath.Join(s.dir, string(ref[:2]), string(ref))
}

// Put stores data under a new random ref. The blob is durable when Put
// returns nil.
func (s *Store) Put(ctx context.Context, data []byte) (sealpost.BlobRef, error) {
	const op = "fs.Put"
	if err := ctx.Err(); err != nil {
		return "", errors.E(op, errors.Unavailable, err)
	}
	var b [refLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	ref := sealpost.BlobRef(hex.EncodeToString(b[:]))
	sub := filepath.Join(s.dir, string(ref[:2]))
	if err := s.ensureDir(sub); err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	name := filepath.Join(sub, string(ref))
	if err := writeFile(name, data); err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	// The new directory entry must reach the disk too.
	if err := syncDir(sub); err != nil {
		os.Remove(name)
		return "", errors.E(op, errors.Internal, err)
	}
	return ref, nil
}

// writeFile creates name exclusively, writes data and fsyncs it. On failure
// it removes what it created.
func writeFile(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// ensureDir makes sure the fan-out directory sub exists and that its entry in
// the root directory is durable. The first use in a process always fsyncs
// the root, even when sub already existed: another Put may have created it
// a moment ago and not yet synced the root.
func (s *Store) ensureDir(sub string) error {
	if _, ok := s.synced.Load(sub); ok {
		return nil
	}
	if err := os.Mkdir(sub, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.synced.Store(sub, struct{}{})
	return nil
}

// syncDir fsyncs a directory, making the entries in it durable.
func syncDir(dir string) error { return durable.SyncDir(dir) }

// Get opens a blob for reading; the caller closes it. The result is an
// *os.File. A ref that Put could not have produced is an Invalid error; a
// well-formed ref with no blob is a NotExist error.
func (s *Store) Get(ctx context.Context, ref sealpost.BlobRef) (io.ReadCloser, error) {
	const op = "fs.Get"
	if !validRef(ref) {
		return nil, errors.E(op, errors.Invalid, errors.Str("malformed blob ref"))
	}
	if err := ctx.Err(); err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	f, err := os.Open(s.path(ref))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, errors.E(op, errors.NotExist, errors.Errorf("blob %s", ref))
		}
		return nil, errors.E(op, errors.Internal, err)
	}
	return f, nil
}

// Delete removes a blob. Deleting a missing blob is not an error; a malformed
// ref is an Invalid error.
func (s *Store) Delete(ctx context.Context, ref sealpost.BlobRef) error {
	const op = "fs.Delete"
	if !validRef(ref) {
		return errors.E(op, errors.Invalid, errors.Str("malformed blob ref"))
	}
	if err := ctx.Err(); err != nil {
		return errors.E(op, errors.Unavailable, err)
	}
	if err := os.Remove(s.path(ref)); err != nil && !os.IsNotExist(err) {
		return errors.E(op, errors.Internal, err)
	}
	return nil
}
