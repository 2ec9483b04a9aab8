package backup

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/errors"
)

// checkCopy reads back from the backup folder dir every blob that region
// r's metadata snapshot references, as restore will. A blob the copy lacks
// was deleted after the snapshot was read (an expunged message whose grace
// ended, an account deleted or moved away): missing is then true, and the
// backup is taken again, when the snapshot no longer names it. Any other
// failure is an error.
func checkCopy(ctx context.Context, dir string, r Region, progress Progress) (missing bool, err error) {
	if r.Store == "" || r.BlobKind == Remote {
		return false, nil
	}
	base := filepath.Join(dir, regionPrefix, r.ID)
	rows, err := snapshotRows(ctx, filepath.Join(base, "meta.db"))
	if err != nil || len(rows) == 0 {
		return false, err
	}
	blobs := filepath.Join(base, "blobs")
	store, closeStore, err := openBlobs(r.BlobKind, blobs)
	if err != nil {
		return false, err
	}
	// The store made a lock file (and, in an empty folder, a segment):
	// neither is in the manifest, and restore does not need them.
	defer func() {
		closeStore()
		os.Remove(filepath.Join(blobs, "LOCK"))
	}()
	_, err = checkBlobs(ctx, r.ID, store, rows, progress)
	if errors.Is(errors.NotExist, err) {
		return true, nil
	}
	return false, err
}

// snapshotRows reads the blob rows of a snapshot in the backup without
// writing to it: opened read-only and immutable (SQLite's URI parameters),
// so no -wal or -shm file appears and its bytes keep their hash.
func snapshotRows(ctx context.Context, path string) ([]blobRow, error) {
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&immutable=1"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	defer db.Close()
	return blobRows(ctx, db)
}
