// Package tlog is Sealpost's transparency log: an append-only, verifiable
// record of every access to a mailbox by anyone but its owner and every step
// of every demand.
//
// The log speaks only public formats, so that a monitor knowing nothing of
// Sealpost can check it:
//
//   - RFC 6962 Merkle tree hashing (via golang.org/x/mod/sumdb/tlog);
//   - checkpoints per C2SP tlog-checkpoint (github.com/transparency-dev/
//     formats/log), as signed notes with an Ed25519 key
//     (golang.org/x/mod/sumdb/note);
//   - tiles and entry bundles served per C2SP tlog-tiles (Handler);
//   - self-contained proofs of one entry per C2SP tlog-proof (ProofBundle,
//     github.com/transparency-dev/formats/proof).
//
// Storage is this package's own (see storage.go): one append-only file of
// entries in the entry-bundle encoding and one small journal record per
// commit, both fsync'd before Append returns; tile hashes are derived files
// rebuilt from the entries after a crash. Concurrent Appends are batched, so
// many share one fsync. A checkpoint is signed and published only after the
// entries it commits to are durable.
//
// Verify is the engine of `sealpost log verify`: it fetches a log's
// checkpoint, tiles and entries (over HTTP or otherwise), checks every
// signature, entry and tile and consistency with a trusted checkpoint, and
// says where the log fails.
//
// docs/DECISIONS.md records why the log is built on x/mod with its own
// storage rather than on Tessera's POSIX driver.
package tlog

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sealpost/sealpost/errors"
)

// Tiles per C2SP tlog-tiles: height 8, so 256 hashes or entries per tile.
const (
	TileHeight = 8
	TileWidth  = 1 << TileHeight
	// MaxEntrySize is the largest entry the bundle encoding (a uint16
	// length prefix) can hold.
	MaxEntrySize = 1<<16 - 1
)

// Options tunes a Log. The zero value is good.
type Options struct {
	// MaxBatch caps the entries committed by one fsync. Zero means 16384.
	MaxBatch int
	// MaxPending caps the entries waiting to be committed; Append blocks
	// (until its context ends) beyond it. Zero means 65536.
	MaxPending int
	// HashSyncEntries is how many entries may be appended between syncs of
	// the derived files (tile hashes, bundle offsets); it bounds the work
	// Open redoes after a crash. Zero means 65536.
	HashSyncEntries int
}

func (o *Options) fill() {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1 << 14
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 1 << 16
	}
	if o.MaxPending < o.MaxBatch {
		o.MaxPending = o.MaxBatch
	}
	if o.HashSyncEntries <= 0 {
		o.HashSyncEntries = 1 << 16
	}
}

// A Log is an open transparency log. Its methods are safe for concurrent
// use. Only one process may have a log directory open at a time.
type Log struct {
	origin string
	signer note.Signer
	vkey   string
	opts   Options
	f      *files
	cur    atomic.Pointer[state] // the published tree

	mu       sync.Mutex
	queue    []*batch      // waiting batches; Append adds to the last
	npending int           // entries in queue and in the committing batch
	freed    chan struct{} // closed (and replaced) when npending drops
	wake     chan struct{} // wakes the committer
	closing  bool
	failed   error         // sticky: once a commit fails, the log refuses appends
	done     chan struct{} // closed when the committer exits

	// Owned by the committer.
	tree              treeBuilder
	jlen              uint64 // journal length
	durableDerived    uint64 // derived files durable up to this size...
	durableDerivedLen uint64 // ...which is this length of entries
	sinceSync         int
	compactAt         uint64 // journal length that triggers compaction

	// testHook, if set, is called at each stage of a commit ("written",
	// "synced"); if it returns false the committer stops there, as if the
	// process had died, and the log fails.
	testHook func(stage string) bool
}

// state is an immutable snapshot of the published tree.
type state struct {
	size       uint64
	root       tlog.Hash
	entriesLen uint64   // length of the entries file holding size entries
	bundles    []uint64 // offsets in entries of entries 0, 256, 512, ...
	checkpoint []byte   // the signed checkpoint for (size, root)
}

// A batch is a group of entries committed together.
type batch struct {
	entries [][]byte
	hashes  []tlog.Hash
	first   uint64 // index of entries[0], set when committed
	err     error
	done    chan struct{}
}

