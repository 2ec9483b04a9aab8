package tlog

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"io"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sealpost/sealpost/errors"
)

// recover brings the files to the state of the last durable commit and
// publishes its checkpoint. See Open.
func (l *Log) recover() error {
	f := l.f
	jlen, err := fileSize(f.journal)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	elen, err := fileSize(f.entries)
	if err != nil {
		return errors.E(errors.Internal, err)
	}

	// The last commit record that is whole and whose entries all reached
	// the disk. Records are written one commit at a time, each synced with
	// its entries before the next is written, so only the last record can
	// be torn, or whole but ahead of the entries (its commit never
	// returned). Were a second one ahead, entries that Append reported
	// durable would be gone: the log is damaged, and Open says so rather
	// than quietly forgetting them.
	rec := jrec{root: tlog.Hash(sha256.Sum256(nil))} // the empty tree
	keep, ahead := uint64(0), 0
	buf := make([]byte, jrecSize)
	for i := int64(jlen/jrecSize) - 1; i >= 0; i-- {
		if _, err := f.journal.ReadAt(buf, i*jrecSize); err != nil {
			return errors.E(errors.Internal, err)
		}
		var r jrec
		if !r.unmarshal(buf) {
			continue
		}
		if r.entriesLen <= elen {
			rec, keep = r, uint64(i+1)*jrecSize
			break
		}
		if ahead++; ahead > 1 {
			return errors.E(errors.Internal, errors.Errorf("entries file holds %d bytes, but commits up to %d bytes were durable: log damaged", elen, r.entriesLen))
		}
	}

	err = l.rebuild(rec, false)
	if err != nil && rec.derivedSize > 0 {
		// The derived files may be damaged; rebuild them from the entries.
		err = l.rebuild(rec, true)
	}
	if err != nil {
		return err
	}

	// Drop any torn or uncommitted tails.
	if elen != rec.entriesLen {
		if err := f.entries.Truncate(int64(rec.entriesLen)); err != nil {
			return errors.E(errors.Internal, err)
		}
		if err := f.entries.Sync(); err != nil {
			return errors.E(errors.Internal, err)
		}
	}
	if jlen != keep {
		if err := f.journal.Truncate(int64(keep)); err != nil {
			return errors.E(errors.Internal, err)
		}
	}
	l.jlen = keep
	if l.durableDerived != rec.size {
		// Make what was rebuilt durable and say so, so the next Open
		// does not redo it.
		if err := f.syncDerived(); err != nil {
			return errors.E(errors.Internal, err)
		}
		l.durableDerived, l.durableDerivedLen = rec.size, rec.entriesLen
		r := rec
		r.derivedSize, r.derivedEntriesLen = rec.size, rec.entriesLen
		if _, err := f.journal.WriteAt(r.marshal(), int64(l.jlen)); err != nil {
			return errors.E(errors.Internal, err)
		}
		l.jlen += jrecSize
	}
	if err := f.journal.Sync(); err != nil {
		return errors.E(errors.Internal, err)
	}
	if err := f.syncDir(); err != nil {
		return errors.E(errors.Internal, err)
	}
	return nil
}

// rebuild truncates the derived files to what the commit record says is
// durable (or to nothing, if scratch), replays the entries after that,
// checks the root against the record and publishes the tree.
func (l *Log) rebuild(rec jrec, scratch bool) error {
	f := l.f
	d, dlen := rec.derivedSize, rec.derivedEntriesLen
	if scratch {
		d, dlen = 0, 0
	}
	// Derived files must hold at least what was durable at d.
	nb := (d + TileWidth - 1) / TileWidth
	if sz, err := fileSize(f.bundles); err != nil || sz < 8*nb {
		d, dlen, nb = 0, 0, 0
	}
	for sl := range nSlots {
		want := (d >> (slotHeight * sl)) * tlog.HashSize
		h, err := f.slot(sl, want > 0)
		if err != nil {
			return errors.E(errors.Internal, err)
		}
		if h == nil {
			continue
		}
		if sz, err := fileSize(h); err != nil || sz < want {
			if !scratch {
				return errors.E(errors.Internal, errors.Errorf("hashes at height %d shorter than recorded", slotHeight*sl))
			}
		}
	}
	if err := f.bundles.Truncate(int64(8 * nb)); err != nil {
		return errors.E(errors.Internal, err)
	}
	for sl := range nSlots {
		h, _ := f.slot(sl, false)
		if h != nil {
			if err := h.Truncate(int64((d >> (slotHeight * sl)) * tlog.HashSize)); err != nil {
				return errors.E(errors.Internal, err)
			}
		}
	}
	bundles := make([]uint64, nb, nb+1024)
	if nb > 0 {
		b := make([]byte, 8*nb)
		if _, err := f.bundles.ReadAt(b, 0); err != nil {
			return errors.E(errors.Internal, err)
		}
		for i := range bundles {
			bundles[i] = binary.BigEndian.Uint64(b[8*i:])
		}
	}
	l.tree = treeBuilder{}
	if err := l.tree.restore(d, hashReader{f, d}); err != nil {
		return err
	}

	// Replay entries [d, rec.size) from the entries file.
	r := bufio.NewReaderSize(io.NewSectionReader(f.entries, int64(dlen), int64(rec.entriesLen-dlen)), 1<<20)
	var levels [nSlots][]byte
	flush := func() error {
		for lv, data := range levels {
			if len(data) == 0 {
				continue
			}
			h, err := f.slot(lv, true)
			if err != nil {
				return err
			}
			sz, err := fileSize(h)
			if err != nil {
				return err
			}
			if _, err := h.WriteAt(data, int64(sz)); err != nil {
				return err
			}
			levels[lv] = levels[lv][:0]
		}
		return nil
	}
	off := dlen
	hdr := make([]byte, 2)
	var newBundles []byte
	for i := d; i < rec.size; i++ {
		e, err := readRecord(r, hdr)
		if err != nil {
			return errors.E(errors.Internal, errors.Errorf("entries file: entry %d at offset %d: %v", i, off, err))
		}
		if i%TileWidth == 0 {
			bundles = append(bundles, off)
			newBundles = binary.BigEndian.AppendUint64(newBundles, off)
		}
		off += 2 + uint64(len(e))
		l.tree.push(tlog.RecordHash(e), func(level int, h tlog.Hash) { levels[level] = append(levels[level], h[:]...) })
		if len(levels[0]) >= 1<<20 {
			if err := flush(); err != nil {
				return errors.E(errors.Internal, err)
			}
		}
	}
	if off != rec.entriesLen {
		return errors.E(errors.Internal, errors.Errorf("entries file: %d entries end at offset %d, journal says %d", rec.size, off, rec.entriesLen))
	}
	if err := flush(); err != nil {
		return errors.E(errors.Internal, err)
	}
	if len(newBundles) > 0 {
		if _, err := f.bundles.WriteAt(newBundles, int64(8*nb)); err != nil {
			return errors.E(errors.Internal, err)
		}
	}
	root := l.tree.root()
	if root != rec.root {
		return errors.E(errors.Internal, errors.Errorf("tree of %d entries has root %v, journal says %v: log damaged", rec.size, root, rec.root))
	}
	if d != rec.size || scratch {
		l.durableDerived, l.durableDerivedLen = 0, 0 // rebuilt: not yet synced
	} else {
		l.durableDerived, l.durableDerivedLen = d, dlen
	}
	cp, err := l.sign(rec.size, root)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	l.cur.Store(&state{size: rec.size, root: root, entriesLen: rec.entriesLen, bundles: bundles, checkpoint: cp})
	return nil
}
