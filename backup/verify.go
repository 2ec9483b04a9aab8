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

// verifyBlobs reads back every blob region r's metadata references.
func verifyBlobs(ctx context.Context, r Region, progress Progress) (int64, error) {
	var rows []blobRow
	db, err := sqlitedb.Open(r.Store, sqlitedb.Options{Readers: 1})
	if err != nil {
		return 0, err
	}
	err = db.Read(ctx, "backup.verifyBlobs", func(tx *sql.Tx) error {
		q, err := tx.QueryContext(ctx, `SELECT blob_ref, key_id = 0, FALSE FROM messages UNION ALL SELECT blob_ref, FALSE, TRUE FROM queue`)
		if err != nil {
			return err
		}
		defer q.Close()
		for q.Next() {
			var b blobRow
			if err := q.Scan(&b.ref, &b.pgpMIME, &b.queue); err != nil {
				return err
			}
			rows = append(rows, b)
		}
		return q.Err()
	})
	db.Close()
	if err != nil {
		return 0, errors.E(errors.Internal, err)
	}
	var store sealpost.BlobStore
	switch r.BlobKind {
	case Pack:
		if err := os.MkdirAll(r.Blobs, 0o700); err != nil {
			return 0, errors.E(errors.Internal, err)
		}
		ps, err := pack.Open(r.Blobs)
		if err != nil {
			return 0, err
		}
		defer ps.Close()
		store = ps
	case Files:
		fsStore, err := fs.Open(r.Blobs)
		if err != nil {
			return 0, err
		}
		store = fsStore
	}
	var n int64
	for _, b := range rows {
		what := "message"
		if b.queue {
			what = "queued message"
		}
		rc, err := store.Get(ctx, b.ref)
		if err != nil {
			return n, errors.E(errors.Invalid, errors.Errorf("region %q: a %s's blob is unreadable (%v)", r.ID, what, errors.KindOf(err)))
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return n, errors.E(errors.Invalid, errors.Errorf("region %q: reading a %s's blob: %v", r.ID, what, err))
		}
		if err := seal.CheckSealed(data, b.pgpMIME); err != nil {
			return n, errors.E(errors.Invalid, errors.Errorf("region %q: a %s's blob is not a sealed message: %v", r.ID, what, err))
		}
		n++
		if progress != nil {
			progress(1, int64(len(data)))
		}
	}
	return n, nil
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