// Open opens the log in dir, creating it if needed, signing checkpoints with
// skey (a note signer key from NewKey; its name is the log's origin). A log
// created with one origin cannot be opened with another.
//
// Open recovers from a crash: it keeps exactly the entries of the last
// commit that was durable (any entry whose Append returned nil), drops any
// torn tail, rebuilds derived files as needed and checks the result against
// the journal's root hash, failing (errors.Internal) rather than serving a
// tree that does not match it.
func Open(dir string, skey string, opts Options) (*Log, error) {
	const op = "tlog.Open"
	opts.fill()
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("bad signer key: %v", err))
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return nil, errors.E(op, err)
	}
	f, err := openFiles(dir)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	l := &Log{
		origin: signer.Name(),
		signer: signer,
		vkey:   vkey,
		opts:   opts,
		f:      f,
		freed:  make(chan struct{}),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),

		compactAt: journalCompactAt,
	}
	if err := l.checkOrigin(); err != nil {
		f.close()
		return nil, errors.E(op, err)
	}
	if err := l.recover(); err != nil {
		f.close()
		return nil, errors.E(op, err)
	}
	go l.run()
	return l, nil
}

// checkOrigin records the origin in a new log, or checks it in an old one.
func (l *Log) checkOrigin() error {
	p := filepath.Join(l.f.dir, fileOrigin)
	b, err := os.ReadFile(p)
	if errors.IsErr(err, os.ErrNotExist) {
		if err := os.WriteFile(p, []byte(l.origin+"\n"), 0o600); err != nil {
			return errors.E(errors.Internal, err)
		}
		if h, err := os.Open(p); err == nil {
			err = h.Sync()
			h.Close()
			if err != nil {
				return errors.E(errors.Internal, err)
			}
		}
		l.f.newDir = true
		if err := l.f.syncDir(); err != nil {
			return errors.E(errors.Internal, err)
		}
		return nil
	}
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	if got := strings.TrimSuffix(string(b), "\n"); got != l.origin {
		return errors.E(errors.Invalid, errors.Errorf("log in %s has origin %q, key is for %q", l.f.dir, got, l.origin))
	}
	return nil
}

// Origin returns the log's origin (the first line of its checkpoints).
func (l *Log) Origin() string { return l.origin }

// VerifierKey returns the note verifier key that checks the log's
// checkpoints, in golang.org/x/mod/sumdb/note's text form.
func (l *Log) VerifierKey() string { return l.vkey }

// Checkpoint returns the latest signed checkpoint (C2SP tlog-checkpoint, as
// a signed note). Every entry it commits to is durably stored.
func (l *Log) Checkpoint() []byte { return l.cur.Load().checkpoint }

// Size returns the size of the tree the latest checkpoint commits to.
func (l *Log) Size() uint64 { return l.cur.Load().size }

// Append adds entry to the log and returns its index once it is durably
// stored and committed to by the latest checkpoint. Concurrent Appends are
// committed together, sharing one fsync. An entry is at most MaxEntrySize
// bytes.
//
// If ctx ends first, Append returns its error, and the entry may or may not
// be in the log.
func (l *Log) Append(ctx context.Context, entry []byte) (uint64, error) {
	return l.append(ctx, "tlog.Append", [][]byte{entry})
}

// AppendAll adds entries to the log at consecutive indexes, in order, and
// returns the index of the first once all are durably stored and committed
// to by the latest checkpoint. They share fsyncs with each other and with
// concurrent appends. If ctx ends first, AppendAll returns its error, and
// the entries may or may not be in the log (all or a prefix of them).
func (l *Log) AppendAll(ctx context.Context, entries [][]byte) (uint64, error) {
	return l.append(ctx, "tlog.AppendAll", entries)
}

