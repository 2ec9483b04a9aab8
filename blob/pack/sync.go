package pack

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
)

// Group commit. Put marks its segment dirty and takes s.done in the same
// critical section in which it appends, then kicks the syncer. The syncer,
// in a loop, takes a snapshot under s.mu (for each dirty segment the offset
// written so far; the dirty set emptied; s.done swapped for a fresh
// channel), fdatasyncs the snapshot's segments without the lock, records the
// synced offsets and closes the old done channel. Every Put that took that
// channel appended before the snapshot, so the sync covered its record.
// Puts that append during a sync take the fresh channel and their kick makes
// the syncer go again as soon as it finishes, or, when the store is busy,
// once gather has let syncDelay pass since the last round began (see the
// package doc).

// defaultSyncDelay is the least time between the starts of two rounds
// when the store is busy. Here (ext4 on a virtual disk) an fdatasync takes
// about 0.3 ms and 0.13 ms of the caller's CPU; at 32 connections rounds
// came every 1–2 ms and covered 2–4 records, fewer as each message's own
// work grew (docs/BENCHMARKS.md).
const defaultSyncDelay = 2 * time.Millisecond

// busyCompany is the moving average of records per round from which the
// store is busy: rounds already cover more than one writer, so more are
// on their way and worth waiting for.
const busyCompany = 1.5

// wakeSyncer asks for a sync round. At most one kick is pending: the round
// it starts covers every record written before it begins.
func (s *Store) wakeSyncer() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// syncLoop runs sync rounds until Close, then one last round so that no
// waiting Put is left behind.
func (s *Store) syncLoop() {
	defer close(s.exited)
	for {
		select {
		case <-s.kick:
			s.gather()
			s.lastRound = time.Now()
			s.syncRound()
		case <-s.quit:
			s.syncRound()
			return
		}
	}
}

// gather waits, before a round, when the store is busy, until
// s.syncDelay has passed since the last round started, or the store is
// closing. A store that is not busy never waits.
func (s *Store) gather() {
	if s.syncDelay <= 0 || s.company < busyCompany {
		return
	}
	w := time.Until(s.lastRound.Add(s.syncDelay))
	if w <= 0 {
		return
	}
	t := time.NewTimer(w)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.quit:
	}
}

// syncRound makes durable everything written before it starts.
func (s *Store) syncRound() {
	type job struct {
		seg  *segment
		upto int64
		err  error
	}
	s.mu.Lock()
	jobs := make([]job, 0, len(s.dirty))
	for seg := range s.dirty {
		if seg.err == nil {
			jobs = append(jobs, job{seg: seg, upto: seg.written})
		}
	}
	clear(s.dirty)
	done := s.done
	s.done = make(chan struct{})
	n := s.records
	s.records = 0
	s.mu.Unlock()
	if n > 0 { // a kick that found nothing new says nothing of the load
		s.company = 0.75*s.company + 0.25*float64(n)
	}

	for i := range jobs {
		jobs[i].err = s.fsync(jobs[i].seg.f)
	}

	s.mu.Lock()
	for _, j := range jobs {
		if j.err != nil {
			// Final for this segment: see the package doc.
			j.seg.err = j.err
			if s.cur == j.seg {
				s.cur = nil
			}
			continue
		}
		j.seg.synced = max(j.seg.synced, j.upto)
	}
	s.mu.Unlock()
	close(done)
}

// waitSynced waits until seg is durable up to end. done is the channel Put
// took when it appended.
func (s *Store) waitSynced(ctx context.Context, seg *segment, end int64, done chan struct{}) error {
	for {
		select {
		case <-done:
		case <-ctx.Done():
			return errors.E(errors.Unavailable, ctx.Err())
		}
		s.mu.Lock()
		switch {
		case seg.synced >= end:
			s.mu.Unlock()
			return nil
		case seg.err != nil:
			err := seg.err
			s.mu.Unlock()
			return errors.E(errors.Internal, errors.Errorf("sync segment %d: %w", seg.num, err))
		case s.closed:
			s.mu.Unlock()
			return errors.E(errors.Unavailable, errors.Str("store closed before sync"))
		}
		// Not reached by the group commit protocol; wait for another round
		// rather than trust it.
		s.dirty[seg] = struct{}{}
		done = s.done
		s.mu.Unlock()
		s.wakeSyncer()
	}
}

// erase makes the record l names read as no record: it punches a hole over
// it, or, where the file system cannot, zeroes its magic.
func (s *Store) erase(f *os.File, l loc) error {
	if !s.noPunch.Load() {
		err := punchHole(f, l.off, l.recLen())
		if !errors.IsErr(err, unix.EOPNOTSUPP) {
			return err
		}
		s.noPunch.Store(true)
	}
	return zeroMagic(f, l)
}

// zeroMagic overwrites the record's magic with zeros, so that it reads as
// no record. Its space stays allocated.
func zeroMagic(f *os.File, l loc) error {
	_, err := f.WriteAt(make([]byte, len(magic)), l.off)
	return err
}

// punchHole deallocates n bytes at off, keeping the file size; the range
// reads as zeros.
func punchHole(f *os.File, off, n int64) error {
	return control(f, func(fd int) error {
		return os.NewSyscallError("fallocate", unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n))
	})
}

// fdatasync flushes f's data and the metadata needed to read it back,
// including its size.
func fdatasync(f *os.File) error {
	return control(f, func(fd int) error {
		for {
			err := unix.Fdatasync(fd)
			if err != unix.EINTR {
				return os.NewSyscallError("fdatasync", err)
			}
		}
	})
}

// control runs fn on f's descriptor, which stays valid while fn runs even
// if f is closed concurrently.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// syncDir fsyncs a directory, making the entries in it durable.
func syncDir(dir string) error { return durable.SyncDir(dir) }

// lockDir takes an exclusive flock on dir/LOCK, so that no two stores (in
// one process or two) append to the same segment. The lock lives as long as
// the returned file is open.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	err = control(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
	if err != nil {
		f.Close()
		if errors.IsErr(err, unix.EWOULDBLOCK) {
			return nil, errors.E(errors.Exist, errors.Errorf("%s is in use by another store", dir))
		}
		return nil, errors.E(errors.Internal, err)
	}
	return f, nil
}
