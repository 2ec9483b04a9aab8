package transparency

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
	"github.com/sealpost/sealpost/internal/sqlitedb"
	"github.com/sealpost/sealpost/tlog"
	fmtlog "github.com/transparency-dev/formats/log"
)

// LedgerOptions configure a Ledger.
type LedgerOptions struct {
	Log         *tlog.Log
	Blinder     *Blinder
	Withholding Withholding
	// Sources, by name (SourceLegal, SourceJournal, …): every event of
	// each is published once, in order.
	Sources map[string]sealpost.EventSource
	// Canary, if its Signer is set, is the warrant canary the ledger
	// issues (RefreshCanary).
	Canary CanaryOptions
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// A Ledger publishes events from its sources into the transparency log,
// exactly once each, and keeps the operator's private index of which
// entries are about which account (by Blinder.IndexKey, not by address),
// so that an owner's page finds theirs without scanning the log.
//
// The index lives in an SQLite file beside the log and is derived: the log
// is the truth. An entry appended just before a crash, whose index row was
// never written, is indexed when the ledger next opens (from the entry's
// source and number), and its event is not published again.
type Ledger struct {
	o   LedgerOptions
	dir string
	db  *sqlitedb.DB // the index: one connection (W)

	mu sync.Mutex // serialises Sync and RefreshCanary
}

// Open opens, creating it if needed, the index in dir for o.Log, and
// catches it up with the log.
func OpenLedger(dir string, o LedgerOptions) (*Ledger, error) {
	const op = "transparency.OpenLedger"
	if o.Log == nil || o.Blinder == nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("a ledger needs a log and a blinder"))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := durable.PrivateDir(op, dir); err != nil {
		return nil, err
	}
	// SyncNormal, as the index always had: commits survive a crash of the
	// process but the last ones may be lost to a power failure; entries
	// lost that way are indexed again from the log by catchUp.
	db, err := sqlitedb.Open(filepath.Join(dir, "index.db"), sqlitedb.Options{Sync: sqlitedb.SyncNormal})
	if err != nil {
		return nil, errors.E(op, err)
	}
	l := &Ledger{o: o, dir: dir, db: db}
	if err := l.migrate(); err != nil {
		db.Close()
		return nil, errors.E(op, err)
	}
	if err := l.catchUp(context.Background()); err != nil {
		db.Close()
		return nil, errors.E(op, err)
	}
	return l, nil
}

// Close closes the index (not the log).
func (l *Ledger) Close() error { return l.db.Close() }

func (l *Ledger) migrate() error {
	_, err := l.db.W.Exec(`
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (src TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
	idx      INTEGER PRIMARY KEY,
	src      TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	account  TEXT NOT NULL,  -- Blinder.IndexKey, '' if none
	demand   TEXT NOT NULL,  -- '' if none
	covered  TEXT NOT NULL,  -- nondisclosure_until of a covered entry, 'withheld', or ''
	revealed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entries_account ON entries (account, demand) WHERE account != '';`)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	return nil
}