func (l *Log) append(ctx context.Context, op string, entries [][]byte) (uint64, error) {
	if len(entries) == 0 {
		return 0, errors.E(op, errors.Invalid, errors.Str("no entries"))
	}
	for _, entry := range entries {
		if len(entry) > MaxEntrySize {
			return 0, errors.E(op, errors.TooLarge, errors.Errorf("entry of %d bytes, max %d", len(entry), MaxEntrySize))
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, errors.E(op, errors.Unavailable, err)
	}
	hashes := make([]tlog.Hash, len(entries))
	copies := make([][]byte, len(entries))
	for i, entry := range entries {
		hashes[i] = tlog.RecordHash(entry) // hashed here, by the callers, in parallel
		copies[i] = append([]byte(nil), entry...)
	}

	l.mu.Lock()
	// Wait for room; a call larger than MaxPending waits for an empty queue.
	for l.npending > 0 && l.npending+len(entries) > l.opts.MaxPending && !l.closing && l.failed == nil {
		ch := l.freed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, errors.E(op, errors.Unavailable, ctx.Err())
		}
		l.mu.Lock()
	}
	if l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		return 0, errors.E(op, err)
	}
	if l.closing {
		l.mu.Unlock()
		return 0, errors.E(op, errors.Unavailable, errors.Str("log closed"))
	}
	// The entries go into the queue's batches back to back under one hold
	// of the lock, so they get consecutive indexes; batches commit in
	// order, so the last one's commit covers them all.
	var first, last *batch
	var pos int
	for i := range copies {
		var b *batch
		if n := len(l.queue); n > 0 && len(l.queue[n-1].entries) < l.opts.MaxBatch {
			b = l.queue[n-1]
		} else {
			b = &batch{done: make(chan struct{})}
			l.queue = append(l.queue, b)
		}
		if first == nil {
			first, pos = b, len(b.entries)
		}
		last = b
		b.entries = append(b.entries, copies[i])
		b.hashes = append(b.hashes, hashes[i])
	}
	l.npending += len(copies)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}

	select {
	case <-last.done:
	case <-ctx.Done():
		return 0, errors.E(op, errors.Unavailable, ctx.Err())
	}
	if last.err != nil {
		return 0, errors.E(op, last.err)
	}
	<-first.done // committed no later than last
	if first.err != nil {
		return 0, errors.E(op, first.err)
	}
	return first.first + uint64(pos), nil
}

// Close commits the entries already queued, makes the derived files durable
// and closes the log. Appends after Close fail.
func (l *Log) Close() error {
	const op = "tlog.Close"
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closing = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
	var err error
	l.mu.Lock()
	failed := l.failed
	l.mu.Unlock()
	if failed == nil {
		err = l.finish()
	}
	if cerr := l.f.close(); err == nil && cerr != nil {
		err = errors.E(errors.Internal, cerr)
	}
	if err != nil {
		return errors.E(op, err)
	}
	return nil
}

// finish syncs the derived files and records that in the journal, so the
// next Open rebuilds nothing.
func (l *Log) finish() error {
	s := l.cur.Load()
	if l.durableDerived == s.size {
		return nil
	}
	if err := l.f.syncDerived(); err != nil {
		return errors.E(errors.Internal, err)
	}
	rec := jrec{size: s.size, entriesLen: s.entriesLen, derivedSize: s.size, derivedEntriesLen: s.entriesLen, root: s.root}
	if _, err := l.f.journal.WriteAt(rec.marshal(), int64(l.jlen)); err != nil {
		return errors.E(errors.Internal, err)
	}
	l.jlen += jrecSize
	if err := l.f.journal.Sync(); err != nil {
		return errors.E(errors.Internal, err)
	}
	return nil
}

// run is the committer: it takes batches off the queue one at a time.
func (l *Log) run() {
	defer close(l.done)
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			closing := l.closing
			l.mu.Unlock()
			if closing {
				return
			}
			<-l.wake
			continue
		}
		b := l.queue[0]
		l.queue = l.queue[1:]
		failed := l.failed
		l.mu.Unlock()

		err := failed
		if err == nil {
			err = l.commit(b)
		}
		l.mu.Lock()
		if err != nil && l.failed == nil {
			l.failed = errors.E(errors.Internal, errors.Errorf("log failed and must be reopened: %v", err))
		}
		if err != nil {
			err = l.failed
		}
		l.npending -= len(b.entries)
		close(l.freed)
		l.freed = make(chan struct{})
		l.mu.Unlock()
		b.err = err
		close(b.done)
	}
}

var errCrash = errors.Str("simulated crash")

