// Package sqlite is Sealpost's embedded metadata store: a sealpost.Store in a
// single SQLite database file, through the pure-Go modernc.org/sqlite driver
// (no cgo).
//
// It holds only metadata: domains, accounts and their wrapped keys,
// mailboxes, message rows (flags, dates, sizes, blob refs), the outbound
// queue, and accounts' small sealed objects (objects.go: Sieve scripts,
// the spam filter's model, filter key wraps). Message bodies live sealed
// in a sealpost.BlobStore.
//
// # Durability and concurrency
//
// The database runs in WAL mode with synchronous=FULL, so a transaction is on
// disk when its COMMIT returns: a method that returns nil has made its
// change durable, and the SMTP server may then answer 250. Foreign keys are
// enforced, and deleting an account or a mailbox cascades to what it owns.
//
// SQLite has one writer at a time. The Store keeps one writer connection
// (every change goes through it, BEGIN IMMEDIATE) and a small pool of
// read-only connections, which WAL lets read concurrently with the writer;
// internal/sqlitedb opens them.
//
// AddMessages, the hot path of delivery, is group-committed: a committer
// goroutine takes every call pending at the moment, runs each in its own
// SAVEPOINT inside one transaction, and commits once for all of them. A call
// that fails (say, its mailbox was just deleted) rolls back to its savepoint
// and fails alone; the rest of the batch commits. Under load (batches of
// two calls or more) the committer also waits a little for calls that are
// about to come, 1 ms at most (commit.go); calls that come one at a time
// are committed at once.
//
// # Portability
//
// The SQL is written to move to PostgreSQL (store/postgres) with few
// changes: RETURNING instead of LastInsertId, SAVEPOINTs, no SQLite-only
// functions. Placeholders are '?' here and '$n' there; schema.go lists the
// SQLite-isms in the schema.
package sqlite

import (
	"context"
	"database/sql"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/sqlitedb"
)

// Store is a sealpost.Store in an SQLite database. It is safe for
// concurrent use.
type Store struct {
	db *sqlitedb.DB // one writer connection (W), read-only connections (R)

	// jobs feeds the group committer (see commit.go). mu guards closing it:
	// senders hold mu.RLock while sending, Close takes mu.Lock.
	jobs   chan *job
	mu     sync.RWMutex
	closed bool
	done   chan struct{} // closed when the committer has exited

	hot hotStmts // the group committer's statements, prepared once

	// The group commit's wait (commit.go): set at Open; company is the
	// committer's own moving average of calls per batch.
	commitGap, commitWait time.Duration
	company               float64
}

var _ sealpost.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and brings its schema
// up to date. path is a plain file path (see sqlitedb.Open).
func Open(path string) (*Store, error) {
	const op = "sqlite.Open"
	ctx := context.Background()
	db, err := sqlitedb.Open(path, sqlitedb.Options{Readers: max(4, 2*runtime.GOMAXPROCS(0))})
	if err != nil {
		return nil, errors.E(op, err)
	}
	if err := migrate(ctx, db.W); err != nil {
		db.Close()
		return nil, errors.E(op, err)
	}
	s := &Store{
		db:   db,
		jobs: make(chan *job, 4*maxBatch),
		done: make(chan struct{}),

		commitGap:  defaultCommitGap,
		commitWait: defaultCommitWait,
	}
	if err := s.hot.prepare(ctx, db.W); err != nil {
		db.Close()
		return nil, errors.E(op, errors.Internal, err)
	}
	go s.commitLoop()
	return s, nil
}

// Close stops the group committer, after it has finished the calls already
// queued, and closes the database. Calls after Close fail.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.jobs)
	s.mu.Unlock()
	<-s.done
	s.hot.close()
	if err := s.db.Close(); err != nil {
		return errors.E("sqlite.Close", err)
	}
	return nil
}

// dbErr wraps err in op, giving a kind to errors that come straight from the
// driver or database/sql.
func dbErr(op string, err error) error { return sqlitedb.E(op, err) }

// notExist is a NotExist cause naming what is missing.
func notExist(format string, args ...any) error {
	return errors.E(errors.NotExist, errors.Errorf(format, args...))
}

// invalid is an Invalid cause.
func invalid(format string, args ...any) error {
	return errors.E(errors.Invalid, errors.Errorf(format, args...))
}

// exist is an Exist cause.
func exist(format string, args ...any) error {
	return errors.E(errors.Exist, errors.Errorf(format, args...))
}

// sqlBlobUsed finds whether a message or a queue entry references a blob.
const sqlBlobUsed = `SELECT 1 FROM messages WHERE blob_ref = ?
	UNION ALL SELECT 1 FROM queue WHERE blob_ref = ? LIMIT 1`

// unreferenced returns, sorted, the blobs among candidates that no message
// and no queued message refers to any more, asking stmt (sqlBlobUsed,
// bound to the transaction that removed the references; unreferenced
// closes it).
func unreferenced(ctx context.Context, stmt *sql.Stmt, candidates map[sealpost.BlobRef]bool) ([]sealpost.BlobRef, error) {
	defer stmt.Close()
	if len(candidates) == 0 {
		return nil, nil
	}
	var out []sealpost.BlobRef
	for ref := range candidates {
		var one int
		err := stmt.QueryRowContext(ctx, string(ref), string(ref)).Scan(&one)
		switch {
		case errors.IsErr(err, sql.ErrNoRows):
			out = append(out, ref)
		case err != nil:
			return nil, err
		}
	}
	slices.Sort(out)
	return out, nil
}
