package pack

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// List has no index to read: it scans the segments, in order, for records.
//
// At each offset where a record is expected (the start of a segment, or the
// end of the record before), the scan reads a header. A header whose magic,
// length and CRC check out is a record: listed if its magic is intact,
// skipped whole if its magic was zeroed by a Delete (the CRC does not cover
// the magic, so a zeroed record still proves its own length). Anything else
// (a punched hole, a torn tail, a damaged record) names no blob, and the
// scan resynchronizes: it looks for the next "SPK1" from one byte further on,
// skipping holes with SEEK_DATA, and checks the header found there in the
// same way. A ref is built from exactly what Get checks (segment, offset,
// length, id), so Get serves every listed ref unless it is deleted meanwhile.
//
// Resynchronizing reads through bytes that are not a record; if those bytes
// happen to hold a whole, CRC-correct record (sealed data that contains one
// by a 2^-32 chance, or on purpose), List reports it as a blob. Such a ref
// was never returned by Put and no account references it, which is what the
// residency audit looks for; deleting it punches a hole inside garbage.

// scanWindow is how much of a segment List reads at a time.
const scanWindow = 1 << 20

// List calls fn with the ref of every record in the store, segment by
// segment in file order, stopping at fn's first error and returning it
// unchanged. Records appended or deleted during List may or may not be seen;
// a record whose Put has not yet returned may be listed.
func (s *Store) List(ctx context.Context, fn func(sealpost.BlobRef) error) error {
	const op = "pack.List"
	if err := ctx.Err(); err != nil {
		return errors.E(op, errors.Unavailable, err)
	}
	nums, err := s.segNums()
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	var stop error // fn's error, returned as it is
	emit := func(l loc) error {
		stop = fn(l.ref())
		return stop
	}
	for _, num := range nums {
		f, err := s.segFile(num)
		if errors.Is(errors.NotExist, err) {
			continue
		} else if err != nil {
			return opErr(op, err)
		}
		end, err := s.scanEnd(num, f)
		if err != nil {
			return errors.E(op, ioErr(err))
		}
		sc := &scanner{f: f, num: num, end: end, buf: make([]byte, 0, scanWindow)}
		if err := sc.scan(ctx, emit); err != nil {
			if stop != nil {
				return stop
			}
			return opErr(op, err)
		}
	}
	return nil
}

// segNums returns the numbers of the segment files in the directory, in
// ascending order.
func (s *Store) segNums() ([]uint32, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var nums []uint32
	for _, e := range ents {
		if n, ok := parseSegName(e.Name()); ok {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums, nil
}

// scanEnd returns how far into segment num List reads. Records are appended
// only to the current segment and only under s.mu, so its written offset,
// taken under the lock, covers whole records only; any other segment gets no
// more appends and its size is final.
func (s *Store) scanEnd(num uint32, f *os.File) (int64, error) {
	s.mu.Lock()
	if s.cur != nil && s.cur.num == num {
		end := s.cur.written
		s.mu.Unlock()
		return end, nil
	}
	s.mu.Unlock()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// scanner reads one segment up to end through a window buffer.
type scanner struct {
	f   *os.File
	num uint32
	end int64
	buf []byte // the window: the file's bytes from off
	off int64
}

// scan calls emit with every live record, as described above List.
func (sc *scanner) scan(ctx context.Context, emit func(loc) error) error {
	pos := int64(0)
	for pos+overhead <= sc.end {
		if err := ctx.Err(); err != nil {
			return errors.E(errors.Unavailable, err)
		}
		l, live, ok, err := sc.recordAt(pos)
		if err != nil {
			return err
		}
		if ok {
			if live {
				if err := emit(l); err != nil {
					return err
				}
			}
			pos += l.recLen()
			continue
		}
		if pos, err = sc.nextMagic(pos + 1); err != nil || pos < 0 {
			return err
		}
	}
	return nil
}

// recordAt checks the bytes at pos. ok reports a whole record there, with
// a CRC that matches; live, that its magic is intact (not deleted).
func (sc *scanner) recordAt(pos int64) (l loc, live, ok bool, err error) {
	hdr, err := sc.bytes(pos, headerLen)
	if err != nil {
		return l, false, false, err
	}
	live = string(hdr[:4]) == magic
	copy(l.id[:], hdr[4:4+idLen])
	if !live && (!zero(hdr[:4]) || zero(l.id[:])) {
		// Neither a record nor a deleted one whose id survived: a hole
		// reads as zeros throughout.
		return l, false, false, nil
	}
	l.seg, l.off, l.n = sc.num, pos, binary.BigEndian.Uint32(hdr[4+idLen:headerLen])
	if pos+l.recLen() > sc.end {
		return l, false, false, nil // a torn tail, or not a header
	}
	crc := crc32.Update(0, castagnoli, hdr[4:headerLen])
	for p, rest := pos+headerLen, int64(l.n); rest > 0; {
		k := min(rest, scanWindow)
		b, err := sc.bytes(p, int(k))
		if err != nil {
			return l, false, false, err
		}
		crc = crc32.Update(crc, castagnoli, b)
		p, rest = p+k, rest-k
	}
	tr, err := sc.bytes(pos+headerLen+int64(l.n), trailerLen)
	if err != nil {
		return l, false, false, err
	}
	return l, live, crc == binary.BigEndian.Uint32(tr), nil
}

// nextMagic returns the offset of the first live magic at or after from
// with room for a record header, or -1 if there is none.
func (sc *scanner) nextMagic(from int64) (int64, error) {
	for from+overhead <= sc.end {
		// Holes read as zeros and hold no magic: jump over them.
		data, err := seekData(sc.f, from)
		if err != nil {
			return 0, err
		}
		if data < 0 {
			return -1, nil
		}
		from = max(from, data)
		if from+overhead > sc.end {
			break
		}
		b, err := sc.bytes(from, int(min(scanWindow, sc.end-from)))
		if err != nil {
			return 0, err
		}
		if i := bytes.Index(b, []byte(magic)); i >= 0 {
			return from + int64(i), nil
		}
		// A magic may straddle the window's end.
		from += int64(len(b) - (len(magic) - 1))
	}
	return -1, nil
}

// bytes returns the n (at most scanWindow) bytes at off, which the caller
// has checked lie before sc.end. The slice is valid until the next call.
func (sc *scanner) bytes(off int64, n int) ([]byte, error) {
	if off >= sc.off && off+int64(n) <= sc.off+int64(len(sc.buf)) {
		i := off - sc.off
		return sc.buf[i : i+int64(n)], nil
	}
	sc.buf = sc.buf[:min(int64(cap(sc.buf)), sc.end-off)]
	sc.off = off
	if _, err := sc.f.ReadAt(sc.buf, off); err != nil {
		// Segments never shrink; a short read means someone truncated one.
		sc.buf = sc.buf[:0]
		return nil, ioErr(err)
	}
	return sc.buf[:n], nil
}

// zero reports whether b is all zero bytes.
func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// seekData returns the offset of the first byte at or after off that is
// not in a hole, -1 when only holes follow, or off itself when the file
// system cannot tell.
func seekData(f *os.File, off int64) (int64, error) {
	var pos int64
	err := control(f, func(fd int) error {
		var err error
		pos, err = unix.Seek(fd, off, unix.SEEK_DATA)
		return err
	})
	switch {
	case err == nil:
		return pos, nil
	case errors.IsErr(err, unix.ENXIO):
		return -1, nil
	case errors.IsErr(err, unix.EINVAL), errors.IsErr(err, unix.EOPNOTSUPP):
		return off, nil
	}
	return 0, ioErr(err)
}
