package store

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/sealpost/sealpost/errors"
)

// migrations is the schema, as an ordered list of steps. Step i (from 0)
// brings the schema to version i+1; the version is recorded in the meta
// table under "schema_version". Never edit an applied step: append a new
// one.
//
// Times are BIGINT Unix nanoseconds; an absent time is NULL. Demand IDs are
// TEXT ("D-2026-000001"). Structured values the store does not query by
// (the demand as filed, a decision with its reasons, an event's detail) are
// JSON TEXT. Every table that names an address of a demand references
// targets (demand, address): a decision, hold or notice can only be about
// a target of its demand. Approvals and disclosures reference officers: only
// a registered legal officer can approve or disclose.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE demands (
	seq        INTEGER PRIMARY KEY,     -- filing order; never reused (demands are never deleted)
	id         TEXT NOT NULL UNIQUE CHECK (id <> ''),
	dedupe_key TEXT NOT NULL UNIQUE CHECK (dedupe_key <> ''), -- normalized authority NUL reference
	state      TEXT NOT NULL CHECK (state <> ''),
	demand     TEXT NOT NULL,           -- legal.Demand as JSON, ID and documents included
	filed      BIGINT NOT NULL,
	filed_by   TEXT NOT NULL CHECK (filed_by <> '')
);

CREATE TABLE targets (
	demand  TEXT NOT NULL REFERENCES demands (id),
	address TEXT NOT NULL CHECK (address <> ''),
	PRIMARY KEY (demand, address)
);
CREATE INDEX targets_address ON targets (address);

CREATE TABLE documents (
	demand TEXT NOT NULL REFERENCES demands (id),
	name   TEXT NOT NULL CHECK (name <> ''),
	sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
	size   BIGINT NOT NULL,
	PRIMARY KEY (demand, name)
);

CREATE TABLE decisions (
	demand         TEXT NOT NULL,
	target         TEXT NOT NULL,
	decision       TEXT NOT NULL CHECK (decision <> ''),
	policy_version TEXT NOT NULL,
	body           TEXT NOT NULL,       -- legal.Decision as JSON
	PRIMARY KEY (demand, target),
	FOREIGN KEY (demand, target) REFERENCES targets (demand, address)
);

CREATE TABLE transitions (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	demand     TEXT NOT NULL REFERENCES demands (id),
	from_state TEXT NOT NULL CHECK (from_state <> ''),
	to_state   TEXT NOT NULL CHECK (to_state <> ''),
	actor      TEXT NOT NULL CHECK (actor <> ''),
	at         BIGINT NOT NULL,
	note       TEXT NOT NULL
);
CREATE INDEX transitions_demand ON transitions (demand);

CREATE TABLE officers (
	name          TEXT PRIMARY KEY CHECK (name <> ''),
	password_hash TEXT NOT NULL CHECK (password_hash <> ''), -- Argon2id, PHC string form
	added         BIGINT NOT NULL
);

CREATE TABLE approvals (
	demand  TEXT NOT NULL REFERENCES demands (id),
	officer TEXT NOT NULL REFERENCES officers (name),
	at      BIGINT NOT NULL,
	note    TEXT NOT NULL,
	PRIMARY KEY (demand, officer)
);

CREATE TABLE holds (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	demand      TEXT NOT NULL,
	address     TEXT NOT NULL,
	placed      BIGINT NOT NULL,
	placed_by   TEXT NOT NULL CHECK (placed_by <> ''),
	released    BIGINT,
	released_by TEXT,
	FOREIGN KEY (demand, address) REFERENCES targets (demand, address)
);
CREATE UNIQUE INDEX holds_active ON holds (demand, address) WHERE released IS NULL;
CREATE INDEX holds_active_address ON holds (address) WHERE released IS NULL;

CREATE TABLE notices (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	demand  TEXT NOT NULL,
	address TEXT NOT NULL,
	queued  BIGINT NOT NULL,
	due     BIGINT NOT NULL,
	text    TEXT NOT NULL CHECK (text <> ''),
	sent    BIGINT,
	FOREIGN KEY (demand, address) REFERENCES targets (demand, address)
);
CREATE INDEX notices_unsent ON notices (due) WHERE sent IS NULL;
CREATE INDEX notices_address ON notices (address);

CREATE TABLE disclosures (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	demand          TEXT NOT NULL REFERENCES demands (id),
	manifest_sha256 TEXT NOT NULL CHECK (length(manifest_sha256) = 64),
	at              BIGINT NOT NULL
);
CREATE TABLE disclosure_officers (
	disclosure BIGINT NOT NULL REFERENCES disclosures (id),
	officer    TEXT NOT NULL REFERENCES officers (name),
	PRIMARY KEY (disclosure, officer)
);

-- The transactional outbox: one row per event, written in the transaction
-- of the change it records. seq is the order of commits (SQLite has one
-- writer), so a reader that has seen seq n has seen every event before it.
CREATE TABLE events (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	at      BIGINT NOT NULL,
	kind    TEXT NOT NULL CHECK (kind <> ''),
	account TEXT NOT NULL,
	actor   TEXT NOT NULL CHECK (actor <> ''),
	detail  TEXT NOT NULL               -- map[string]string as JSON
);
`,
}

// migrate brings the database to the newest schema version, one step per
// transaction. It refuses a database whose schema is newer than this code.
func migrate(ctx context.Context, db *sql.DB) error {
	const op = "store.migrate"
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`); err != nil {
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
	var s string
	v := 0
	err = tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'schema_version'`).Scan(&s)
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return false, errors.E(errors.Internal, err)
	default:
		if v, err = strconv.Atoi(s); err != nil || v < 0 {
			return false, errors.E(errors.Internal, errors.Errorf("bad schema version %q", s))
		}
	}
	switch {
	case v > len(migrations):
		return false, errors.E(errors.Invalid, errors.Errorf("legal database schema version %d is newer than this program's %d", v, len(migrations)))
	case v == len(migrations):
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, errors.E(errors.Internal, errors.Errorf("migration %d: %w", v+1, err))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ('schema_version', ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, strconv.Itoa(v+1)); err != nil {
		return false, errors.E(errors.Internal, err)
	}
	if err := tx.Commit(); err != nil {
		return false, errors.E(errors.Internal, err)
	}
	return false, nil
}
