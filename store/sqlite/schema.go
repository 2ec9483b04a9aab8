package sqlite

import (
	"context"
	"database/sql"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// migrations is the schema, as an ordered list of steps. Step i (from 0)
// brings the schema to version i+1; applied steps are recorded in
// schema_version. Never edit an applied step: append a new one.
//
// The SQL is kept close to what PostgreSQL and CockroachDB accept, so that
// store/postgres can follow it table for table. SQLite-isms, each with its
// PostgreSQL counterpart:
//   - INTEGER PRIMARY KEY AUTOINCREMENT (a rowid alias whose values are never
//     reused, as AccountID and MessageID require): BIGINT GENERATED ALWAYS AS
//     IDENTITY in PostgreSQL.
//   - BLOB: BYTEA in PostgreSQL.
//   - Text comparison and ORDER BY use SQLite's BINARY collation (byte
//     order); PostgreSQL needs COLLATE "C" on the name and address columns
//     to sort the same way.
//
// Times are BIGINT Unix nanoseconds (0 for the zero time), booleans BOOLEAN,
// flags a space-separated TEXT, a message's blob ref TEXT.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('uidvalidity', 0);

CREATE TABLE domains (
	name TEXT PRIMARY KEY
);

CREATE TABLE accounts (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	address  TEXT NOT NULL UNIQUE,
	domain   TEXT NOT NULL REFERENCES domains (name),
	created  BIGINT NOT NULL,
	verifier BLOB,
	own_key  BOOLEAN NOT NULL
);

CREATE TABLE account_keys (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	account          BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created          BIGINT NOT NULL,
	public_key       BLOB,
	wrapped_password BLOB,
	wrapped_recovery BLOB,
	active           BOOLEAN NOT NULL
);
CREATE INDEX account_keys_account ON account_keys (account);

CREATE TABLE mailboxes (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	account       BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	special_use   TEXT NOT NULL,
	subscribed    BOOLEAN NOT NULL,
	uidvalidity   BIGINT NOT NULL,
	uidnext       BIGINT NOT NULL,
	highestmodseq BIGINT NOT NULL,
	UNIQUE (account, name)
);

CREATE TABLE messages (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	mailbox      BIGINT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
	uid          BIGINT NOT NULL,
	flags        TEXT NOT NULL,
	internaldate BIGINT NOT NULL,
	size         BIGINT NOT NULL,
	modseq       BIGINT NOT NULL,
	blob_ref     TEXT NOT NULL,
	key_id       BIGINT NOT NULL,
	session_key  BLOB,
	UNIQUE (mailbox, uid)
);
CREATE INDEX messages_blob_ref ON messages (blob_ref);

CREATE TABLE queue (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	from_addr  TEXT NOT NULL,
	recipients TEXT NOT NULL,
	blob_ref   TEXT NOT NULL,
	size       BIGINT NOT NULL,
	queued     BIGINT NOT NULL,
	next_try   BIGINT NOT NULL,
	attempts   INTEGER NOT NULL,
	last_error TEXT NOT NULL
);
CREATE INDEX queue_blob_ref ON queue (blob_ref);
`,
	// 2: the store's own facts, for now the region it belongs to (Claim).
	`
CREATE TABLE store_meta (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`,
	// 3: outbound delivery (issue 11): queue entries can be held and
	// remember the delay notice; accounts have settings.
	`
ALTER TABLE queue ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE queue ADD COLUMN warned BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE accounts ADD COLUMN save_sent BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX queue_due ON queue (held, next_try);
`,
	// 4: quotas (issue 12): each account's usage, kept by every change
	// (store/sqlite/quota.go), counted once here from existing mail, and
	// its override of the configured limits (0: the default).
	`
ALTER TABLE accounts ADD COLUMN used_storage BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN used_messages BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN quota_storage BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN quota_mailboxes BIGINT NOT NULL DEFAULT 0;
` + column.RecountUsage + `;
`,
	// 5: expunge tombstones for QRESYNC (RFC 7162 3.2.5; issue 13): the
	// UIDs expunged from each mailbox with the MODSEQ of their expunge,
	// at most column.MaxTombstones per mailbox, and the floor below which
	// a mailbox's expunges are not known (for existing mailboxes, all of
	// them until now).
	column.TombstonesSchema,
	// 6: each message's save date (RFC 8514; issue 13).
	column.SaveDateSchema,
	// 7: account objects (issue 14: Sieve scripts, the spam filter's
	// model, the filter key's wraps; sealpost.ObjectStore), at most one
	// active per account and kind, and the account setting that turns
	// server-side filtering off.
	`
CREATE TABLE account_objects (
	account BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	kind    INTEGER NOT NULL,
	name    TEXT NOT NULL,
	active  BOOLEAN NOT NULL,
	data    BLOB,
	updated BIGINT NOT NULL,
	PRIMARY KEY (account, kind, name)
);
CREATE UNIQUE INDEX account_objects_active ON account_objects (account, kind) WHERE active;
ALTER TABLE accounts ADD COLUMN no_server_filter BOOLEAN NOT NULL DEFAULT FALSE;
`,
}

// migrate brings the database to the newest schema version, one step per
// transaction. It refuses a database whose schema is newer than this code.
func migrate(ctx context.Context, db *sql.DB) error {
	const op = "sqlite.migrate"
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	for {
		done, err := migrateStep(ctx, db)
		if err != nil {
			return errors.E(op, err)
		}
		if done {
			return nil
		}
	}
}

// migrateStep applies the next migration, if any, and reports whether the
// schema was already current.
func migrateStep(ctx context.Context, db *sql.DB) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, errors.E(errors.Internal, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return false, errors.E(errors.Internal, err)
	}
	switch {
	case v > len(migrations):
		return false, errors.E(errors.Invalid, errors.Errorf("database schema version %d is newer than this program's %d", v, len(migrations)))
	case v == len(migrations):
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, errors.E(errors.Internal, errors.Errorf("migration %d: %w", v+1, err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return false, errors.E(errors.Internal, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
		return false, errors.E(errors.Internal, err)
	}
	if err := tx.Commit(); err != nil {
		return false, errors.E(errors.Internal, err)
	}
	return false, nil
}
