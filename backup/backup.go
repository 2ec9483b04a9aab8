// Package backup makes consistent online snapshots of a deployment's data
// folder (`sealpost backup`) and restores them into an empty one
// (`sealpost restore`), checking what it restored.
//
// # What a backup holds
//
// Everything the data folder holds, as the server left it: the global
// directory, each served region's metadata store (SQLite) and sealed blobs
// (pack segments or blob files), the transparency log and its index, the
// legal store, the event journal, DKIM keys (sealed to the deployment key),
// the sealed outbound queue, the TLS and other key files. Keys that are
// sealed stay sealed: the backup holds nothing a disk thief could open that
// the data folder would not give them, so it must be kept as the data
// folder is (the same user, mode 0700). Not held: a PostgreSQL store (use
// pg_dump, docs/OPERATIONS.md), an S3 bucket (the bucket's own versioning
// or replication), the temporary folder, sockets and lock files.
//
// # Consistency while the server runs
//
// Nothing here opens a store the server has open: the pack store holds an
// exclusive flock, and the transparency log one too. Instead the copy is
// ordered so that what each part refers to is already in the parts copied
// after it:
//
//  1. The directory, read once first and once last (step 6): a backup is
//     kept only if both reads agree, so no move between regions (which
//     copies, switches the home in the directory, then deletes the source)
//     ran while the regions were copied. Otherwise it is taken again.
//  2. Every SQLite database except the log's sources (below), each by
//     VACUUM INTO: a transactionally consistent copy taken through SQLite
//     while the server writes (WAL readers do not block the writer).
//  3. Blob segments, each up to the size it had when step 2 had ended.
//     A blob is durable before the metadata naming it commits: postbox
//     seals into BlobStore.Create's writer and calls AddMessages with the
//     ref Commit returned, and the pack store returns a ref only after the
//     record was written at the segment's end and fdatasynced (blob/pack,
//     Put and Commit). Segments only grow, so every blob the step 2
//     snapshots reference lies in the copied prefixes. Records appended
//     later are copied or not; unreferenced, they are garbage the store
//     already tolerates (a torn tail is skipped by List and appended
//     after). Blob files (blob/fs) are written whole before their ref is
//     returned, so the same holds file by file. Then every blob the
//     snapshots name is read back from the copy, as restore will: one
//     deleted after step 2 (an expunge past its grace,
//     postbox.DefaultExpungeGrace = 2 minutes; an account deleted) reads
//     as zeros there, and the backup is taken again.
//  4. The transparency log: its journal of commits first, then the entries
//     file. Its recovery keeps the last commit whose entries are whole and
//     drops any tail (tlog.Open), which is exactly the state of a crash at
//     the moment the journal was read. The derived tile hashes are not
//     copied: tlog.Open rebuilds them from the entries. The log's index
//     (an SQLite file, step 2) was copied before, so it covers at most the
//     log, and the ledger indexes the rest on open.
//  5. The log's sources, the legal store and the event journal, after the
//     log, so that every event the log holds is in them; then every other
//     file (keys, certificates, DKIM state), copied whole.
//  6. The directory again (step 1), then the manifest, written last and
//     fsynced: a backup without one is incomplete.
//
// Every file of the backup is fsynced and listed in the manifest with its
// size and SHA-256. Restore checks all of them before writing anything.
package backup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
)

// BlobKind says how a region keeps its sealed blobs.
type BlobKind string

// The blob kinds, as config names them.
const (
	Pack   BlobKind = "pack"  // append-only segments (blob/pack)
	Files  BlobKind = "files" // one file per blob (blob/fs)
	Remote BlobKind = "s3"    // a bucket: not in the backup
)

// Region is where one region's storage lives.
type Region struct {
	ID string
	// Store is the SQLite file of its metadata; "" when the store is
	// PostgreSQL, which pg_dump backs up.
	Store string
	// Blobs is the folder of its blobs (Pack, Files).
	BlobKind BlobKind
	Blobs    string
}

// Plan names the parts of a deployment's data: the data folder, and the
// stores whose places the configuration chose (which may be outside it).
type Plan struct {
	DataDir   string
	Directory string // the global directory's SQLite file
	Regions   []Region
	// Log is the transparency log's folder (package tlog), copied after
	// every SQLite file but those under LogSources.
	Log string
	// LogSources are the files and folders the log is published from (the
	// legal store, the event journal): copied after the log.
	LogSources []string
	// Skip are paths not copied (the temporary folder).
	Skip []string
}

// Progress is told of each file copied or checked: how many files and
// bytes more. It may be nil.
type Progress func(files, bytes int64)

// Options tune Create.
type Options struct {
	// Progress is told of each file copied; Check of each message blob
	// read back from the copy.
	Progress, Check Progress
	// Attempts bounds how often a backup is taken again when the directory
	// changed while it was taken (a move ran). Zero means 3.
	Attempts int
	// Now is the clock of the manifest's time (time.Now if nil).
	Now func() time.Time
	// afterRegions, for tests, runs between steps 5 and 6; copied after
	// each file is copied.
	afterRegions func()
	copied       func(name string)
}

