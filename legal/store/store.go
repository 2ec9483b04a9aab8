// Package store persists the lawful-demand gateway: the demands as filed
// with their documents, the policy's decisions, each demand's review
// (transitions, approvals, disclosures), legal holds, notices to users, the
// legal officers, and the outbox of events for the transparency log. It
// keeps them in one SQLite file (legal.db in the data folder) and the
// documents in a folder beside it, by SHA-256.
//
// The store is persistence only. It does not decide policy or check that a
// transition is legal (legal/policy and legal/workflow do, and hand it
// values they have validated); it checks integrity: every row's demand and
// officer exist, a decision, hold or notice names a target of its demand,
// names are unique, required fields are not empty, a document's bytes match
// its SHA-256. It never imports package seal: nothing here can open mail.
//
// # Durability and atomicity
//
// The database runs in WAL mode with synchronous=FULL: a method that returns
// nil has made its change durable. Every change is one transaction (BEGIN
// IMMEDIATE), and every change writes its events (see Event) in that same
// transaction, a transactional outbox: an event is never recorded without
// its change, nor a change without its event. Forward then delivers them to
// a sealpost.Recorder, at least once, in order.
//
// A filing's documents are written and fsynced under the documents folder
// before its transaction commits. A filing that fails after that (a
// duplicate, a full disk) leaves its document files behind: they are
// content-addressed blobs that no row names, harmless, and a later filing
// of the same bytes reuses them. They are not deleted, because another
// filing of the same bytes may be about to commit a row naming them.
//
// # Concurrency
//
// A Store is safe for concurrent use, and several processes may share the
// file (an admin command on a running server's data folder): SQLite's one
// writer serializes changes, and readers see committed snapshots.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/sqlitedb"
)

// Store is the gateway's persistence in one SQLite file and a documents
// folder.
type Store struct {
	db     *sqlitedb.DB // one writer connection (W), readers (R)
	docs   string       // the documents folder
	argon2 pwhash.Params
}

// Option configures Open.
type Option func(*Store)

// WithArgon2 sets the Argon2id parameters for new officer passwords (the
// default is pwhash.DefaultParams, as for account passwords). Passwords
// already stored keep the parameters recorded with them.
func WithArgon2(p pwhash.Params) Option { return func(s *Store) { s.argon2 = p } }

// Open opens (creating if needed) the database at path and the documents
// folder docsDir, and brings the schema up to date.
func Open(path, docsDir string, opts ...Option) (*Store, error) {
	const op = "store.Open"
	if docsDir == "" {
		return nil, errors.E(op, errors.Invalid, errors.Str("no documents folder"))
	}
	s := &Store{docs: docsDir, argon2: pwhash.DefaultParams}
	for _, o := range opts {
		o(s)
	}
	if err := s.argon2.Validate(); err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	// The database first: an unusable path is refused before the
	// documents folder is made.
	db, err := sqlitedb.Open(path, sqlitedb.Options{Readers: max(4, runtime.GOMAXPROCS(0))})
	if err != nil {
		return nil, errors.E(op, err)
	}
	if err := os.MkdirAll(docsDir, 0o700); err != nil {
		db.Close()
		return nil, errors.E(op, errors.Internal, err)
	}
	if err := migrate(context.Background(), db.W); err != nil {
		db.Close()
		return nil, errors.E(op, err)
	}
	s.db = db
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return errors.E("store.Close", err)
	}
	return nil
}

// wrap returns err as an error of op, classified by sqlitedb.KindOf (an
// *errors.Error keeps its kind).
func wrap(op string, err error) error { return sqlitedb.E(op, err) }

// Actors of events that no person caused.
const (
	ActorPolicy = "policy"   // the jurisdiction policy's decisions
	ActorSystem = "sealpost" // notices queued and sent by the gateway
	ActorAdmin  = "admin"    // the operator, e.g. adding an officer
)

// addEvent appends an event to the outbox in tx.
func addEvent(ctx context.Context, tx *sql.Tx, kind sealpost.EventKind, account, actor string, at time.Time, detail map[string]string) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO events (at, kind, account, actor, detail) VALUES (?, ?, ?, ?, ?)`,
		at.UnixNano(), string(kind), account, actor, string(b))
	return err
}

// demandState returns a demand's state and its filing as stored, in tx.
// NotExist if there is no such demand.
func demandState(ctx context.Context, tx *sql.Tx, id string) (storedDemand, error) {
	var d storedDemand
	var body string
	err := tx.QueryRowContext(ctx, `SELECT state, demand FROM demands WHERE id = ?`, id).Scan(&d.state, &body)
	if err == sql.ErrNoRows {
		return d, errors.E(errors.NotExist, errors.Errorf("no demand %q", id))
	}
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(body), &d.Demand); err != nil {
		return d, errors.E(errors.Internal, errors.Errorf("demand %s: %w", id, err))
	}
	return d, nil
}

// fromNanos returns a stored time in UTC.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// nullTime returns a stored nullable time.
func nullTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNanos(n.Int64)
	return &t
}

// normalizeAddress is the address form every table stores.
func normalizeAddress(a string) string { return sealpost.NormalizeAddress(a) }

// checkText reports whether s is a usable name or actor: not empty, no
// leading or trailing space, no control characters, at most 256 bytes.
func checkText(what, s string) error {
	if s == "" || strings.TrimSpace(s) != s || len(s) > 256 || strings.IndexFunc(s, isControl) >= 0 {
		return errors.E(errors.Invalid, errors.Errorf("bad %s %q", what, s))
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