func (l *Ledger) meta(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, k string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = ?`, k).Scan(&v)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return v, err
}

// indexed returns how many log entries the index covers.
func (l *Ledger) indexed(ctx context.Context) (uint64, error) {
	var n sql.NullInt64
	if err := l.db.W.QueryRowContext(ctx, `SELECT MAX(idx) + 1 FROM entries`).Scan(&n); err != nil {
		return 0, errors.E(errors.Internal, err)
	}
	return uint64(n.Int64), nil
}

// catchUp indexes the log's entries the index lacks (appended before a
// crash, or the whole log if the index was lost), from their sources.
func (l *Ledger) catchUp(ctx context.Context) error {
	from, err := l.indexed(ctx)
	if err != nil {
		return err
	}
	size := l.o.Log.Size()
	if from > size {
		return errors.E(errors.Internal, errors.Errorf("the index covers %d entries but the log has %d", from, size))
	}
	var pending [][]byte
	for i := from; i < size; i++ {
		if len(pending) == 0 {
			if pending, err = l.o.Log.Entries(ctx, i, min(size, i+4096)); err != nil {
				return err
			}
		}
		data := pending[0]
		pending = pending[1:]
		e, err := Parse(data)
		if err != nil {
			return errors.E(errors.Internal, errors.Errorf("log entry %d: %w", i, err))
		}
		var ev sealpost.SequencedEvent
		if src, ok := l.o.Sources[e.Src]; ok {
			evs, err := src.Events(ctx, e.Seq-1, 1)
			if err != nil {
				return err
			}
			if len(evs) == 1 && evs[0].Seq == e.Seq {
				ev = evs[0]
			}
		}
		if ev.Seq == 0 {
			// An entry of no source (a canary) or one whose source is not
			// open here: indexed as about no account.
			ev = sealpost.SequencedEvent{Seq: e.Seq, Event: sealpost.Event{Kind: e.Kind}}
		}
		if err := l.index(ctx, i, e.Src, ev, nil); err != nil {
			return err
		}
	}
	return nil
}

// index records entry i, made from ev of src, and the reveals it carried.
func (l *Ledger) index(ctx context.Context, i uint64, src string, ev sealpost.SequencedEvent, reveals []Reveal) error {
	return l.indexAll(ctx, i, src, []sealpost.SequencedEvent{ev}, reveals)
}

// indexAll records, in one transaction, the entries first, first+1, … made
// from evs of src, and the reveals the first carried.
func (l *Ledger) indexAll(ctx context.Context, first uint64, src string, evs []sealpost.SequencedEvent, reveals []Reveal, opens ...Opening) error {
	tx, err := l.db.W.BeginTx(ctx, nil)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	defer tx.Rollback()
	for k, ev := range evs {
		account, covered := "", ""
		if ev.Account != "" {
			account = l.o.Blinder.IndexKey(ev.Account)
		}
		switch {
		case l.o.Withholding.Withheld(ev.Detail, ev.Time):
			covered = "withheld"
		case ev.Account != "" && Gagged(ev.Detail, ev.Time):
			covered = ev.Detail["nondisclosure_until"]
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO entries (idx, src, seq, account, demand, covered) VALUES (?, ?, ?, ?, ?, ?)`,
			int64(first)+int64(k), src, ev.Seq, account, ev.Detail["demand"], covered); err != nil {
			return errors.E(errors.Internal, err)
		}
		if slices.Contains(l.o.Canary.LapseOn, ev.Detail["instrument"]) {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO meta (k, v) VALUES ('canary_lapse', ?)`, ev.Time.UTC().Format(time.RFC3339)); err != nil {
				return errors.E(errors.Internal, err)
			}
		}
	}
	marked := make([]uint64, 0, len(reveals)+len(opens))
	for _, r := range reveals {
		marked = append(marked, r.Index)
	}
	for _, o := range opens {
		marked = append(marked, o.Index)
	}
	for _, i := range marked {
		if _, err := tx.ExecContext(ctx, `UPDATE entries SET revealed = 1 WHERE idx = ?`, int64(i)); err != nil {
			return errors.E(errors.Internal, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cursors (src, seq) VALUES (?, ?) ON CONFLICT (src) DO UPDATE SET seq = MAX(seq, excluded.seq)`, src, evs[len(evs)-1].Seq); err != nil {
		return errors.E(errors.Internal, err)
	}
	if err := tx.Commit(); err != nil {
		return errors.E(errors.Internal, err)
	}
	return nil
}

func (l *Ledger) cursor(ctx context.Context, src string) (int64, error) {
	var seq int64
	err := l.db.W.QueryRowContext(ctx, `SELECT seq FROM cursors WHERE src = ?`, src).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, errors.E(errors.Internal, err)
	}
	return seq, nil
}

// syncBatch is how many events Sync reads from a source at a time.
const syncBatch = 256

// Sync publishes every event its sources hold that the log does not, in
// each source's order, and returns how many it published. It stops at the
// first error; the next Sync resumes there.
func (l *Ledger) Sync(ctx context.Context) (int, error) {
	const op = "transparency.Sync"
	l.mu.Lock()
	defer l.mu.Unlock()
	// An append whose index row failed to commit (an earlier Sync's error)
	// is indexed first, so that its event is not published again.
	if err := l.catchUp(ctx); err != nil {
		return 0, errors.E(op, err)
	}
	names := make([]string, 0, len(l.o.Sources))
	for n := range l.o.Sources {
		names = append(names, n)
	}
	slices.Sort(names)
	n := 0
	for _, name := range names {
		for {
			after, err := l.cursor(ctx, name)
			if err != nil {
				return n, errors.E(op, err)
			}
			evs, err := l.o.Sources[name].Events(ctx, after, syncBatch)
			if err != nil {
				return n, errors.E(op, errors.Unavailable, err)
			}
			full := len(evs) == syncBatch
			for len(evs) > 0 {
				// A notice's entry (Treatment.Reveals) reveals earlier
				// ones, which must be indexed first: it starts a chunk
				// of its own.
				k := 1
				for k < len(evs) && !treatments[evs[k].Kind].Reveals {
					k++
				}
				if err := l.publish(ctx, name, evs[:k]); err != nil {
					return n, errors.E(op, err)
				}
				n += k
				evs = evs[k:]
			}
			if !full {
				break
			}
		}
	}
	return n, nil
}

