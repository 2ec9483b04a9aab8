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

// writer is a spill.Buffer bounded to one PUT; Write is the buffer's.
type writer struct {
	s *Store
	*spill.Buffer
}

// Create starts a blob written in pieces (sealpost.BlobStore).
func (s *Store) Create(ctx context.Context) (sealpost.BlobWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, errors.E("s3.Create", errors.Unavailable, err)
	}
	return &writer{s, spill.NewBoundedBuffer(s.spool, spillMemory, maxPut)}, nil
}

func (w *writer) Abort() { w.Close() }

func (w *writer) Commit(ctx context.Context) (sealpost.BlobRef, error) {
	const op = "s3.Commit"
	defer w.Abort()
	if err := w.Err(); err != nil {
		return "", errors.E(op, err)
	}
	var b [refLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	ref := sealpost.BlobRef(hex.EncodeToString(b[:]))
	if err := w.s.putObject(ctx, ref, w.Reader(), w.Len()); err != nil {
		return "", errors.E(op, err)
	}
	return ref, nil
}
