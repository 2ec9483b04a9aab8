package backup

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/fs"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/sqlitedb"
	"github.com/sealpost/sealpost/seal"
	"github.com/sealpost/sealpost/tlog"
)

// Verify checks a restored deployment, adding to rep what it checked:
//
//   - every SQLite database passes PRAGMA integrity_check;
//   - every message and queue entry of each region with an SQLite store
//     names a blob that is present, whole (the blob store's own checks:
//     the pack record's CRC) and in a sealed form (seal.CheckSealed: it
//     cannot be opened without its owner's password, which is as it
//     should be);
//   - the transparency log opens (recovering as after a crash) and
//     verifies, every tile and entry against its signed checkpoint.
//
// The first failure is an Invalid error naming what failed.
func Verify(ctx context.Context, p Plan, o RestoreOptions, rep *Report) error {
	const op = "backup.Verify"
	var dbs []string
	filepath.WalkDir(p.DataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && isSQLite(path) {
			dbs = append(dbs, path)
		}
		return nil
	})
	for _, path := range append([]string{p.Directory}, dbs...) {
		if err := integrity(ctx, path); err != nil {
			return named(op, err)
		}
	}
	for _, r := range p.Regions {
		if r.Store == "" || r.BlobKind == Remote {
			continue
		}
		if _, err := os.Stat(r.Store); os.IsNotExist(err) {
			continue // a region the backup did not hold
		}
		if err := integrity(ctx, r.Store); err != nil {
			return named(op, err)
		}
		n, err := verifyBlobs(ctx, r, o.Verify)
		rep.Messages += n
		if err != nil {
			return named(op, err)
		}
	}
	if o.LogKey != "" && p.Log != "" {
		size, err := verifyLog(ctx, p.Log, o.LogKey)
		if err != nil {
			return named(op, err)
		}
		rep.LogSize = size
	}
	return nil
}

// integrity runs SQLite's integrity_check on the database at path.
func integrity(ctx context.Context, path string) error {
	db, err := sqlitedb.Open(path, sqlitedb.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.W.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return errors.E(errors.Invalid, errors.Errorf("%s: integrity check: %v", filepath.Base(path), err))
	}
	if res != "ok" {
		return errors.E(errors.Invalid, errors.Errorf("%s: integrity check: %s", filepath.Base(path), res))
	}
	return nil
}

// blobRow is one blob the metadata references.
type blobRow struct {
	ref     sealpost.BlobRef
	pgpMIME bool // an own-key account's message (key 0), kept as PGP/MIME
	queue   bool
}

// blobRows reads the blobs a region's metadata references, in one
// transaction.
func blobRows(ctx context.Context, db *sql.DB) ([]blobRow, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	defer tx.Rollback()
	q, err := tx.QueryContext(ctx, `SELECT blob_ref, key_id = 0, FALSE FROM messages UNION ALL SELECT blob_ref, FALSE, TRUE FROM queue`)
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	defer q.Close()
	var rows []blobRow
	for q.Next() {
		var b blobRow
		if err := q.Scan(&b.ref, &b.pgpMIME, &b.queue); err != nil {
			return nil, errors.E(errors.Internal, err)
		}
		rows = append(rows, b)
	}
	if err := q.Err(); err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	return rows, nil
}

// openBlobs opens the blob store of kind in dir, which no server has open.
func openBlobs(kind BlobKind, dir string) (sealpost.BlobStore, func() error, error) {
	switch kind {
	case Pack:
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, errors.E(errors.Internal, err)
		}
		s, err := pack.Open(dir)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case Files:
		s, err := fs.Open(dir)
		if err != nil {
			return nil, nil, err
		}
		return s, func() error { return nil }, nil
	}
	return nil, nil, errors.E(errors.Invalid, errors.Errorf("blobs of kind %q", kind))
}

// checkBlobs reads back every blob in rows from store: present, whole (the
// store's own checks: the pack record's CRC) and sealed. It returns how
// many it checked before the first failure: a NotExist error when a blob
// is missing, Invalid when it is there but damaged or not sealed.
func checkBlobs(ctx context.Context, id string, store sealpost.BlobStore, rows []blobRow, progress Progress) (int64, error) {
	var n int64
	for _, b := range rows {
		what := "message"
		if b.queue {
			what = "queued message"
		}
		rc, err := store.Get(ctx, b.ref)
		if errors.Is(errors.NotExist, err) {
			return n, errors.E(errors.NotExist, errors.Errorf("region %q: a %s's blob is missing", id, what))
		} else if err != nil {
			return n, errors.E(errors.Invalid, errors.Errorf("region %q: a %s's blob is unreadable (%v)", id, what, errors.KindOf(err)))
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return n, errors.E(errors.Invalid, errors.Errorf("region %q: reading a %s's blob: %v", id, what, err))
		}
		if err := seal.CheckSealed(data, b.pgpMIME); err != nil {
			return n, errors.E(errors.Invalid, errors.Errorf("region %q: a %s's blob is not a sealed message: %v", id, what, err))
		}
		n++
		if progress != nil {
			progress(1, int64(len(data)))
		}
	}
	return n, nil
}

// verifyBlobs reads back every blob restored region r's metadata
// references.
func verifyBlobs(ctx context.Context, r Region, progress Progress) (int64, error) {
	db, err := sqlitedb.Open(r.Store, sqlitedb.Options{})
	if err != nil {
		return 0, err
	}
	rows, err := blobRows(ctx, db.W)
	db.Close()
	if err != nil {
		return 0, err
	}
	store, closeStore, err := openBlobs(r.BlobKind, r.Blobs)
	if err != nil {
		return 0, err
	}
	defer closeStore()
	n, err := checkBlobs(ctx, r.ID, store, rows, progress)
	var e *errors.Error
	if errors.Is(errors.NotExist, err) && errors.As(err, &e) {
		err = errors.E(errors.Invalid, e.Err) // the backup lacks it
	}
	return n, err
}

// verifyLog opens the restored transparency log (recovering it as after a
// crash, rebuilding its tile hashes) and verifies it whole against its
// signed checkpoint.
func verifyLog(ctx context.Context, dir, keyFile string) (uint64, error) {
	if _, err := os.Stat(filepath.Join(dir, "origin")); os.IsNotExist(err) {
		return 0, nil // the backup holds no log
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return 0, errors.E(errors.Invalid, errors.Errorf("the transparency log's key: %v", err))
	}
	skey := strings.TrimSpace(string(b))
	vkey, err := tlog.VerifierKey(skey)
	if err != nil {
		return 0, err
	}
	l, err := tlog.Open(dir, skey, tlog.Options{})
	if err != nil {
		return 0, errors.E(errors.Invalid, errors.Errorf("the transparency log does not open: %v", err))
	}
	defer l.Close()
	if _, err := tlog.Verify(ctx, tlog.HandlerFetcher(l.Handler()), vkey, nil); err != nil {
		return 0, errors.E(errors.Invalid, errors.Errorf("the transparency log does not verify: %v", err))
	}
	return l.Size(), nil
}
