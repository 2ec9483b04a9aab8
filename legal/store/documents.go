package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/errors"
)

// Documents live under the documents folder by their SHA-256:
// <docs>/<first two hex digits>/<all 64 hex digits>. The same bytes filed
// twice are stored once. A file is never changed once written, except to
// replace one found corrupted when the same bytes are filed again.

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// documentPath returns where the document with SHA-256 sum lives. sum must
// have passed isSHA256.
func (s *Store) documentPath(sum string) string {
	return filepath.Join(s.docs, sum[:2], sum)
}

// putDocument writes b (whose SHA-256 is sum) under the documents folder and
// makes it durable: the file and its folder are fsynced. An intact copy
// already there is kept.
func (s *Store) putDocument(sum string, b []byte) error {
	path := s.documentPath(sum)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errors.E(errors.Internal, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return errors.E(errors.Internal, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	// The fan-out folder may itself be new.
	return syncDir(s.docs)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	return nil
}

// readDocument returns the document with SHA-256 sum and the given size,
// verified. Internal if the file is missing or its bytes do not match.
func (s *Store) readDocument(sum string, size int64) ([]byte, error) {
	if !isSHA256(sum) {
		return nil, errors.E(errors.Internal, errors.Errorf("bad stored sha256 %q", sum))
	}
	b, err := os.ReadFile(s.documentPath(sum))
	if errors.IsErr(err, fs.ErrNotExist) {
		return nil, errors.E(errors.Internal, errors.Str("document file is missing"))
	}
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	if int64(len(b)) != size || sha256Hex(b) != sum {
		return nil, errors.E(errors.Internal, errors.Errorf("document file is corrupted: SHA-256 %s, want %s", sha256Hex(b), sum))
	}
	return b, nil
}