// commit writes, syncs and publishes one batch.
func (l *Log) commit(b *batch) error {
	s := l.cur.Load()
	b.first = s.size
	n := uint64(len(b.entries))
	newSize := s.size + n

	// Entries, in bundle encoding, and the offsets of new bundles.
	var size int
	for _, e := range b.entries {
		size += 2 + len(e)
	}
	buf := make([]byte, 0, size)
	bundles := s.bundles
	for i, e := range b.entries {
		if (s.size+uint64(i))%TileWidth == 0 {
			bundles = append(bundles, s.entriesLen+uint64(len(buf)))
		}
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(e)))
		buf = append(buf, e...)
	}
	entriesLen := s.entriesLen + uint64(len(buf))

	// Tile hashes.
	var levels [nSlots][]byte
	for _, h := range b.hashes {
		l.tree.push(h, func(level int, h tlog.Hash) { levels[level] = append(levels[level], h[:]...) })
	}
	root := l.tree.root()

	if _, err := l.f.entries.WriteAt(buf, int64(s.entriesLen)); err != nil {
		return err
	}
	for lv, data := range levels {
		if len(data) == 0 {
			continue
		}
		h, err := l.f.slot(lv, true)
		if err != nil {
			return err
		}
		if _, err := h.WriteAt(data, int64((s.size>>(slotHeight*lv))*tlog.HashSize)); err != nil {
			return err
		}
	}
	if nb := len(bundles) - len(s.bundles); nb > 0 {
		ob := make([]byte, 0, 8*nb)
		for _, off := range bundles[len(s.bundles):] {
			ob = binary.BigEndian.AppendUint64(ob, off)
		}
		if _, err := l.f.bundles.WriteAt(ob, int64(8*len(s.bundles))); err != nil {
			return err
		}
	}
	if l.testHook != nil && !l.testHook("written") {
		return errCrash
	}

	// The derived files are synced alongside the entries every so often;
	// the journal records that only from the next commit on.
	l.sinceSync += int(n)
	syncDerived := l.sinceSync >= l.opts.HashSyncEntries
	rec := jrec{size: newSize, entriesLen: entriesLen, derivedSize: l.durableDerived, derivedEntriesLen: l.durableDerivedLen, root: root}
	if _, err := l.f.journal.WriteAt(rec.marshal(), int64(l.jlen)); err != nil {
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- l.f.entries.Sync() }()
	go func() {
		if syncDerived {
			if err := l.f.syncDerived(); err != nil {
				errs <- err
				return
			}
		}
		errs <- l.f.journal.Sync()
	}()
	cp, signErr := l.sign(newSize, root)
	err1, err2 := <-errs, <-errs
	for _, err := range []error{err1, err2, signErr} {
		if err != nil {
			return err
		}
	}
	l.jlen += jrecSize
	if l.jlen >= l.compactAt {
		if err := l.compactJournal(rec); err != nil {
			return err
		}
	}
	if syncDerived {
		l.sinceSync = 0
		l.durableDerived, l.durableDerivedLen = newSize, entriesLen
	}
	if l.testHook != nil && !l.testHook("synced") {
		return errCrash
	}
	l.cur.Store(&state{size: newSize, root: root, entriesLen: entriesLen, bundles: bundles, checkpoint: cp})
	return nil
}

// sign returns the signed checkpoint for a tree (C2SP tlog-checkpoint). Ed25519
// signatures are deterministic, so the same tree always gets the same bytes.
func (l *Log) sign(size uint64, root tlog.Hash) ([]byte, error) {
	body := log.Checkpoint{Origin: l.origin, Size: size, Hash: root[:]}.Marshal()
	return note.Sign(&note.Note{Text: string(body)}, l.signer)
}

// journalCompactAt is the journal length at which it is rewritten to hold
// only its last record (about 14,500 commits).
const journalCompactAt = 1 << 20

// compactJournal atomically replaces the journal with one holding only last
// (already durable): write, sync, rename, sync the directory. A crash leaves
// either journal, and both end with last.
func (l *Log) compactJournal(last jrec) error {
	tmp := filepath.Join(l.f.dir, fileJournal+".tmp")
	if err := os.WriteFile(tmp, last.marshal(), 0o600); err != nil {
		return err
	}
	h, err := os.OpenFile(tmp, os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := h.Sync(); err != nil {
		h.Close()
		return err
	}
	if err := os.Rename(tmp, filepath.Join(l.f.dir, fileJournal)); err != nil {
		h.Close()
		return err
	}
	l.f.newDir = true
	if err := l.f.syncDir(); err != nil {
		h.Close()
		return err
	}
	l.f.journal.Close()
	l.f.journal = h
	l.jlen = jrecSize
	return nil
}
