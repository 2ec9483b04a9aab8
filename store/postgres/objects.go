package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// This file is the sealpost.ObjectStore: the account_objects table, one
// row per (account, kind, name), as in store/sqlite. PostgreSQL runs
// changes side by side, so PutObject, RenameObject and SetActiveObject
// first lock the account's row (lockAccount: FOR NO KEY UPDATE): calls
// for one account take turns, a count taken for a limit holds until the
// insert it allows commits, and two SetActiveObject calls cannot both
// clear and then both set (the partial unique index account_objects_active
// would refuse the second, but as a confusing Exist). DeleteAccount locks
// the same row FOR UPDATE, so no object slips in beside a deletion; the
// rows go with the account by ON DELETE CASCADE.

const objectColumns = `account, kind, name, active, data, updated`

func scanObject(row pgx.Row) (sealpost.AccountObject, error) {
	var o sealpost.AccountObject
	var acct, updated int64
	var kind int32
	if err := row.Scan(&acct, &kind, &o.Name, &o.Active, &o.Data, &updated); err != nil {
		return sealpost.AccountObject{}, err
	}
	o.Account, o.Kind, o.Updated = sealpost.AccountID(acct), sealpost.ObjectKind(kind), column.FromNanos(updated)
	return o, nil
}

func collectObjects(rows pgx.Rows) ([]sealpost.AccountObject, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealpost.AccountObject, error) { return scanObject(r) })
}

// PutObject creates or replaces an object; see sealpost.ObjectStore.
func (s *Store) PutObject(ctx context.Context, o sealpost.AccountObject, max int) error {
	const op = "postgres.PutObject"
	if err := column.CheckObject(o); err != nil {
		return errors.E(op, err)
	}
	updated := column.Nanos(column.Updated(o.Updated))
	acct, kind := int64(o.Account), int32(o.Kind)
	return s.write(ctx, op, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, o.Account); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE account_objects SET data = $1, updated = $2
			WHERE account = $3 AND kind = $4 AND name = $5`, o.Data, updated, acct, kind, o.Name)
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		if max > 0 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM account_objects WHERE account = $1 AND kind = $2`, acct, kind).Scan(&n); err != nil {
				return err
			}
			if err := column.ObjectLimit(o.Kind, n, max); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO account_objects (`+objectColumns+`) VALUES ($1, $2, $3, FALSE, $4, $5)`,
			acct, kind, o.Name, o.Data, updated)
		return err
	})
}

// Object returns one object; NotExist if absent.
func (s *Store) Object(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name string) (sealpost.AccountObject, error) {
	const op = "postgres.Object"
	if err := s.read(op); err != nil {
		return sealpost.AccountObject{}, err
	}
	o, err := scanObject(s.pool.QueryRow(ctx, `SELECT `+objectColumns+` FROM account_objects
		WHERE account = $1 AND kind = $2 AND name = $3`, int64(acct), int32(kind), name))
	if errors.IsErr(err, pgx.ErrNoRows) {
		return sealpost.AccountObject{}, errors.E(op, notExist("%s object %q of account %d", kind, name, acct))
	}
	if err != nil {
		return sealpost.AccountObject{}, dbErr(op, err)
	}
	return o, nil
}

// Objects lists the account's objects of a kind, sorted by name (byte
// order: the column is COLLATE "C"). An unknown account has none.
func (s *Store) Objects(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind) ([]sealpost.AccountObject, error) {
	const op = "postgres.Objects"
	if err := s.read(op); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+objectColumns+` FROM account_objects
		WHERE account = $1 AND kind = $2 ORDER BY name`, int64(acct), int32(kind))
	out, err := collectObjects(rows)
	if err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// DeleteObject removes an object; NotExist if absent.
func (s *Store) DeleteObject(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name string) error {
	const op = "postgres.DeleteObject"
	return s.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM account_objects WHERE account = $1 AND kind = $2 AND name = $3`, int64(acct), int32(kind), name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notExist("%s object %q of account %d", kind, name, acct)
		}
		return nil
	})
}

// RenameObject renames an object, keeping its data, Active and Updated.
func (s *Store) RenameObject(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name, newName string) error {
	const op = "postgres.RenameObject"
	if err := sealpost.CheckObjectName(newName); err != nil {
		return errors.E(op, err)
	}
	return s.write(ctx, op, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, acct); err != nil {
			return err
		}
		const find = `SELECT 1 FROM account_objects WHERE account = $1 AND kind = $2 AND name = $3`
		found, err := exists(ctx, tx, find, int64(acct), int32(kind), name)
		if err != nil {
			return err
		}
		if !found {
			return notExist("%s object %q of account %d", kind, name, acct)
		}
		if newName == name {
			return nil
		}
		if found, err = exists(ctx, tx, find, int64(acct), int32(kind), newName); err != nil {
			return err
		}
		if found {
			return exist("%s object %q of account %d", kind, newName, acct)
		}
		_, err = tx.Exec(ctx, `UPDATE account_objects SET name = $1 WHERE account = $2 AND kind = $3 AND name = $4`,
			newName, int64(acct), int32(kind), name)
		return err
	})
}

// SetActiveObject makes name the account's only active object of its
// kind, or none for "": in one transaction the others are cleared first
// (all of them for ""), then name is set.
func (s *Store) SetActiveObject(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name string) error {
	const op = "postgres.SetActiveObject"
	return s.write(ctx, op, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, acct); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE account_objects SET active = FALSE
			WHERE account = $1 AND kind = $2 AND active AND ($3 = '' OR name <> $3)`, int64(acct), int32(kind), name); err != nil {
			return err
		}
		if name == "" {
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE account_objects SET active = TRUE WHERE account = $1 AND kind = $2 AND name = $3`,
			int64(acct), int32(kind), name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notExist("%s object %q of account %d", kind, name, acct)
		}
		return nil
	})
}
