// Package pack is a sealpost.BlobStore that appends blobs to a few large
// segment files and makes them durable with one group fsync for many Puts.
// It exists for ingest throughput: one file per blob (blob/fs) costs a file
// fsync and a directory fsync per message, while here 32 concurrent Puts
// share one fdatasync.
//
// # Layout
//
// A store is a directory (mode 0700) holding a lock file, LOCK, and
// append-only segments seg-00000000.pack, seg-00000001.pack, ... (mode 0600).
// Puts append to the highest-numbered segment; when a record would take it
// past the limit (256 MiB) a new segment is created and the directory
// fsynced. A record is
//
//	magic "SPK1" | id (16 random bytes) | length (uint32) | data | CRC-32C
//
// with the CRC taken over id, length and data and integers big-endian. The
// magic carries the format version.
//
// A ref is 60 lower-case hex digits: segment number (8), record offset (12),
// data length (8) and record id (32). Get needs no index: it reads the
// header at the offset, and serves the data only if magic, id, length and
// CRC all match. The ref says where the blob is and how long it is, never
// what it holds; the random id makes refs unguessable, so a forged or
// mistyped ref names no record (and Delete of it touches nothing).
//
// Delete punches a hole over the record (fallocate FALLOC_FL_PUNCH_HOLE),
// which frees its blocks without moving any other record; the range then
// reads as zeros, which is no record. On a file system without hole
// punching, Delete zeroes the record's magic instead: the blob is gone but
// its space is not reclaimed. Segments are never compacted or removed, even
// when every record in them has been deleted; punched holes take no space.
// Delete does not fsync: a delete lost to a crash leaves a sealed,
// unreferenced record behind, as in blob/fs.
//
// List keeps no index either: it scans the segments for records, counting
// only those whose magic, id, length and CRC check out (so punched, zeroed
// and torn records are skipped), and builds each ref from the record exactly
// as Put did. list.go tells how the scan steps over deleted records and
// resynchronizes after damage.
//
// # Durability
//
// Put writes its record with one pwrite at the end of the current segment
// while holding the append lock, then waits for a group sync: a syncer
// goroutine fdatasyncs every segment with pending writes and wakes each Put
// whose record ended at or before the offset the segment had reached when
// the sync began. Puts arriving during a sync wait for the next one. When
// the store is busy (recent rounds each covered about two records or more),
// the next round starts no sooner than syncDelay (2 ms) after the one
// before it started, so that it covers the records of that time: fsyncs,
// which cost CPU as well as time, are then fewer per record (PostgreSQL's
// commit_delay does the same). A lone writer, or writers that come one
// after another, never wait: no timer, no added latency when idle. Put
// returns a ref only after its round, so:
//
//   - A crash never loses a blob whose Put returned: its bytes, and the file
//     size covering them, were on disk (fdatasync persists the size), and the
//     segment's directory entry was fsynced when the segment was created.
//   - No append overwrites a returned record. Appends go at the file's size,
//     which after a crash is at or past the end of every synced record. A
//     crash mid-append leaves a torn record at the tail, but no ref to it was
//     ever returned; the next process appends after it, and it is garbage.
//   - Get never returns wrong bytes: it checks magic, id, length and CRC, so
//     a torn, zeroed, punched or bit-flipped record is an error (NotExist
//     when the record is plainly gone, Internal when damaged), not data.
//     The CRC guards against accidents, not attackers; the sealed data
//     carries its own OpenPGP integrity check.
//
// If an fdatasync fails, the kernel may already have dropped the pages it
// failed to write, and a later fdatasync can succeed without them. So a
// failure is final for that segment: every Put whose record is in it and not
// yet synced fails, no more records are appended to it, and the next Put
// starts a new segment.
//
// Only one Store may have a directory open at a time; Open takes an
// exclusive flock on LOCK and fails with Exist if another holds it. Segment
// files are opened read-write (Delete punches holes in any of them) when
// first used and stay open until Close.
package pack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
	"github.com/sealpost/sealpost/internal/spill"
)

// defaultLimit is the size past which Put starts a new segment.
const defaultLimit = 256 << 20

