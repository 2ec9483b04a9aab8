package tlog

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sealpost/sealpost/errors"
)

// On disk, a log is a directory of append-only files:
//
//	origin     the log's origin, written once; Open refuses another key name
//	entries    every entry, in order, in the entry-bundle encoding of
//	           tlog-tiles (a big-endian uint16 length, then the bytes), so an
//	           entry bundle is one contiguous slice of this file
//	journal    one fixed-size commit record per committed batch (see jrec)
//	bundles    the byte offset in entries of every 256th entry (uint64 each)
//	hashes.hH  for H = 0, 4, 8, ..., the hashes of the tree's nodes at
//	           height H, left to right (H = 0: the RFC 6962 leaf hashes).
//	           Tile L/N of width W is bytes [N·256·32, (N·256+W)·32) of
//	           hashes.h(8·L); the files in between keep any node's hash
//	           within 8 reads-and-hashes, so proofs are fast
//	LOCK       flock'd while a process has the log open
//
// Only entries and journal are made durable before Append returns (one
// fsync each, run together). bundles and hashes.* are derived from entries;
// they are synced every Options.HashSyncEntries entries and on Close, and
// each journal record says up to which size they are known durable, so Open
// rebuilds at most the tail after a crash.

// File names in a log directory.
const (
	fileOrigin  = "origin"
	fileEntries = "entries"
	fileJournal = "journal"
	fileBundles = "bundles"
	fileLock    = "LOCK"
	fileHashes  = "hashes.h"
)

// maxLevels is the number of tile levels a tree of up to 2^64 entries needs.
const maxLevels = 8

// Hashes are stored at every slotHeight-th height, in nSlots files.
const (
	slotHeight = 4
	nSlots     = 64 / slotHeight
	tileSlots  = TileHeight / slotHeight // slots per tile level
)

// A jrec is one journal record: the tree head after a committed batch, and
// how far the derived files were durable when it was written.
//
//	0  4  magic "tlj1"
//	4  4  CRC-32C of bytes 8..72
//	8  8  size: the tree size
//	16 8  entriesLen: the length of entries holding exactly size entries
//	24 8  derivedSize: hashes.* and bundles are durable up to this size
//	32 8  derivedEntriesLen: the length of entries at derivedSize
//	40 32 root: the RFC 6962 root hash at size
type jrec struct {
	size, entriesLen, derivedSize, derivedEntriesLen uint64
	root                                             tlog.Hash
}

const (
	jrecSize  = 72
	jrecMagic = "tlj1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (r jrec) marshal() []byte {
	b := make([]byte, jrecSize)
	copy(b, jrecMagic)
	binary.BigEndian.PutUint64(b[8:], r.size)
	binary.BigEndian.PutUint64(b[16:], r.entriesLen)
	binary.BigEndian.PutUint64(b[24:], r.derivedSize)
	binary.BigEndian.PutUint64(b[32:], r.derivedEntriesLen)
	copy(b[40:], r.root[:])
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
	return b
}

func (r *jrec) unmarshal(b []byte) bool {
	if len(b) != jrecSize || string(b[:4]) != jrecMagic || binary.BigEndian.Uint32(b[4:]) != crc32.Checksum(b[8:], castagnoli) {
		return false
	}
	r.size = binary.BigEndian.Uint64(b[8:])
	r.entriesLen = binary.BigEndian.Uint64(b[16:])
	r.derivedSize = binary.BigEndian.Uint64(b[24:])
	r.derivedEntriesLen = binary.BigEndian.Uint64(b[32:])
	copy(r.root[:], b[40:])
	return r.derivedSize <= r.size && r.derivedEntriesLen <= r.entriesLen
}

// files holds a log directory's open files. Reads (ReadAt) are safe from any
// goroutine; writes come only from the committing goroutine.
type files struct {
	dir     string
	lock    *os.File
	entries *os.File
	journal *os.File
	bundles *os.File

	mu     sync.Mutex // guards slots (opened lazily)
	slots  [nSlots]*os.File
	newDir bool // a file was created since the directory was last synced
}

