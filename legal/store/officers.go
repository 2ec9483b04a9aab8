package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
)

// checkOfficerName reports whether name can be an officer's name: printable,
// trimmed, and without commas (events list officers comma-separated).
func checkOfficerName(name string) error {
	if err := checkText("officer name", name); err != nil {
		return err
	}
	if strings.ContainsRune(name, ',') {
		return errors.E(errors.Invalid, errors.Errorf("officer name %q has a comma", name))
	}
	return nil
}

// AddOfficer registers a legal officer with a password, with the event
// officer.added (which names the officer, never the password). The
// password is kept only as its Argon2id hash, in PHC form (pwhash.Hash).
// Exist if the name is taken.
func (s *Store) AddOfficer(ctx context.Context, name, password string) error {
	const op = "store.AddOfficer"
	if err := checkOfficerName(name); err != nil {
		return errors.E(op, err)
	}
	if password == "" {
		return errors.E(op, errors.Invalid, errors.Str("empty password"))
	}
	h, err := pwhash.Hash(s.argon2, password)
	if err != nil {
		return errors.E(op, err)
	}
	now := time.Now()
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM officers WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errors.E(errors.Exist, errors.Errorf("officer %q exists", name))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO officers (name, password_hash, added) VALUES (?, ?, ?)`, name, h, now.UnixNano()); err != nil {
			return err
		}
		return addEvent(ctx, tx, sealpost.EventOfficerAdded, "", ActorAdmin, now, map[string]string{"officer": name})
	})
}

// CheckOfficer checks an officer's name and password. A wrong password and
// an unknown name are the same Permission error, and take the same time
// (an unknown name is hashed against a dummy).
func (s *Store) CheckOfficer(ctx context.Context, name, password string) error {
	const op = "store.CheckOfficer"
	denied := errors.E(op, errors.Permission, errors.Str("wrong officer name or password"))
	var h string
	err := s.db.R.QueryRowContext(ctx, `SELECT password_hash FROM officers WHERE name = ?`, name).Scan(&h)
	if err == sql.ErrNoRows {
		pwhash.Hash(s.argon2, password) // spend the time a real check would
		return denied
	}
	if err != nil {
		return wrap(op, err)
	}
	ok, err := pwhash.Check(h, password)
	if err != nil {
		return errors.E(op, errors.Internal, errors.Errorf("officer %q: %w", name, err))
	}
	if !ok {
		return denied
	}
	return nil
}

// Officers lists the legal officers' names, sorted.
func (s *Store) Officers(ctx context.Context) ([]string, error) {
	const op = "store.Officers"
	rows, err := s.db.R.QueryContext(ctx, `SELECT name FROM officers ORDER BY name`)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return out, nil
}
