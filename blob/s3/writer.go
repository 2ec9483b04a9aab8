package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/spill"
)

// A blob written in pieces (Create) waits in a spill.Buffer, up to
// spillMemory bytes in memory and the rest in an anonymous file in
// Config.SpoolDir (no name: a crash leaves nothing), and Commit sends it
// as one PUT of known length, as Put does: S3 never sees a partial object,
// and minio-go, given an unknown length, would buffer a whole multipart
// part in memory instead.

// spillMemory is how much of a blob a writer keeps in memory.
const spillMemory = 256 << 10

type writer struct {
	s   *Store
	buf *spill.Buffer
	err error
}

// Create starts a blob written in pieces (sealpost.BlobStore).
func (s *Store) Create(ctx context.Context) (sealpost.BlobWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, errors.E("s3.Create", errors.Unavailable, err)
	}
	return &writer{s: s, buf: spill.NewBuffer(s.spool, spillMemory)}, nil
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.buf.Len()+int64(len(p)) > maxPut {
		w.err = errors.E("s3.Write", errors.TooLarge, errors.Errorf("blob over %d bytes", int64(maxPut)))
		return 0, w.err
	}
	n, err := w.buf.Write(p)
	if err != nil {
		w.err = errors.E("s3.Write", errors.KindOf(err), err)
	}
	return n, w.err
}

func (w *writer) Abort() {
	if w.buf != nil {
		w.buf.Close()
		w.buf = nil
	}
	if w.err == nil {
		w.err = errors.E("s3.Write", errors.Invalid, errors.Str("writer finished"))
	}
}

func (w *writer) Commit(ctx context.Context) (sealpost.BlobRef, error) {
	const op = "s3.Commit"
	defer w.Abort()
	if w.err != nil {
		return "", w.err
	}
	var b [refLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	ref := sealpost.BlobRef(hex.EncodeToString(b[:]))
	if err := w.s.putObject(ctx, ref, w.buf.Reader(), w.buf.Len()); err != nil {
		return "", errors.E(op, err)
	}
	return ref, nil
}
