package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Hold is a legal hold (preservation) on one address's data for one
// demand: while it is active the data is retained, sealed, whatever its
// owner expunges or deletes. A hold discloses nothing.
type Hold struct {
	ID         int64
	DemandID   string
	Address    string
	Placed     time.Time
	PlacedBy   string
	Released   *time.Time // nil while active
	ReleasedBy string
}

// isTarget returns Invalid unless address is a target of the demand.
func isTarget(ctx context.Context, tx *sql.Tx, demandID, address string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM targets WHERE demand = ? AND address = ?`, demandID, address).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return errors.E(errors.Invalid, errors.Errorf("%s is not a target of demand %s", address, demandID))
	}
	return nil
}

// PlaceHold places a hold on address (a target of the demand) for the
// demand, with the event hold.placed. Exist if that hold is already active;
// a released hold may be placed again.
func (s *Store) PlaceHold(ctx context.Context, demandID, address, by string, at time.Time) error {
	const op = "store.PlaceHold"
	address = normalizeAddress(address)
	if at.IsZero() {
		return errors.E(op, errors.Invalid, errors.Str("hold needs a time"))
	}
	if err := checkText("actor", by); err != nil {
		return errors.E(op, err)
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		d, err := demandState(ctx, tx, demandID)
		if err != nil {
			return err
		}
		if err := isTarget(ctx, tx, demandID, address); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM holds WHERE demand = ? AND address = ? AND released IS NULL`,
			demandID, address).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errors.E(errors.Exist, errors.Errorf("%s is already held for demand %s", address, demandID))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO holds (demand, address, placed, placed_by) VALUES (?, ?, ?, ?)`,
			demandID, address, at.UnixNano(), by); err != nil {
			return err
		}
		return addEvent(ctx, tx, sealpost.EventHoldPlaced, address, by, at, demandDetail(d.Demand))
	})
}

// ReleaseHold releases the demand's active hold on address, with the event
// hold.released. NotExist if there is none.
func (s *Store) ReleaseHold(ctx context.Context, demandID, address, by string, at time.Time) error {
	const op = "store.ReleaseHold"
	address = normalizeAddress(address)
	if at.IsZero() {
		return errors.E(op, errors.Invalid, errors.Str("release needs a time"))
	}
	if err := checkText("actor", by); err != nil {
		return errors.E(op, err)
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		d, err := demandState(ctx, tx, demandID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE holds SET released = ?, released_by = ? WHERE demand = ? AND address = ? AND released IS NULL`,
			at.UnixNano(), by, demandID, address)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errors.E(errors.NotExist, errors.Errorf("no active hold on %s for demand %s", address, demandID))
		}
		return addEvent(ctx, tx, sealpost.EventHoldReleased, address, by, at, demandDetail(d.Demand))
	})
}

// ActiveHolds lists every active hold, by address then demand.
func (s *Store) ActiveHolds(ctx context.Context) ([]Hold, error) {
	const op = "store.ActiveHolds"
	var out []Hold
	err := s.db.Read(ctx, op, func(tx *sql.Tx) error {
		var err error
		out, err = queryHolds(ctx, tx, `WHERE released IS NULL ORDER BY address, demand`)
		return err
	})
	return out, err
}

// HeldAddresses returns the set of addresses under at least one active
// hold: the data the mail store must retain whatever its owner deletes.
func (s *Store) HeldAddresses(ctx context.Context) (map[string]bool, error) {
	const op = "store.HeldAddresses"
	rows, err := s.db.R.QueryContext(ctx, `SELECT DISTINCT address FROM holds WHERE released IS NULL`)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	out := make(map[string]bool)
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
		out[a] = true
	}
	if err := rows.Err(); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return out, nil
}

// queryHolds returns the holds selected by where (a WHERE and ORDER BY
// clause) with args.
func queryHolds(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]Hold, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, demand, address, placed, placed_by, released, COALESCE(released_by, '') FROM holds `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		var h Hold
		var placed int64
		var released sql.NullInt64
		if err := rows.Scan(&h.ID, &h.DemandID, &h.Address, &placed, &h.PlacedBy, &released, &h.ReleasedBy); err != nil {
			return nil, err
		}
		h.Placed = fromNanos(placed)
		h.Released = nullTime(released)
		out = append(out, h)
	}
	return out, rows.Err()
}
