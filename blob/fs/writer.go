package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/spill"
)

// A blob written in pieces (Create) goes straight to a file with no name
// (O_TMPFILE) in its fan-out directory; Commit fsyncs it, links it under
// its ref (it appears whole, at once) and fsyncs the directory. A crash
// before that leaves nothing: the kernel frees an unnamed file with its
// last descriptor. Where the file system cannot make unnamed files, the
// writer uses a named file in the store's root, "tmp-" and 32 hex digits
// (never a ref, so List skips it), renamed at Commit and removed at Abort;
// Open removes such names older than staleTemp, which only a crash leaves.

// tempPrefix begins the names of the fallback's temporary files.
const tempPrefix = "tmp-"

// staleTemp is the age past which Open takes a temporary name for a
// crashed writer's: a writer lives as long as one message takes to seal.
const staleTemp = time.Hour

type writer struct {
	s     *Store
	ref   sealpost.BlobRef
	f     *os.File
	named string // the fallback's temporary name, "" for an unnamed file
	err   error
}

// Create starts a blob written in pieces (sealpost.BlobStore).
func (s *Store) Create(ctx context.Context) (sealpost.BlobWriter, error) {
	const op = "fs.Create"
	if err := ctx.Err(); err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	var b [refLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	ref := sealpost.BlobRef(hex.EncodeToString(b[:]))
	sub := filepath.Join(s.dir, string(ref[:2]))
	if err := s.ensureDir(sub); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	w := &writer{s: s, ref: ref}
	f, err := spill.Unnamed(sub)
	if errors.IsErr(err, spill.ErrNoTmpfile) {
		var rnd [16]byte
		rand.Read(rnd[:])
		w.named = filepath.Join(s.dir, tempPrefix+hex.EncodeToString(rnd[:]))
		f, err = os.OpenFile(w.named, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return nil, errors.E(op, spill.KindOf(err), err)
	}
	w.f = f
	return w, nil
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.err = errors.E("fs.Write", spill.KindOf(err), err)
	}
	return n, w.err
}

func (w *writer) Abort() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
		if w.named != "" {
			os.Remove(w.named)
		}
	}
	if w.err == nil {
		w.err = errors.E("fs.Write", errors.Invalid, errors.Str("writer finished"))
	}
}

func (w *writer) Commit(ctx context.Context) (sealpost.BlobRef, error) {
	const op = "fs.Commit"
	defer w.Abort()
	if w.err != nil {
		return "", w.err
	}
	if err := ctx.Err(); err != nil {
		return "", errors.E(op, errors.Unavailable, err)
	}
	if err := w.f.Sync(); err != nil {
		return "", errors.E(op, spill.KindOf(err), err)
	}
	name := w.s.path(w.ref)
	var err error
	if w.named == "" {
		err = spill.Link(w.f, name)
	} else {
		err = os.Rename(w.named, name)
		if err == nil {
			w.named = ""
		}
	}
	if err != nil {
		return "", errors.E(op, spill.KindOf(err), err)
	}
	if err := syncDir(filepath.Dir(name)); err != nil {
		os.Remove(name)
		return "", errors.E(op, errors.Internal, err)
	}
	return w.ref, nil
}

// sweepTemps removes the fallback's temporary files that a crash left.
func sweepTemps(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