// publish appends the entries for evs, in order, and indexes them. Only
// the first may reveal or open earlier entries: a notice sent once an
// order has lapsed reveals the salts of the entries it covered and, for a
// withheld instrument, opens the withheld entries of its demand.
func (l *Ledger) publish(ctx context.Context, src string, evs []sealpost.SequencedEvent) error {
	var reveals []Reveal
	var opens []Opening
	if ev := evs[0]; treatments[ev.Kind].Reveals && ev.Account != "" && ev.Detail["demand"] != "" {
		var err error
		if reveals, err = l.covered(ctx, ev.Account, ev.Detail["demand"]); err != nil {
			return err
		}
		if l.o.Withholding.Listed(ev.Detail) && !l.o.Withholding.Withheld(ev.Detail, ev.Time) {
			if opens, err = l.openings(ctx, ev.Detail["demand"]); err != nil {
				return err
			}
		}
	}
	entries := make([][]byte, len(evs))
	for k, ev := range evs {
		var rv []Reveal
		if k == 0 {
			rv = reveals
		}
		var op []Opening
		if k == 0 {
			op = opens
		}
		pub, _ := l.o.Blinder.Build(src, ev.Seq, ev.Event, l.o.Withholding, rv, op...)
		entries[k] = pub.Marshal()
	}
	first, err := l.o.Log.AppendAll(ctx, entries)
	if err != nil {
		return err
	}
	return l.indexAll(ctx, first, src, evs, reveals, opens...)
}

// maxOpenings bounds the openings one entry carries (each is a whole entry,
// and an entry is at most 64 KiB); a demand's later notices open the rest.
const maxOpenings = 32

