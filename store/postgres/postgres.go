// Package postgres is Sealpost's metadata store for deployments that outgrow
// one machine: a sealpost.Store in a PostgreSQL database, through
// github.com/jackc/pgx/v5's connection pool.
//
// It holds the same metadata as store/sqlite (domains, accounts and their
// wrapped keys, mailboxes, message rows, the outbound queue, accounts'
// sealed objects) in the same tables, and makes the same choices wherever
// the sealpost.Store contract is silent; store/storetest checks both.
// Message bodies live sealed in a sealpost.BlobStore.
//
// # Durability and concurrency
//
// Every change is one transaction, committed before the method returns nil;
// with PostgreSQL's default synchronous_commit the commit is on disk by
// then. Transactions run at READ COMMITTED, and where that is not enough
// they take row locks in a fixed order:
//   - AddMessages and CopyMessages take a mailbox's next UID with UPDATE
//     mailboxes ... RETURNING, whose row lock lasts until commit, so UIDs are
//     assigned in commit order within a mailbox. A call touching several
//     mailboxes locks them in ID order first, so two calls cannot deadlock.
//   - SetFlags, Expunge, DeleteMailbox and DeleteAccount lock the mailbox
//     rows they change first, so a concurrent delivery lands either wholly
//     before or wholly after them.
//   - CopyMessages locks its source mailbox too (and reads the sources FOR
//     SHARE besides), so it cannot copy a message an expunge is removing.
//     A transaction that drops a blob reference looks for the remaining ones
//     FOR SHARE, waiting for any transaction deleting them: a blob is
//     reported unreferenced exactly once, by the last transaction to drop a
//     reference to it (two such transactions may deadlock; the loser's
//     retry reports it).
//
// Many concurrent AddMessages calls each run their own transaction;
// PostgreSQL's own group commit (commit_delay aside, one WAL flush serves
// every commit waiting for it) batches their fsyncs. A transaction that
// fails with a serialization failure or a deadlock (SQLSTATE 40001, 40P01)
// is retried a few times.
//
// # CockroachDB
//
// The SQL is kept to what CockroachDB also accepts, except where noted:
// pg_advisory_xact_lock (schema.go; CockroachDB serializes the concurrent
// migrations itself, and the retry on 40001 covers the loser), and the
// UIDVALIDITY sequence, which CockroachDB caches per node unless told not to
// (values stay unique but may not grow in creation order across nodes).
// ImportAccount raises that sequence with setval (region.go); a node that
// cached values below the raised one would still hand them out, so on
// CockroachDB the sequence must be created with CACHE 1 for imports to
// keep their guarantee. Claim (INSERT ... ON CONFLICT DO NOTHING) and the
// REPEATABLE READ snapshots of ExportAccount and Inventory (SERIALIZABLE
// there) need nothing special.
package postgres

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Store is a sealpost.Store in a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool

	// adds feeds the group committer (commit.go). mu guards closing it:
	// senders hold mu.RLock while sending, Close takes mu.Lock.
	adds chan *addReq
	mu   sync.RWMutex
	done chan struct{} // closed when the committer has exited
}

var _ sealpost.Store = (*Store)(nil)

// maxAttempts is how many times a transaction is tried when it fails with a
// serialization failure or a deadlock.
const maxAttempts = 5

// Open connects to the database named by dsn (a libpq connection string or
// URL; pgxpool's pool_* parameters are honoured) and brings its schema up to
// date. It refuses a database whose schema is newer than this program.
func Open(ctx context.Context, dsn string) (*Store, error) {
	const op = "postgres.Open"
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	// pgxpool's default, max(4, CPUs) connections, caps concurrent
	// deliveries at four transactions: the server then flushes WAL for
	// four commits at a time. SMTP sessions deliver concurrently (the
	// benchmark runs 32), so allow as many, unless the DSN says otherwise.
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, dbErr(op, err)
	}
	s := &Store{pool: pool, adds: make(chan *addReq, 4*maxBatch), done: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, errors.E(op, err)
	}
	go s.commitLoop()
	return s, nil
}

// Close closes the connection pool, waiting for connections in use to be
// returned. Calls after Close fail with Unavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	close(s.adds)
	s.mu.Unlock()
	<-s.done // pending deliveries commit first
	s.pool.Close()
	return nil
}