func openFiles(dir string) (*files, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f := &files{dir: dir}
	lock, err := os.OpenFile(filepath.Join(dir, fileLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, errors.E(errors.Unavailable, errors.Errorf("log %s is open in another process: %v", dir, err))
	}
	f.lock = lock
	for _, p := range []struct {
		name string
		f    **os.File
	}{{fileEntries, &f.entries}, {fileJournal, &f.journal}, {fileBundles, &f.bundles}} {
		if *p.f, err = f.open(p.name); err != nil {
			f.close()
			return nil, err
		}
	}
	for s := range nSlots {
		name := filepath.Join(dir, slotName(s))
		if _, err := os.Stat(name); err == nil {
			if f.slots[s], err = os.OpenFile(name, os.O_RDWR, 0o600); err != nil {
				f.close()
				return nil, err
			}
		}
	}
	return f, nil
}

// open opens or creates a file in the log directory.
func (f *files) open(name string) (*os.File, error) {
	p := filepath.Join(f.dir, name)
	if _, err := os.Stat(p); errors.IsErr(err, fs.ErrNotExist) {
		f.newDir = true
	}
	return os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
}

// slotName is the name of the file of hashes at height slotHeight·s.
func slotName(s int) string { return fileHashes + strconv.Itoa(slotHeight*s) }

// slot returns the file of hashes at height slotHeight·s, creating it if
// create is set, or nil if it does not exist.
func (f *files) slot(s int, create bool) (*os.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.slots[s] == nil && create {
		h, err := f.open(slotName(s))
		if err != nil {
			return nil, err
		}
		f.slots[s] = h
	}
	return f.slots[s], nil
}

func (f *files) close() error {
	var first error
	for _, h := range append([]*os.File{f.entries, f.journal, f.bundles}, f.slots[:]...) {
		if h != nil {
			if err := h.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	if f.lock != nil {
		unlockFile(f.lock)
		f.lock.Close()
	}
	return first
}

// syncDir makes the creation of new files durable.
func (f *files) syncDir() error {
	if !f.newDir {
		return nil
	}
	d, err := os.Open(f.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return err
	}
	f.newDir = false
	return nil
}

// syncDerived makes the derived files durable.
func (f *files) syncDerived() error {
	if err := f.bundles.Sync(); err != nil {
		return err
	}
	f.mu.Lock()
	slots := f.slots
	f.mu.Unlock()
	for _, h := range slots {
		if h != nil {
			if err := h.Sync(); err != nil {
				return err
			}
		}
	}
	return f.syncDir()
}

// readSlot reads count hashes of slot s from position start.
func (f *files) readSlot(s int, start, count uint64) ([]byte, error) {
	h, _ := f.slot(s, false)
	if h == nil {
		return nil, errors.E(errors.Internal, errors.Errorf("hashes at height %d missing", slotHeight*s))
	}
	buf := make([]byte, count*tlog.HashSize)
	if _, err := h.ReadAt(buf, int64(start*tlog.HashSize)); err != nil {
		return nil, errors.E(errors.Internal, errors.Errorf("reading hashes at height %d [%d,%d): %v", slotHeight*s, start, start+count, err))
	}
	return buf, nil
}

// fileSize returns h's length.
func fileSize(h *os.File) (uint64, error) {
	fi, err := h.Stat()
	if err != nil {
		return 0, err
	}
	return uint64(fi.Size()), nil
}

// hashReader is a tlog.HashReader over the hash files, for a tree of the
// given size. A stored hash at height h = 4·s + k is the root of 2^k
// consecutive hashes of slot s, which it reads and hashes together.
type hashReader struct {
	f    *files
	size uint64
}

var _ tlog.HashReader = hashReader{}

func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	// A hash at height 4·s + k needs 2^k ≤ 8 aligned hashes of slot s, so
	// they lie in one aligned block of 16; the hashes of a proof share
	// blocks, so each block is read once.
	const block = 1 << slotHeight
	type key struct{ slot, n uint64 }
	blocks := make(map[key][]byte, 8)
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		height, n := tlog.SplitStoredHashIndex(idx)
		if (uint64(n)+1)<<height > r.size {
			return nil, errors.E(errors.Internal, errors.Errorf("stored hash %d (height %d, index %d) beyond tree size %d", idx, height, n, r.size))
		}
		s, k := height/slotHeight, height%slotHeight
		start := uint64(n) << k
		bk := key{uint64(s), start / block}
		data, ok := blocks[bk]
		if !ok {
			avail := r.size >> (slotHeight * s)
			var err error
			if data, err = r.f.readSlot(s, bk.n*block, min(block, avail-bk.n*block)); err != nil {
				return nil, err
			}
			blocks[bk] = data
		}
		off := (start % block) * tlog.HashSize
		out[i] = subtreeHash(data[off : off+(1<<k)*tlog.HashSize])
	}
	return out, nil
}

// subtreeHash returns the root of the perfect subtree whose 2^k bottom
// hashes are data (RFC 6962 2.1).
func subtreeHash(data []byte) tlog.Hash {
	if len(data) == tlog.HashSize {
		return tlog.Hash(data)
	}
	n := len(data) / 2
	return tlog.NodeHash(subtreeHash(data[:n]), subtreeHash(data[n:]))
}

// A treeBuilder appends leaf hashes to an RFC 6962 tree, keeping only its
// right edge (the roots of its maximal perfect subtrees, a "compact range").
// For every node it completes at a height that is a multiple of slotHeight
// (leaves included) it calls emit with the slot (height/slotHeight), so
// callers can store hashes or check tiles as the tree grows.
type treeBuilder struct {
	size  uint64
	stack []stackNode
}

type stackNode struct {
	height int
	hash   tlog.Hash
}

func (t *treeBuilder) push(h tlog.Hash, emit func(slot int, h tlog.Hash)) {
	emit(0, h)
	t.stack = append(t.stack, stackNode{0, h})
	for n := len(t.stack); n >= 2 && t.stack[n-1].height == t.stack[n-2].height; n = len(t.stack) {
		parent := stackNode{t.stack[n-1].height + 1, tlog.NodeHash(t.stack[n-2].hash, t.stack[n-1].hash)}
		t.stack = append(t.stack[:n-2], parent)
		if parent.height%slotHeight == 0 {
			emit(parent.height/slotHeight, parent.hash)
		}
	}
	t.size++
}

// root returns the RFC 6962 root hash of the tree so far (2.1: the right
// edge subtrees folded from the right).
func (t *treeBuilder) root() tlog.Hash {
	if len(t.stack) == 0 {
		return tlog.Hash(sha256.Sum256(nil))
	}
	h := t.stack[len(t.stack)-1].hash
	for i := len(t.stack) - 2; i >= 0; i-- {
		h = tlog.NodeHash(t.stack[i].hash, h)
	}
	return h
}

// restore sets t to the tree of the given size, reading the right-edge
// subtree roots through r.
func (t *treeBuilder) restore(size uint64, r tlog.HashReader) error {
	t.size, t.stack = size, t.stack[:0]
	var start uint64
	var idx []int64
	var heights []int
	for h := 63; h >= 0; h-- {
		if size&(1<<h) != 0 {
			idx = append(idx, tlog.StoredHashIndex(h, int64(start>>h)))
			heights = append(heights, h)
			start += 1 << h
		}
	}
	if len(idx) == 0 {
		return nil
	}
	hashes, err := r.ReadHashes(idx)
	if err != nil {
		return err
	}
	for i, h := range hashes {
		t.stack = append(t.stack, stackNode{heights[i], h})
	}
	return nil
}

// readRecord reads one entry (uint16 length, data) from r.
func readRecord(r io.Reader, hdr []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return nil, err
	}
	data := make([]byte, binary.BigEndian.Uint16(hdr))
	if _, err := io.ReadFull(r, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return data, nil
}

// splitBundle splits an entry bundle into its entries. It returns the
// entries it could parse and an error if data has a torn or extra tail.
func splitBundle(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return out, errors.Str("truncated entry length")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return out, errors.Str("truncated entry")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out, nil
}
