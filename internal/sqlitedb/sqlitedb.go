// Package sqlitedb owns how Sealpost opens an SQLite database (the pure-Go
// modernc.org/sqlite driver): the pragmas every connection runs, one writer
// connection whose transactions begin IMMEDIATE, an optional pool of
// read-only connections beside it, the check that the file really is in
// WAL mode, and which paths are accepted. The region store, the legal
// store, the directory and the transparency ledger's index all open their
// files here; what they keep in them is theirs.
//
// # Connections
//
// SQLite has one writer at a time. DB.W is a single connection, so writes
// queue in database/sql rather than spin on SQLITE_BUSY, and its
// transactions take the write lock at BEGIN (BEGIN IMMEDIATE): a read
// transaction never has to upgrade to a write lock, which can fail with
// SQLITE_BUSY whatever the busy timeout. Other processes sharing the file
// (an admin command on a running server's data folder) wait up to the busy
// timeout. DB.R, when asked for, is a pool of connections with query_only
// set, which WAL lets read committed snapshots while the writer writes.
//
// # Durability
//
// Every connection runs in WAL mode with foreign keys enforced and a 10 s
// busy timeout. With SyncFull (the default) a transaction is on disk when
// its COMMIT returns; SyncNormal may lose the last commits to a power
// failure (never to a process crash), for data that can be rebuilt.
package sqlitedb

import (
	"context"
	"database/sql"
	"os"
	"strings"

	"modernc.org/sqlite" // and its database/sql driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sealpost/sealpost/errors"
)

// Sync is the synchronous level of every connection (PRAGMA synchronous).
type Sync uint8

const (
	// SyncFull (the default) makes a commit durable, power failures
	// included, when COMMIT returns.
	SyncFull Sync = iota
	// SyncNormal syncs only at WAL checkpoints: a commit survives a crash of
	// the process but may be lost in a power failure. For derived data only.
	SyncNormal
)

func (s Sync) pragma() (string, error) {
	switch s {
	case SyncFull:
		return "synchronous(FULL)", nil
	case SyncNormal:
		return "synchronous(NORMAL)", nil
	}
	return "", errors.Errorf("unknown sync level %d", s)
}

// Options configure Open. The zero value is the writer alone, SyncFull.
type Options struct {
	// Sync is the synchronous level; SyncFull unless set.
	Sync Sync
	// Readers is the size of the read-only pool DB.R; 0 opens none.
	Readers int
}

// DB is an open database: its writer and, if asked for, its readers. Both
// are safe for concurrent use; DB.W must stay at one connection.
type DB struct {
	W *sql.DB // the single writer connection: BEGIN IMMEDIATE
	R *sql.DB // read-only connections (query_only), nil without Options.Readers
}

// Open opens, creating it if needed, the database at path: a plain file
// path. It refuses (Invalid) an empty path, ":memory:" (each connection
// would get its own database), a "file:" URI, and a path holding '?' (the
// driver would take its tail for parameters and open another file). It
// checks that the file runs in WAL mode (Internal if not: the pragma fails
// silently on some file systems, and durability would differ).
func Open(path string, o Options) (*DB, error) {
	const op = "sqlitedb.Open"
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("unsupported database path %q", path))
	}
	sync, err := o.Sync.pragma()
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	if o.Readers < 0 {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("%d readers", o.Readers))
	}
	// The driver runs busy_timeout first and the other _pragma values in
	// lexicographic order, so journal_mode is set before synchronous, and
	// before a reader's query_only.
	dsn := path + "?_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=" + sync
	ctx := context.Background()
	if err := private(path); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}

	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := checkWAL(ctx, w); err != nil {
		w.Close()
		return nil, errors.E(op, err)
	}
	db := &DB{W: w}
	if o.Readers == 0 {
		return db, nil
	}

	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, errors.E(op, errors.Internal, err)
	}
	r.SetMaxOpenConns(o.Readers)
	r.SetMaxIdleConns(o.Readers)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, errors.E(op, errors.Internal, err)
	}
	db.R = r
	return db, nil
}

// checkWAL makes sure the connection really runs in WAL mode.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return errors.E(errors.Internal, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return errors.E(errors.Internal, errors.Errorf("journal_mode is %q, want wal", mode))
	}
	return nil
}

// Close closes the readers and the writer. The caller must have finished
// with both.
func (db *DB) Close() error {
	var rerr error
	if db.R != nil {
		rerr = db.R.Close()
	}
	werr := db.W.Close()
	if werr != nil {
		return errors.E("sqlitedb.Close", errors.Internal, werr)
	}
	if rerr != nil {
		return errors.E("sqlitedb.Close", errors.Internal, rerr)
	}
	return nil
}

// KindOf classifies an error from database/sql over SQLite: an error that
// already has a Kind keeps it; a canceled context and SQLITE_BUSY, LOCKED
// or INTERRUPT are Unavailable (retrying may succeed); no rows and a
// foreign-key violation are NotExist (a row refers to something missing);
// a unique or primary-key violation is Exist; a CHECK or NOT NULL
// violation is Invalid; anything else is Internal.
func KindOf(err error) errors.Kind {
	if k := errors.KindOf(err); k != errors.Other {
		return k
	}
	switch {
	case errors.IsErr(err, context.Canceled), errors.IsErr(err, context.DeadlineExceeded):
		return errors.Unavailable
	case errors.IsErr(err, sql.ErrNoRows):
		return errors.NotExist
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return errors.Exist
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return errors.NotExist
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return errors.Invalid
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT:
			return errors.Unavailable
		}
	}
	return errors.Internal
}

// E is err as an error of op, classified by KindOf; nil for nil.
func E(op string, err error) error {
	if err == nil {
		return nil
	}
	return errors.E(op, KindOf(err), err)
}

// Write runs fn in a transaction on the writer and commits it; an error
// from fn rolls it back. Errors are returned as errors of op (E).
func (db *DB) Write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return E(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return E(op, err)
	}
	return E(op, tx.Commit())
}

// Read runs fn in a read transaction on the readers, so that it sees one
// snapshot. Errors are returned as errors of op (E).
func (db *DB) Read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.R.BeginTx(ctx, nil)
	if err != nil {
		return E(op, err)
	}
	defer tx.Rollback()
	return E(op, fn(tx))
}

// private makes the database file readable by its owner alone, creating
// it empty if it does not exist: SQLite creates its -wal and -shm files
// with the database file's permissions, so they follow.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(0o600)
}
