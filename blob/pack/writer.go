package pack

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"hash/crc32"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/spill"
)

// A blob written in pieces (Create) waits in a spill.Buffer: up to
// spillMemory bytes in memory, the rest in an anonymous file in the store's
// directory, which has no name and vanishes with the process. Commit then
// appends it as one record, so the segment format is the same as Put's:
//
//   - A blob that stayed in memory is Put: it shares the group sync.
//   - A larger one reserves its record's place at the end of the segment
//     under the append lock, is copied there from the file without the lock
//     (other Puts append after it meanwhile), and then waits for a sync
//     round that began after its last byte was written. A crash during the
//     copy leaves a torn record in the middle of the segment, which no ref
//     names and List steps over as it does over any damaged record.
//
// Nothing is in a segment before Commit, so an aborted or crashed writer
// leaves nothing behind (spill.Sweep at Open removes the name a file system
// without O_TMPFILE may leave).

// spillMemory is how much of a blob a writer keeps in memory.
const spillMemory = 256 << 10

// copyChunk is the size of each read and write of the copy into a segment.
const copyChunk = 256 << 10

// writer is a spill.Buffer bounded to one record's data; Write is the
// buffer's.
type writer struct {
	s *Store
	*spill.Buffer
}

// Create starts a blob written in pieces (sealpost.BlobStore).
func (s *Store) Create(ctx context.Context) (sealpost.BlobWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, errors.E("pack.Create", errors.Unavailable, err)
	}
	return &writer{s, spill.NewBoundedBuffer(s.dir, spillMemory, maxData)}, nil
}

func (w *writer) Abort() { w.Close() }

func (w *writer) Commit(ctx context.Context) (sealpost.BlobRef, error) {
	const op = "pack.Commit"
	defer w.Abort()
	if err := w.Err(); err != nil {
		return "", errors.E(op, err)
	}
	if data, ok := w.InMemory(); ok {
		return w.s.Put(ctx, data)
	}
	ref, err := w.s.putFrom(ctx, w.Buffer)
	if err != nil {
		return "", opErr(op, err)
	}
	return ref, nil
}

// putFrom appends buf as one record (see above) and waits until it is
// durable.
func (s *Store) putFrom(ctx context.Context, buf *spill.Buffer) (sealpost.BlobRef, error) {
	if err := ctx.Err(); err != nil {
		return "", errors.E(errors.Unavailable, err)
	}
	n := buf.Len()
	l := loc{n: uint32(n)}
	if _, err := rand.Read(l.id[:]); err != nil {
		return "", errors.E(errors.Internal, err)
	}
	hdr := make([]byte, headerLen)
	copy(hdr, magic)
	copy(hdr[4:], l.id[:])
	binary.BigEndian.PutUint32(hdr[4+idLen:], uint32(n))

	s.mu.Lock()
	seg, err := s.segmentFor(l.recLen())
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	l.seg, l.off = seg.num, seg.written
	seg.written += l.recLen() // reserved: later records go after it
	s.mu.Unlock()

	if err := writeRecord(seg, l, hdr, buf); err != nil {
		return "", err // the reserved range is garbage, as a torn record
	}
	s.mu.Lock()
	s.dirty[seg] = struct{}{}
	s.records++
	done := s.done // closed by a round whose snapshot comes after the copy
	s.mu.Unlock()
	s.wakeSyncer()
	if err := s.waitSynced(ctx, seg, l.off+l.recLen(), done); err != nil {
		return "", err
	}
	return l.ref(), nil
}

// writeRecord writes the record l names at its offset: header, the data
// copied from buf, CRC.
func writeRecord(seg *segment, l loc, hdr []byte, buf *spill.Buffer) error {
	crc := crc32.Update(0, castagnoli, hdr[4:])
	if _, err := seg.f.WriteAt(hdr, l.off); err != nil {
		return errors.E(spill.KindOf(err), err)
	}
	chunk := make([]byte, copyChunk)
	n := int64(l.n)
	for pos := int64(0); pos < n; {
		m := int(min(int64(len(chunk)), n-pos))
		if _, err := buf.ReadAt(chunk[:m], pos); err != nil {
			return errors.E(errors.Internal, err)
		}
		crc = crc32.Update(crc, castagnoli, chunk[:m])
		if _, err := seg.f.WriteAt(chunk[:m], l.off+headerLen+pos); err != nil {
			return errors.E(spill.KindOf(err), err)
		}
		pos += int64(m)
	}
	var tr [trailerLen]byte
	binary.BigEndian.PutUint32(tr[:], crc)
	if _, err := seg.f.WriteAt(tr[:], l.off+headerLen+n); err != nil {
		return errors.E(spill.KindOf(err), err)
	}
	return nil
}
