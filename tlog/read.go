package tlog

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/formats/proof"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sealpost/sealpost/errors"
)

// Tile returns the data of a Merkle tile (r.Kind == KindTile) or an entry
// bundle (KindEntries) as of the latest checkpoint: a full resource once the
// tree covers it, or any partial width up to what the tree covers. A
// resource beyond the tree is errors.NotExist.
func (l *Log) Tile(ctx context.Context, r Resource) ([]byte, error) {
	const op = "tlog.Tile"
	s := l.cur.Load()
	w := uint64(r.W())
	switch r.Kind {
	case KindTile:
		avail := uint64(0)
		if r.Level < maxLevels {
			avail = s.size >> (TileHeight * uint(r.Level))
		}
		if r.Index >= avail/TileWidth+1 || r.Index*TileWidth+w > avail {
			return nil, errors.E(op, errors.NotExist, errors.Errorf("%s: beyond tree size %d", r, s.size))
		}
		data, err := l.f.readSlot(int(r.Level)*tileSlots, r.Index*TileWidth, w)
		if err != nil {
			return nil, errors.E(op, err)
		}
		return data, nil
	case KindEntries:
		if r.Index >= s.size/TileWidth+1 || r.Index*TileWidth+w > s.size {
			return nil, errors.E(op, errors.NotExist, errors.Errorf("%s: beyond tree size %d", r, s.size))
		}
		data, err := l.bundle(s, r.Index, int(w))
		if err != nil {
			return nil, errors.E(op, err)
		}
		return data, nil
	}
	return nil, errors.E(op, errors.Invalid, errors.Errorf("%s is not a tile", r))
}

// bundle reads the first w entries of bundle n in the entry-bundle encoding.
func (l *Log) bundle(s *state, n uint64, w int) ([]byte, error) {
	start, end := s.bundles[n], s.entriesLen
	if n+1 < uint64(len(s.bundles)) {
		end = s.bundles[n+1]
	}
	buf := make([]byte, end-start)
	if _, err := l.f.entries.ReadAt(buf, int64(start)); err != nil && err != io.EOF {
		return nil, errors.E(errors.Internal, err)
	}
	pos := 0
	for range w {
		if pos+2 > len(buf) {
			return nil, errors.E(errors.Internal, errors.Errorf("entries file damaged in bundle %d", n))
		}
		pos += 2 + (int(buf[pos])<<8 | int(buf[pos+1]))
	}
	if pos > len(buf) {
		return nil, errors.E(errors.Internal, errors.Errorf("entries file damaged in bundle %d", n))
	}
	return buf[:pos], nil
}

// Entry returns the entry at index.
func (l *Log) Entry(ctx context.Context, index uint64) ([]byte, error) {
	const op = "tlog.Entry"
	s := l.cur.Load()
	if index >= s.size {
		return nil, errors.E(op, errors.NotExist, errors.Errorf("entry %d beyond tree size %d", index, s.size))
	}
	data, err := l.bundle(s, index/TileWidth, int(index%TileWidth)+1)
	if err != nil {
		return nil, errors.E(op, err)
	}
	// Walk to the last entry of the prefix read, and return a copy of it
	// alone, so the bundle's buffer is not kept alive by the caller.
	pos := 0
	for {
		n := 2 + (int(data[pos])<<8 | int(data[pos+1]))
		if pos+n == len(data) {
			return append([]byte(nil), data[pos+2:]...), nil
		}
		pos += n
	}
}

// Entries returns the entries at indexes [start, end), read a bundle at a
// time: the way to read many (Entry reads a bundle per call).
func (l *Log) Entries(ctx context.Context, start, end uint64) ([][]byte, error) {
	const op = "tlog.Entries"
	s := l.cur.Load()
	if start > end || end > s.size {
		return nil, errors.E(op, errors.NotExist, errors.Errorf("entries [%d, %d) beyond tree size %d", start, end, s.size))
	}
	out := make([][]byte, 0, end-start)
	for n := start / TileWidth; n*TileWidth < end; n++ {
		if err := ctx.Err(); err != nil {
			return nil, errors.E(op, errors.Unavailable, err)
		}
		w := int(min(TileWidth, s.size-n*TileWidth))
		data, err := l.bundle(s, n, w)
		if err != nil {
			return nil, errors.E(op, err)
		}
		entries, err := splitBundle(data)
		if err != nil || len(entries) != w {
			return nil, errors.E(op, errors.Internal, errors.Errorf("entries file damaged in bundle %d", n))
		}
		lo, hi := max(start, n*TileWidth)-n*TileWidth, min(end, (n+1)*TileWidth)-n*TileWidth
		out = append(out, entries[lo:hi]...)
	}
	return out, nil
}