// Store is a BlobStore over a directory of pack segments. It is safe for
// concurrent use. Close it to stop its syncer and release the directory.
type Store struct {
	dir   string
	limit int64    // a record that would end past limit starts a new segment
	lock  *os.File // holds the flock on dir/LOCK

	segMu sync.RWMutex
	segs  map[uint32]*segment // open segments; nil after Close

	mu     sync.Mutex // the append lock; guards the fields below and segment progress
	cur    *segment   // where Puts append; nil after a sync failure
	last   uint32     // highest segment number in the directory
	dirty  map[*segment]struct{}
	done   chan struct{} // closed when the next sync round ends
	closed bool

	kick   chan struct{} // wakes the syncer; buffered, one pending kick
	quit   chan struct{} // closed by Close
	exited chan struct{} // closed when the syncer returns

	noPunch atomic.Bool // the file system refused FALLOC_FL_PUNCH_HOLE

	// Group commit's wait (sync.go). records counts the records appended
	// since the last round's snapshot (guarded by mu); company, the
	// moving average of records per round, and lastRound, when the last
	// round started, are the syncer's own.
	records   int
	company   float64
	lastRound time.Time
	syncDelay time.Duration // the least time between rounds when busy; 0: none

	// fsync makes a segment's appended bytes durable: fdatasync, replaced
	// by tests to inject failures.
	fsync func(*os.File) error
}

// segment is one open segment file.
type segment struct {
	num uint32
	f   *os.File
	// Guarded by Store.mu; meaningful for segments written in this process.
	written int64 // end of the last record written: the append offset
	synced  int64 // every byte before it is durable
	err     error // a failed sync; final for this segment
}

var _ sealpost.BlobStore = (*Store)(nil)

// Open opens (creating if needed) a pack store in dir.
func Open(dir string) (*Store, error) { return open(dir, defaultLimit) }

func open(dir string, limit int64) (*Store, error) {
	const op = "pack.Open"
	if err := durable.PrivateDir(op, dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, opErr(op, err)
	}
	// Under the lock no writer of ours is running: any temporary file
	// name left here is a crashed one's (writer.go).
	if err := spill.Sweep(dir); err != nil {
		lock.Close()
		return nil, err
	}
	s := &Store{
		dir:    dir,
		limit:  limit,
		lock:   lock,
		segs:   map[uint32]*segment{},
		dirty:  map[*segment]struct{}{},
		done:   make(chan struct{}),
		kick:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
		fsync:  fdatasync,

		syncDelay: defaultSyncDelay,
	}
	if err := s.openCurrent(); err != nil {
		s.closeFiles()
		return nil, errors.E(op, errors.Internal, err)
	}
	go s.syncLoop()
	return s, nil
}

// openCurrent finds the highest-numbered segment and makes it current,
// appending at its size, or creates the first segment.
func (s *Store) openCurrent() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	found := false
	for _, e := range ents {
		if n, ok := parseSegName(e.Name()); ok && (!found || n > s.last) {
			s.last, found = n, true
		}
	}
	if !found {
		seg, err := s.createSegment(0)
		if err != nil {
			return err
		}
		s.cur = seg
		return nil
	}
	f, err := os.OpenFile(s.segPath(s.last), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	size := fi.Size()
	s.cur = &segment{num: s.last, f: f, written: size, synced: size}
	s.segs[s.last] = s.cur
	return nil
}

// segPath returns the file name of segment num.
func (s *Store) segPath(num uint32) string {
	return filepath.Join(s.dir, fmt.Sprintf("seg-%08d.pack", num))
}

// parseSegName returns the number of a segment file name, accepting only
// names segPath produces.
func parseSegName(name string) (uint32, bool) {
	digits, ok := strings.CutPrefix(name, "seg-")
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, ".pack"); !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || fmt.Sprintf("seg-%08d.pack", n) != name {
		return 0, false
	}
	return uint32(n), true
}

// createSegment creates segment num, registers it and makes its directory
// entry durable. The caller holds s.mu or has not started the syncer.
func (s *Store) createSegment(num uint32) (*segment, error) {
	s.segMu.Lock()
	if s.segs == nil {
		s.segMu.Unlock()
		return nil, os.ErrClosed
	}
	f, err := os.OpenFile(s.segPath(num), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		s.segMu.Unlock()
		return nil, err
	}
	seg := &segment{num: num, f: f}
	s.segs[num] = seg
	s.segMu.Unlock()
	if err := syncDir(s.dir); err != nil {
		s.segMu.Lock()
		delete(s.segs, num)
		s.segMu.Unlock()
		f.Close()
		os.Remove(s.segPath(num))
		return nil, err
	}
	s.last = num
	return seg, nil
}