// openings rebuilds, from their sources, the full entries of a demand's
// withheld entries not yet opened.
func (l *Ledger) openings(ctx context.Context, demand string) ([]Opening, error) {
	rows, err := l.db.W.QueryContext(ctx, `SELECT idx, src, seq FROM entries WHERE demand = ? AND covered = 'withheld' AND revealed = 0 ORDER BY idx LIMIT ?`, demand, maxOpenings)
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	type row struct {
		idx, seq int64
		src      string
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.idx, &r.src, &r.seq); err != nil {
			rows.Close()
			return nil, errors.E(errors.Internal, err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	var out []Opening
	for _, r := range rs {
		src, ok := l.o.Sources[r.src]
		if !ok {
			continue
		}
		evs, err := src.Events(ctx, r.seq-1, 1)
		if err != nil {
			return nil, err
		}
		if len(evs) != 1 || evs[0].Seq != r.seq {
			continue
		}
		_, full := l.o.Blinder.Build(r.src, r.seq, evs[0].Event, l.o.Withholding, nil)
		out = append(out, Opening{Index: uint64(r.idx), Salt: hex.EncodeToString(l.o.Blinder.Salt(r.src, r.seq)), Entry: string(full.Marshal())})
	}
	return out, nil
}

// covered returns reveals for the covered, unrevealed entries about addr
// for a demand.
func (l *Ledger) covered(ctx context.Context, addr, demand string) ([]Reveal, error) {
	rows, err := l.db.W.QueryContext(ctx, `SELECT idx, src, seq FROM entries WHERE account = ? AND demand = ? AND covered != '' AND covered != 'withheld' AND revealed = 0 ORDER BY idx`,
		l.o.Blinder.IndexKey(addr), demand)
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	defer rows.Close()
	var out []Reveal
	for rows.Next() {
		var idx, seq int64
		var src string
		if err := rows.Scan(&idx, &src, &seq); err != nil {
			return nil, errors.E(errors.Internal, err)
		}
		out = append(out, Reveal{Index: uint64(idx), Salt: hex.EncodeToString(l.o.Blinder.Salt(src, seq))})
	}
	return out, rows.Err()
}

// Owned returns the entries about addr its owner may see at now, with their
// inclusion proofs in the tree of the latest checkpoint. Entries a
// nondisclosure order covers at now, and withheld entries, are left out.
func (l *Ledger) Owned(ctx context.Context, addr string, now time.Time) (Checked, error) {
	const op = "transparency.Owned"
	cp := l.o.Log.Checkpoint()
	size := l.o.Log.Size()
	c := Checked{Checkpoint: cp, VerifierKey: l.o.Log.VerifierKey()}
	// The checkpoint read first may be older than Size: prove against it.
	if n, err := checkpointSize(cp); err == nil && n < size {
		size = n
	}
	rows, err := l.db.W.QueryContext(ctx, `SELECT idx, src, seq, covered FROM entries WHERE account = ? AND idx < ? ORDER BY idx`,
		l.o.Blinder.IndexKey(addr), int64(size))
	if err != nil {
		return Checked{}, errors.E(op, errors.Internal, err)
	}
	type row struct {
		idx, seq     int64
		src, covered string
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.idx, &r.src, &r.seq, &r.covered); err != nil {
			rows.Close()
			return Checked{}, errors.E(op, errors.Internal, err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	for _, r := range rs {
		if r.covered == "withheld" {
			continue
		}
		if r.covered != "" {
			until, err := time.Parse(time.DateOnly, r.covered)
			if err != nil || now.Before(until) {
				continue
			}
		}
		data, err := l.o.Log.Entry(ctx, uint64(r.idx))
		if err != nil {
			return Checked{}, errors.E(op, err)
		}
		e, err := Parse(data)
		if err != nil {
			return Checked{}, errors.E(op, errors.Internal, errors.Errorf("log entry %d: %w", r.idx, err))
		}
		proof, err := l.o.Log.InclusionProof(ctx, uint64(r.idx), size)
		if err != nil {
			return Checked{}, errors.E(op, err)
		}
		o := Owned{Index: uint64(r.idx), Data: data, Entry: e, Salt: e.Salt}
		if o.Salt == "" {
			o.Salt = hex.EncodeToString(l.o.Blinder.Salt(r.src, r.seq))
		}
		for _, h := range proof {
			o.Proof = append(o.Proof, [32]byte(h))
		}
		c.Entries = append(c.Entries, o)
	}
	return c, nil
}

// Mine reports whether the entry at index is one of addr's (by the index).
func (l *Ledger) Mine(ctx context.Context, addr string, index uint64) (bool, error) {
	var n int
	err := l.db.W.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries WHERE idx = ? AND account = ?`, int64(index), l.o.Blinder.IndexKey(addr)).Scan(&n)
	if err != nil {
		return false, errors.E("transparency.Mine", errors.Internal, err)
	}
	return n > 0, nil
}

// AccountSecret returns addr's secret (Blinder.AccountSecret).
func (l *Ledger) AccountSecret(addr string) []byte { return l.o.Blinder.AccountSecret(addr) }

// Handler serves the log (tlog.Log.Handler).
func (l *Ledger) Handler() http.Handler { return l.o.Log.Handler() }

// Checkpoint returns the log's latest checkpoint.
func (l *Ledger) Checkpoint() []byte { return l.o.Log.Checkpoint() }

// VerifierKey returns the key that checks the log's checkpoints.
func (l *Ledger) VerifierKey() string { return l.o.Log.VerifierKey() }

// ProofBundle returns the C2SP tlog-proof of the entry at index.
func (l *Ledger) ProofBundle(ctx context.Context, index uint64) ([]byte, error) {
	return l.o.Log.ProofBundle(ctx, index)
}

// Snapshot returns the latest checkpoint and every entry it commits to.
func (l *Ledger) Snapshot(ctx context.Context) ([]byte, [][]byte, error) {
	cp := l.o.Log.Checkpoint()
	n, err := checkpointSize(cp)
	if err != nil {
		return nil, nil, errors.E("transparency.Snapshot", errors.Internal, err)
	}
	entries, err := l.o.Log.Entries(ctx, 0, n)
	if err != nil {
		return nil, nil, errors.E("transparency.Snapshot", err)
	}
	return cp, entries, nil
}

// checkpointSize reads the tree size of a signed checkpoint (our own, so
// its signature is not checked here).
func checkpointSize(cp []byte) (uint64, error) {
	i := bytes.Index(cp, []byte("\n\n"))
	if i < 0 {
		return 0, errors.Str("checkpoint is not a signed note")
	}
	var c fmtlog.Checkpoint
	if _, err := c.Unmarshal(cp[:i+1]); err != nil {
		return 0, err
	}
	return c.Size, nil
}