// InclusionProof returns the RFC 6962 inclusion proof (2.1.1, "audit path")
// of the entry at index in the tree of size treeSize, which must be no
// larger than the latest checkpoint's.
func (l *Log) InclusionProof(ctx context.Context, index, treeSize uint64) (tlog.RecordProof, error) {
	const op = "tlog.InclusionProof"
	s := l.cur.Load()
	if treeSize > s.size || index >= treeSize {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("no entry %d in a tree of size %d (log size %d)", index, treeSize, s.size))
	}
	p, err := tlog.ProveRecord(int64(treeSize), int64(index), hashReader{l.f, s.size})
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof (2.1.2) that the
// tree of size oldSize is a prefix of the tree of size newSize, which must
// be no larger than the latest checkpoint's.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize uint64) (tlog.TreeProof, error) {
	const op = "tlog.ConsistencyProof"
	s := l.cur.Load()
	if newSize > s.size || oldSize > newSize {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("no consistency proof from %d to %d (log size %d)", oldSize, newSize, s.size))
	}
	if oldSize == 0 || oldSize == newSize {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(int64(newSize), int64(oldSize), hashReader{l.f, s.size})
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return p, nil
}

// ProofBundle returns a self-contained, offline-verifiable proof that the
// entry at index is in the log, per C2SP tlog-proof: the latest checkpoint,
// the index and the inclusion proof. The entry itself is carried as the
// proof's "extra" data, so the proof alone shows what was logged;
// VerifyProofBundle checks one.
func (l *Log) ProofBundle(ctx context.Context, index uint64) ([]byte, error) {
	const op = "tlog.ProofBundle"
	s := l.cur.Load()
	entry, err := l.Entry(ctx, index)
	if err != nil {
		return nil, errors.E(op, err)
	}
	p, err := tlog.ProveRecord(int64(s.size), int64(index), hashReader{l.f, s.size})
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	tp := proof.TLogProof{Index: index, Checkpoint: s.checkpoint, ExtraData: entry}
	for _, h := range p {
		tp.Hashes = append(tp.Hashes, h)
	}
	if tp.ExtraData == nil {
		tp.ExtraData = []byte{} // an empty entry is still carried
	}
	return tp.Marshal(), nil
}

// A ProvenEntry is what a verified proof bundle shows.
type ProvenEntry struct {
	Index      uint64
	Entry      []byte
	Checkpoint *log.Checkpoint
}

// VerifyProofBundle checks a proof from ProofBundle against the log's
// verifier key: the checkpoint's signature and origin, and the inclusion of
// the carried entry at the carried index. It fails with errors.Invalid.
func VerifyProofBundle(bundle []byte, verifierKey string) (*ProvenEntry, error) {
	const op = "tlog.VerifyProofBundle"
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("bad verifier key: %v", err))
	}
	var p proof.TLogProof
	if err := p.Unmarshal(bundle); err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	cp, _, _, err := log.ParseCheckpoint(p.Checkpoint, v.Name(), v)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("checkpoint: %v", err))
	}
	if p.ExtraData == nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("proof carries no entry"))
	}
	if len(cp.Hash) != tlog.HashSize {
		return nil, errors.E(op, errors.Invalid, errors.Str("checkpoint root hash is not 32 bytes"))
	}
	rp := make(tlog.RecordProof, len(p.Hashes))
	for i, h := range p.Hashes {
		rp[i] = h
	}
	if p.Index >= cp.Size {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("index %d beyond checkpoint size %d", p.Index, cp.Size))
	}
	if err := tlog.CheckRecord(rp, int64(cp.Size), tlog.Hash(cp.Hash), int64(p.Index), tlog.RecordHash(p.ExtraData)); err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("entry %d: %v", p.Index, err))
	}
	return &ProvenEntry{Index: p.Index, Entry: p.ExtraData, Checkpoint: cp}, nil
}

// Handler serves the log per C2SP tlog-tiles, to be mounted under a prefix
// such as /log/ (with http.StripPrefix):
//
//	GET checkpoint                 the latest signed checkpoint
//	GET tile/<L>/<N>[.p/<W>]       Merkle tiles
//	GET tile/entries/<N>[.p/<W>]   entry bundles
//	GET key                        the note verifier key, text
//	GET proof/inclusion/<i>/<size>  an inclusion proof (proofs.go)
//	GET proof/consistency/<m>/<n>  a consistency proof (proofs.go)
//
// Tiles and bundles are immutable and served as such; the checkpoint and
// key are text.
func (l *Log) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasPrefix(strings.TrimPrefix(req.URL.Path, "/"), "proof/") {
			l.serveProof(w, req)
			return
		}
		r, err := ParseResource(req.URL.Path)
		if err != nil {
			http.NotFound(w, req)
			return
		}
		switch r.Kind {
		case KindCheckpoint:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(l.Checkpoint())
		case KindKey:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, l.vkey+"\n")
		default:
			data, err := l.Tile(req.Context(), r)
			if errors.Is(errors.NotExist, err) {
				http.NotFound(w, req)
				return
			}
			if err != nil {
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			w.Write(data)
		}
	})
}