// segFile returns the open file of segment num, opening it if needed. A
// segment that does not exist is a NotExist error.
func (s *Store) segFile(num uint32) (*os.File, error) {
	s.segMu.RLock()
	segs := s.segs
	seg := segs[num]
	s.segMu.RUnlock()
	if segs == nil {
		return nil, errors.E(errors.Unavailable, errors.Str("store closed"))
	}
	if seg != nil {
		return seg.f, nil
	}
	s.segMu.Lock()
	defer s.segMu.Unlock()
	if s.segs == nil {
		return nil, errors.E(errors.Unavailable, errors.Str("store closed"))
	}
	if seg := s.segs[num]; seg != nil {
		return seg.f, nil
	}
	f, err := os.OpenFile(s.segPath(num), os.O_RDWR, 0)
	if os.IsNotExist(err) {
		return nil, errors.E(errors.NotExist, errors.Errorf("segment %d", num))
	} else if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	s.segs[num] = &segment{num: num, f: f}
	return f, nil
}

// Put stores data under a new ref. The blob is durable when Put returns nil.
// Put copies data; the caller may reuse it at once. If ctx ends while Put
// waits for the sync, Put returns an error and the record, if it reaches the
// disk, is unreferenced garbage.
func (s *Store) Put(ctx context.Context, data []byte) (sealpost.BlobRef, error) {
	const op = "pack.Put"
	if err := ctx.Err(); err != nil {
		return "", errors.E(op, errors.Unavailable, err)
	}
	if int64(len(data)) > maxData {
		return "", errors.E(op, errors.TooLarge, errors.Errorf("blob of %d bytes", len(data)))
	}
	rec, id, err := newRecord(data)
	if err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	l := loc{n: uint32(len(data)), id: id}

	s.mu.Lock()
	seg, err := s.appendLocked(rec)
	if err != nil {
		s.mu.Unlock()
		return "", opErr(op, err)
	}
	l.seg, l.off = seg.num, seg.written-int64(len(rec))
	end := seg.written
	s.dirty[seg] = struct{}{}
	s.records++
	done := s.done
	s.mu.Unlock()
	s.wakeSyncer()

	if err := s.waitSynced(ctx, seg, end, done); err != nil {
		return "", opErr(op, err)
	}
	return l.ref(), nil
}

// appendLocked writes rec at the end of the current segment, starting a new
// segment first if needed, and returns the segment written. s.mu is held.
func (s *Store) appendLocked(rec []byte) (*segment, error) {
	n := int64(len(rec))
	seg, err := s.segmentFor(n)
	if err != nil {
		return nil, err
	}
	if _, err := seg.f.WriteAt(rec, seg.written); err != nil {
		// Whatever part was written is unreferenced; the next record
		// overwrites it.
		return nil, errors.E(errors.Internal, err)
	}
	seg.written += n
	return seg, nil
}

// segmentFor returns the segment a record of n bytes goes to: the current
// one, or a new one when the record would take the current one past the
// limit. s.mu is held.
func (s *Store) segmentFor(n int64) (*segment, error) {
	if s.closed {
		return nil, errors.E(errors.Unavailable, errors.Str("store closed"))
	}
	if s.cur == nil || s.cur.written > 0 && s.cur.written+n > s.limit || s.cur.written+n > maxOffset {
		if s.last == ^uint32(0) {
			return nil, errors.E(errors.Internal, errors.Str("out of segment numbers"))
		}
		seg, err := s.createSegment(s.last + 1)
		if err != nil {
			return nil, errors.E(errors.Internal, err)
		}
		s.cur = seg
	}
	return s.cur, nil
}

// Get returns a reader over a blob's bytes, which it has read whole and
// checked. A malformed ref is an Invalid error; a well-formed ref naming no
// record (never written, or deleted) is a NotExist error; a damaged record is
// an Internal error.
func (s *Store) Get(ctx context.Context, ref sealpost.BlobRef) (io.ReadCloser, error) {
	const op = "pack.Get"
	l, err := parseRef(ref)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	data, err := s.read(l)
	if err != nil {
		return nil, opErr(op, err)
	}
	return blobReader{bytes.NewReader(data), data}, nil
}

// blobReader is the checked blob in memory. Bytes hands it to a caller that
// wants it whole without another copy; Len lets others allocate once.
type blobReader struct {
	*bytes.Reader
	data []byte
}

