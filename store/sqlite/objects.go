package sqlite

import (
	"context"
	"database/sql"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// This file is the sealpost.ObjectStore: the account_objects table, one
// row per (account, kind, name). Every change runs on the single writer
// (db.Write), so a count taken for a limit and the insert it allows cannot
// interleave with another change, and one active object per account and
// kind needs no lock (the partial unique index account_objects_active
// backs it). Rows go with their account: ON DELETE CASCADE, foreign keys
// being on for every connection (internal/sqlitedb).

const objectColumns = `account, kind, name, active, data, updated`

func scanObject(row interface{ Scan(...any) error }) (sealpost.AccountObject, error) {
	var o sealpost.AccountObject
	var updated int64
	if err := row.Scan(&o.Account, &o.Kind, &o.Name, &o.Active, &o.Data, &updated); err != nil {
		return sealpost.AccountObject{}, err
	}
	o.Updated = column.FromNanos(updated)
	return o, nil
}

// write is db.Write and read db.Read, but Unavailable once the store is
// closed, as the group commit is (database/sql's error for a closed
// database has no kind). Close waits for the calls under way.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errors.E(op, errors.Unavailable, errors.Str("store closed"))
	}
	return s.db.Write(ctx, op, fn)
}

func (s *Store) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errors.E(op, errors.Unavailable, errors.Str("store closed"))
	}
	return s.db.Read(ctx, op, fn)
}

// accountExists fails with NotExist unless the account exists.
func accountExists(ctx context.Context, tx *sql.Tx, acct sealpost.AccountID) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE id = ?`, acct).Scan(&one)
	if errors.IsErr(err, sql.ErrNoRows) {
		return notExist("account %d", acct)
	}
	return err
}

// PutObject creates or replaces an object; see sealpost.ObjectStore.
func (s *Store) PutObject(ctx context.Context, o sealpost.AccountObject, max int) error {
	const op = "sqlite.PutObject"
	if err := column.CheckObject(o); err != nil {
		return errors.E(op, err)
	}
	updated := column.Nanos(column.Updated(o.Updated))
	return s.write(ctx, op, func(tx *sql.Tx) error {
		if err := accountExists(ctx, tx, o.Account); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE account_objects SET data = ?, updated = ?
			WHERE account = ? AND kind = ? AND name = ?`, o.Data, updated, o.Account, o.Kind, o.Name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		if max > 0 {
			var n int
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM account_objects WHERE account = ? AND kind = ?`, o.Account, o.Kind).Scan(&n)
			if err != nil {
				return err
			}
			if err := column.ObjectLimit(o.Kind, n, max); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO account_objects (`+objectColumns+`) VALUES (?, ?, ?, FALSE, ?, ?)`,
			o.Account, o.Kind, o.Name, o.Data, updated)
		return err
	})
}

// Object returns one object; NotExist if absent.
func (s *Store) Object(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name string) (sealpost.AccountObject, error) {
	const op = "sqlite.Object"
	var o sealpost.AccountObject
	err := s.read(ctx, op, func(tx *sql.Tx) error {
		var err error
		o, err = scanObject(tx.QueryRowContext(ctx, `SELECT `+objectColumns+` FROM account_objects
			WHERE account = ? AND kind = ? AND name = ?`, acct, kind, name))
		if errors.IsErr(err, sql.ErrNoRows) {
			return notExist("%s object %q of account %d", kind, name, acct)
		}
		return err
	})
	return o, err
}

// Objects lists the account's objects of a kind, sorted by name (byte
// order). An unknown account has none.
func (s *Store) Objects(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind) ([]sealpost.AccountObject, error) {
	const op = "sqlite.Objects"
	var out []sealpost.AccountObject
	err := s.read(ctx, op, func(tx *sql.Tx) error {
		var err error
		out, err = queryAll(ctx, tx, scanObject, `SELECT `+objectColumns+` FROM account_objects
			WHERE account = ? AND kind = ? ORDER BY name`, acct, kind)
		return err
	})
	return out, err
}

// DeleteObject removes an object; NotExist if absent.
func (s *Store) DeleteObject(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name string) error {
	const op = "sqlite.DeleteObject"
	return s.write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM account_objects WHERE account = ? AND kind = ? AND name = ?`, acct, kind, name)
		if err != nil {
			return err
		}
		return mustAffect(res, "%s object %q of account %d", kind, name, acct)
	})
}

// RenameObject renames an object, keeping its data, Active and Updated.
func (s *Store) RenameObject(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name, newName string) error {
	const op = "sqlite.RenameObject"
	if err := sealpost.CheckObjectName(newName); err != nil {
		return errors.E(op, err)
	}
	return s.write(ctx, op, func(tx *sql.Tx) error {
		const find = `SELECT 1 FROM account_objects WHERE account = ? AND kind = ? AND name = ?`
		var one int
		err := tx.QueryRowContext(ctx, find, acct, kind, name).Scan(&one)
		if errors.IsErr(err, sql.ErrNoRows) {
			return notExist("%s object %q of account %d", kind, name, acct)
		} else if err != nil || newName == name {
			return err
		}
		err = tx.QueryRowContext(ctx, find, acct, kind, newName).Scan(&one)
		if err == nil {
			return exist("%s object %q of account %d", kind, newName, acct)
		} else if !errors.IsErr(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE account_objects SET name = ? WHERE account = ? AND kind = ? AND name = ?`, newName, acct, kind, name)
		return err
	})
}

// SetActiveObject makes name the account's only active object of its
// kind, or none for "": in one transaction the others are cleared first
// (all of them for ""), then name is set.
func (s *Store) SetActiveObject(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name string) error {
	const op = "sqlite.SetActiveObject"
	return s.write(ctx, op, func(tx *sql.Tx) error {
		if err := accountExists(ctx, tx, acct); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE account_objects SET active = FALSE
			WHERE account = ? AND kind = ? AND active AND (? = '' OR name <> ?)`, acct, kind, name, name); err != nil {
			return err
		}
		if name == "" {
			return nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE account_objects SET active = TRUE WHERE account = ? AND kind = ? AND name = ?`, acct, kind, name)
		if err != nil {
			return err
		}
		return mustAffect(res, "%s object %q of account %d", kind, name, acct)
	})
}