// Layout of a backup folder.
const (
	manifestName = "MANIFEST.json"
	dirDBName    = "directory.db"
	dataPrefix   = "data"
	regionPrefix = "regions"
)

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// Create writes a backup of p into dir, which must not exist or be empty,
// and returns its manifest.
func Create(ctx context.Context, p Plan, dir string, o Options) (*Manifest, error) {
	const op = "backup.Create"
	if err := emptyDir(dir); err != nil {
		return nil, named(op, err)
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for attempt := 1; ; attempt++ {
		m, retry, err := create(ctx, p, dir, o)
		if err != nil {
			return nil, named(op, err)
		}
		if retry == "" {
			return m, nil
		}
		if attempt == o.Attempts {
			return nil, errors.E(op, errors.Unavailable, errors.Errorf("%s during each of %d attempts; try again later", retry, attempt))
		}
		if err := clearDir(dir); err != nil {
			return nil, named(op, err)
		}
	}
}

// create takes one backup. A non-empty retry says why it must be taken
// again: the directory changed, or blobs it references were deleted.
func create(ctx context.Context, p Plan, dir string, o Options) (m *Manifest, retry string, err error) {
	if err := durable.PrivateDir("backup.Create", dir); err != nil {
		return nil, "", err
	}
	c := &copier{root: dir, progress: o.Progress, copied: o.copied}
	m = &Manifest{Version: manifestVersion, Created: o.Now().UTC()}

	// 1. The directory, first.
	before, err := logicalDigest(ctx, p.Directory)
	if err != nil {
		return nil, "", err
	}
	if err := c.snapshotDB(ctx, p.Directory, dirDBName); err != nil {
		return nil, "", err
	}
	w := walk{p: p}
	if err := w.scan(); err != nil {
		return nil, "", err
	}
	// 2. SQLite databases: the regions' stores, then the others that are
	// not the log's sources.
	for _, r := range p.Regions {
		m.Regions = append(m.Regions, ManifestRegion{ID: r.ID, SQLite: r.Store != "", Blobs: r.BlobKind})
		if r.Store == "" {
			continue
		}
		if err := c.snapshotDB(ctx, r.Store, filepath.Join(regionPrefix, r.ID, "meta.db")); err != nil {
			return nil, "", err
		}
	}
	for _, f := range w.dbs {
		if !w.isSource(f) {
			if err := c.snapshotDB(ctx, f, w.dataName(f)); err != nil {
				return nil, "", err
			}
		}
	}
	// 3. Blobs, each segment up to its size now.
	for _, r := range p.Regions {
		if err := c.copyBlobs(r); err != nil {
			return nil, "", err
		}
	}
	// Every blob the snapshots name must be in the copy (restore checks
	// the same): one deleted since the snapshot means taking it again.
	for _, r := range p.Regions {
		missing, err := checkCopy(ctx, dir, r, o.Check)
		if err != nil {
			return nil, "", err
		}
		if missing {
			return nil, "messages were deleted while their blobs were copied", nil
		}
	}
	// 4. The transparency log: journal, then entries.
	if err := c.copyLog(p.Log, w.dataName(p.Log)); err != nil {
		return nil, "", err
	}
	// 5. The log's sources, then everything else.
	for _, f := range w.dbs {
		if w.isSource(f) {
			if err := c.snapshotDB(ctx, f, w.dataName(f)); err != nil {
				return nil, "", err
			}
		}
	}
	for _, f := range w.files {
		if err := c.copyFile(f, w.dataName(f), -1); err != nil {
			return nil, "", err
		}
	}
	if o.afterRegions != nil {
		o.afterRegions()
	}
	// 6. The directory again: the backup holds if it did not change.
	after, err := logicalDigest(ctx, p.Directory)
	if err != nil {
		return nil, "", err
	}
	if after != before {
		return nil, "the directory changed (accounts moving between regions?)", nil
	}
	m.Files = c.files
	if err := m.write(dir); err != nil {
		return nil, "", err
	}
	return m, "", nil
}

// walk is what the data folder holds besides the stores the plan names.
type walk struct {
	p     Plan
	dbs   []string // SQLite databases
	files []string // every other regular file
}

// scan lists the data folder, leaving out the plan's stores, the log, the
// skipped paths, SQLite's -wal, -shm and -journal files (VACUUM INTO reads
// through them), sockets and lock files.
func (w *walk) scan() error {
	exclude := append([]string{w.p.Directory, w.p.Log}, w.p.Skip...)
	for _, r := range w.p.Regions {
		exclude = append(exclude, r.Store, r.Blobs)
	}
	return filepath.WalkDir(w.p.DataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return errors.E(errors.Internal, err)
		}
		if slices.Contains(exclude, path) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		name := d.Name()
		for _, suffix := range []string{"-wal", "-shm", "-journal"} {
			if base, ok := strings.CutSuffix(path, suffix); ok && isSQLite(base) {
				return nil
			}
		}
		if name == "LOCK" || name == ".lock" {
			return nil
		}
		if isSQLite(path) {
			w.dbs = append(w.dbs, path)
		} else {
			w.files = append(w.files, path)
		}
		return nil
	})
}

// isSource reports whether path is, or is under, one of the log's sources.
func (w *walk) isSource(path string) bool {
	for _, s := range w.p.LogSources {
		if path == s || strings.HasPrefix(path, s+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// dataName is where a file of the data folder goes in the backup.
func (w *walk) dataName(path string) string {
	rel, err := filepath.Rel(w.p.DataDir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		// Outside the data folder (a log placed elsewhere): kept by its
		// base name, which the plan's restore maps back.
		rel = filepath.Join("outside", filepath.Base(path))
	}
	return filepath.Join(dataPrefix, rel)
}

// isSQLite reports whether path is an SQLite database file.
func isSQLite(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(sqliteMagic))
	n, _ := f.ReadAt(b, 0)
	return n == len(b) && string(b) == sqliteMagic
}

// emptyDir checks that dir does not exist or holds nothing.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return errors.E(errors.Invalid, err)
	}
	if len(ents) > 0 {
		return errors.E(errors.Exist, errors.Errorf("%s is not empty", dir))
	}
	return nil
}

// clearDir empties dir, a backup folder this package wrote, for another
// attempt.
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return errors.E(errors.Internal, err)
		}
	}
	return nil
}