// Bytes returns the whole blob; the caller owns it.
func (b blobReader) Bytes() []byte { return b.data }

func (blobReader) Close() error { return nil }

// read returns the data of the record l names, checked.
func (s *Store) read(l loc) ([]byte, error) {
	f, err := s.segFile(l.seg)
	if err != nil {
		return nil, err
	}
	hdr, st, err := readHeader(f, l)
	if err == nil {
		err = stateErr(st, l)
	}
	if err != nil {
		return nil, err
	}
	rest := make([]byte, int64(l.n)+trailerLen)
	if _, err := f.ReadAt(rest, l.off+headerLen); err == io.EOF {
		return nil, errors.E(errors.Internal, errors.Errorf("blob %s: record truncated", l.ref()))
	} else if err != nil {
		return nil, ioErr(err)
	}
	if !checksumOK(hdr, rest) {
		// A concurrent Delete may have punched the record mid-read.
		if _, st, err := readHeader(f, l); err == nil && st == headerAbsent {
			return nil, stateErr(st, l)
		}
		return nil, errors.E(errors.Internal, errors.Errorf("blob %s: checksum mismatch", l.ref()))
	}
	return rest[:l.n], nil
}

// readHeader reads the header at l's offset and compares it with l. Past
// the end of the file there is no record.
func readHeader(f *os.File, l loc) ([]byte, headerState, error) {
	hdr := make([]byte, headerLen)
	if _, err := f.ReadAt(hdr, l.off); err == io.EOF {
		return nil, headerAbsent, nil
	} else if err != nil {
		return nil, 0, ioErr(err)
	}
	return hdr, checkHeader(hdr, l), nil
}

// stateErr is the error Get reports for a header state.
func stateErr(st headerState, l loc) error {
	switch st {
	case headerAbsent:
		return errors.E(errors.NotExist, errors.Errorf("blob %s", l.ref()))
	case headerCorrupt:
		return errors.E(errors.Internal, errors.Errorf("blob %s: length mismatch", l.ref()))
	}
	return nil
}

// ioErr classifies an I/O error on a segment file.
func ioErr(err error) error {
	if errors.IsErr(err, os.ErrClosed) {
		return errors.E(errors.Unavailable, errors.Str("store closed"))
	}
	return errors.E(errors.Internal, err)
}

// Delete removes a blob, freeing its space where the file system can punch
// holes. Deleting a missing or already deleted blob is not an error; a
// malformed ref is an Invalid error. A well-formed ref whose record id does
// not match the bytes at its offset names nothing, and Delete leaves those
// bytes alone.
func (s *Store) Delete(ctx context.Context, ref sealpost.BlobRef) error {
	const op = "pack.Delete"
	l, err := parseRef(ref)
	if err != nil {
		return errors.E(op, errors.Invalid, err)
	}
	if err := ctx.Err(); err != nil {
		return errors.E(op, errors.Unavailable, err)
	}
	f, err := s.segFile(l.seg)
	if errors.Is(errors.NotExist, err) {
		return nil
	} else if err != nil {
		return opErr(op, err)
	}
	_, st, err := readHeader(f, l)
	if err != nil {
		return opErr(op, err)
	}
	switch st {
	case headerAbsent:
		return nil
	case headerCorrupt:
		// Our id but a damaged length: which length is right is unknown,
		// so punch nothing (that might reach a neighbour); zero the magic.
		err = zeroMagic(f, l)
	default:
		err = s.erase(f, l)
	}
	if err != nil {
		return errors.E(op, ioErr(err))
	}
	return nil
}

// Close waits for pending Puts to be synced, stops the syncer and closes the
// files. Later Puts, Gets and Deletes fail with an Unavailable error; a
// second Close does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	<-s.exited
	if err := s.closeFiles(); err != nil {
		return errors.E("pack.Close", errors.Internal, err)
	}
	return nil
}

// closeFiles closes every segment and releases the directory lock.
func (s *Store) closeFiles() error {
	s.segMu.Lock()
	segs := s.segs
	s.segs = nil
	s.segMu.Unlock()
	var first error
	for _, seg := range segs {
		if err := seg.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	if err := s.lock.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// opErr names op in err, an error built below the API without an Op, keeping
// its kind and cause.
func opErr(op string, err error) error {
	var e *errors.Error
	if errors.As(err, &e) && e.Op == "" {
		return errors.E(op, e.Kind, e.Err)
	}
	return errors.E(op, err)
}