// errClosed is the cause of every call after Close.
var errClosed = errors.Str("store closed")

// write runs fn in a READ COMMITTED transaction and commits, retrying the
// whole transaction on a serialization failure or a deadlock. fn must reset
// anything it reports, as it may run more than once. An error from fn rolls
// back and is returned wrapped in op.
func (s *Store) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if s.closed.Load() {
		return errors.E(op, errors.Unavailable, errClosed)
	}
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return dbErr(op, ctx.Err())
			case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
			}
		}
		err = s.tryWrite(ctx, fn)
		if err == nil || !retryable(err) {
			break
		}
	}
	return dbErr(op, err)
}

func (s *Store) tryWrite(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return tx.Commit(ctx)
}

// read checks that the store is open before a query outside a transaction.
func (s *Store) read(op string) error {
	if s.closed.Load() {
		return errors.E(op, errors.Unavailable, errClosed)
	}
	return nil
}

// SQLSTATE codes the store acts on.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeQueryCanceled        = "57014"
	codeTooManyConnections   = "53300"
	codeCannotConnectNow     = "57P03"
	codeBadCharacter         = "22021" // e.g. NUL or invalid UTF-8 in TEXT
	codeUntranslatable       = "22P05"
)

// sqlState returns err's SQLSTATE, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// retryable reports whether a transaction that failed with err may succeed
// if run again from the start.
func retryable(err error) bool {
	switch sqlState(err) {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	}
	return false
}

// dbErr wraps err in op, giving a kind to errors that come straight from the
// driver or the server.
func dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.KindOf(err) != errors.Other {
		return errors.E(op, err)
	}
	switch {
	case errors.IsErr(err, context.Canceled), errors.IsErr(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return errors.E(op, errors.Unavailable, err)
	case errors.IsErr(err, pgx.ErrNoRows):
		return errors.E(op, errors.NotExist, err)
	}
	switch sqlState(err) {
	case codeUniqueViolation:
		return errors.E(op, errors.Exist, err)
	case codeForeignKeyViolation:
		return errors.E(op, errors.NotExist, err)
	case codeBadCharacter, codeUntranslatable:
		return errors.E(op, errors.Invalid, err)
	case codeSerializationFailure, codeDeadlockDetected, codeQueryCanceled, codeTooManyConnections, codeCannotConnectNow:
		return errors.E(op, errors.Unavailable, err)
	case "":
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) {
			return errors.E(op, errors.Unavailable, err)
		}
	}
	return errors.E(op, errors.Internal, err)
}

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

// exists runs a query that selects at most one row and reports whether it
// did.
func exists(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRow(ctx, query, args...).Scan(&one)
	switch {
	case err == nil:
		return true, nil
	case errors.IsErr(err, pgx.ErrNoRows):
		return false, nil
	}
	return false, err
}

// unreferenced returns, sorted, the blobs among candidates that no message
// and no queued message refers to any more. It runs inside the transaction
// that removed the references, after removing them. The remaining
// references are read FOR SHARE: a row another transaction is deleting
// makes this one wait for it, and counts only if that transaction rolls
// back. Two transactions each deleting one of two last references may then
// deadlock; the retry of the loser sees the winner's delete and reports the
// blob.
func unreferenced(ctx context.Context, tx pgx.Tx, candidates map[sealpost.BlobRef]bool) ([]sealpost.BlobRef, error) {
	if len(candidates) == 0 {
		return nil, nil
	}
	refs := make([]string, 0, len(candidates))
	for ref := range candidates {
		refs = append(refs, string(ref))
	}
	slices.Sort(refs)
	var out []sealpost.BlobRef
	for _, ref := range refs {
		found, err := exists(ctx, tx, `SELECT 1 FROM messages WHERE blob_ref = $1 LIMIT 1 FOR SHARE`, ref)
		if err != nil {
			return nil, err
		}
		if !found {
			found, err = exists(ctx, tx, `SELECT 1 FROM queue WHERE blob_ref = $1 LIMIT 1 FOR SHARE`, ref)
			if err != nil {
				return nil, err
			}
		}
		if !found {
			out = append(out, sealpost.BlobRef(ref))
		}
	}
	return out, nil
}
