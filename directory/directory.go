// Package directory is the deployment's global directory, a
// sealpost.Directory in one SQLite file: the hosted domains with their
// default regions, each address's home region, and the journal of
// unfinished mailbox moves.
//
// It is the only data every region shares, so it holds as little as it can:
// an address and a region id per account, and nothing else (no content,
// subjects, keys or password verifiers: those live in the home region's
// store). Front doors and regional nodes on one machine share the file
// (SQLite's WAL allows several processes); a deployment spread over
// machines would keep the same three tables in a replicated database.
//
// Every change is one transaction on the one writer connection, durable
// when the method returns (WAL, synchronous=FULL); lookups go to a small
// pool of read-only connections (internal/sqlitedb).
package directory

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/sqlitedb"
)

// Dir is a sealpost.Directory in SQLite.
type Dir struct {
	db *sqlitedb.DB // changes on W, lookups on R
}

var _ sealpost.Directory = (*Dir)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS domains (
	name TEXT PRIMARY KEY,
	default_region TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS homes (
	address TEXT PRIMARY KEY,
	domain TEXT NOT NULL REFERENCES domains(name),
	region TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS moves (
	address TEXT PRIMARY KEY REFERENCES homes(address),
	from_region TEXT NOT NULL,
	to_region TEXT NOT NULL,
	phase TEXT NOT NULL CHECK (phase IN ('copy', 'cleanup')),
	started INTEGER NOT NULL
);
`

// Open opens (creating if needed) the directory database at path.
func Open(path string) (*Dir, error) {
	const op = "directory.Open"
	db, err := sqlitedb.Open(path, sqlitedb.Options{Readers: 4})
	if err != nil {
		return nil, errors.E(op, err)
	}
	if _, err := db.W.Exec(schema); err != nil {
		db.Close()
		return nil, errors.E(op, errors.Internal, err)
	}
	return &Dir{db: db}, nil
}

// Close closes the database.
func (d *Dir) Close() error { return d.db.Close() }

func validRegion(r sealpost.RegionID) bool {
	if len(r) == 0 || len(r) > 32 {
		return false
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// AddDomain records a hosted domain.
func (d *Dir) AddDomain(ctx context.Context, dom sealpost.Domain) error {
	const op = "directory.AddDomain"
	name := sealpost.NormalizeAddress(dom.Name)
	if name == "" || strings.ContainsAny(name, "@ /") || !validRegion(dom.DefaultRegion) {
		return errors.E(op, errors.Invalid, errors.Errorf("bad domain %q or region %q", dom.Name, dom.DefaultRegion))
	}
	if _, err := d.db.W.ExecContext(ctx, `INSERT INTO domains (name, default_region) VALUES (?, ?)`, name, string(dom.DefaultRegion)); err != nil {
		return sqlitedb.E(op, err)
	}
	return nil
}

// Domain returns a hosted domain.
func (d *Dir) Domain(ctx context.Context, name string) (sealpost.Domain, error) {
	const op = "directory.Domain"
	dom := sealpost.Domain{Name: sealpost.NormalizeAddress(name)}
	err := d.db.R.QueryRowContext(ctx, `SELECT default_region FROM domains WHERE name = ?`, dom.Name).Scan(&dom.DefaultRegion)
	if err == sql.ErrNoRows {
		return dom, errors.E(op, errors.NotExist, errors.Errorf("domain %s is not hosted", dom.Name))
	}
	if err != nil {
		return dom, sqlitedb.E(op, err)
	}
	return dom, nil
}

// Domains lists hosted domains.
func (d *Dir) Domains(ctx context.Context) ([]sealpost.Domain, error) {
	const op = "directory.Domains"
	rows, err := d.db.R.QueryContext(ctx, `SELECT name, default_region FROM domains ORDER BY name`)
	if err != nil {
		return nil, sqlitedb.E(op, err)
	}
	defer rows.Close()
	var out []sealpost.Domain
	for rows.Next() {
		var dom sealpost.Domain
		if err := rows.Scan(&dom.Name, &dom.DefaultRegion); err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
		out = append(out, dom)
	}
	if err := rows.Err(); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return out, nil
}

// Home returns an address's home region.
func (d *Dir) Home(ctx context.Context, addr string) (sealpost.RegionID, error) {
	const op = "directory.Home"
	var r sealpost.RegionID
	err := d.db.R.QueryRowContext(ctx, `SELECT region FROM homes WHERE address = ?`, sealpost.NormalizeAddress(addr)).Scan(&r)
	if err == sql.ErrNoRows {
		return "", errors.E(op, errors.NotExist, errors.Str("no such account"))
	}
	if err != nil {
		return "", sqlitedb.E(op, err)
	}
	return r, nil
}

// AddHome records a new account's home region.
func (d *Dir) AddHome(ctx context.Context, h sealpost.Home) error {
	const op = "directory.AddHome"
	addr := sealpost.NormalizeAddress(h.Address)
	domain := sealpost.DomainOf(addr)
	if domain == "" || strings.IndexByte(addr, '@') == 0 || !validRegion(h.Region) {
		return errors.E(op, errors.Invalid, errors.Errorf("bad address or region %q", h.Region))
	}
	if _, err := d.db.W.ExecContext(ctx, `INSERT INTO homes (address, domain, region) VALUES (?, ?, ?)`,
		addr, domain, string(h.Region)); err != nil {
		return sqlitedb.E(op, err)
	}
	return nil
}

// RemoveHome forgets an address, and any unfinished move of it.
func (d *Dir) RemoveHome(ctx context.Context, addr string) error {
	const op = "directory.RemoveHome"
	addr = sealpost.NormalizeAddress(addr)
	return d.db.Write(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM moves WHERE address = ?`, addr); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM homes WHERE address = ?`, addr)
		return err
	})
}

// Homes lists every entry by address.
func (d *Dir) Homes(ctx context.Context) ([]sealpost.Home, error) {
	const op = "directory.Homes"
	rows, err := d.db.R.QueryContext(ctx, `SELECT address, region FROM homes ORDER BY address`)
	if err != nil {
		return nil, sqlitedb.E(op, err)
	}
	defer rows.Close()
	var out []sealpost.Home
	for rows.Next() {
		var h sealpost.Home
		if err := rows.Scan(&h.Address, &h.Region); err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return out, nil
}

// StartMove records a move in phase copy.
func (d *Dir) StartMove(ctx context.Context, m sealpost.Move) error {
	const op = "directory.StartMove"
	addr := sealpost.NormalizeAddress(m.Address)
	if !validRegion(m.From) || !validRegion(m.To) || m.From == m.To {
		return errors.E(op, errors.Invalid, errors.Errorf("bad move %s → %s", m.From, m.To))
	}
	if m.Started.IsZero() {
		m.Started = time.Now()
	}
	return d.db.Write(ctx, op, func(tx *sql.Tx) error {
		var home sealpost.RegionID
		err := tx.QueryRowContext(ctx, `SELECT region FROM homes WHERE address = ?`, addr).Scan(&home)
		if err == sql.ErrNoRows {
			return errors.E(op, errors.NotExist, errors.Str("no such account"))
		}
		if err != nil {
			return err
		}
		if home != m.From {
			return errors.E(op, errors.WrongRegion, errors.Errorf("account lives in %s, not %s", home, m.From))
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO moves (address, from_region, to_region, phase, started) VALUES (?, ?, ?, 'copy', ?)`,
			addr, string(m.From), string(m.To), m.Started.UnixNano())
		return err
	})
}

// SwitchMove makes the move's destination the address's home and records the
// cleanup phase, in one transaction.
func (d *Dir) SwitchMove(ctx context.Context, addr string) error {
	const op = "directory.SwitchMove"
	addr = sealpost.NormalizeAddress(addr)
	return d.db.Write(ctx, op, func(tx *sql.Tx) error {
		var to string
		var phase sealpost.MovePhase
		err := tx.QueryRowContext(ctx, `SELECT to_region, phase FROM moves WHERE address = ?`, addr).Scan(&to, &phase)
		if err == sql.ErrNoRows {
			return errors.E(op, errors.NotExist, errors.Str("no unfinished move"))
		}
		if err != nil {
			return err
		}
		if phase == sealpost.MoveCleanup {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE homes SET region = ? WHERE address = ?`, to, addr); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE moves SET phase = 'cleanup' WHERE address = ?`, addr)
		return err
	})
}

// FinishMove forgets a switched move.
func (d *Dir) FinishMove(ctx context.Context, addr string) error {
	return d.forgetMove(ctx, "directory.FinishMove", addr, sealpost.MoveCleanup)
}

// AbandonMove forgets a move that has not switched.
func (d *Dir) AbandonMove(ctx context.Context, addr string) error {
	return d.forgetMove(ctx, "directory.AbandonMove", addr, sealpost.MoveCopy)
}

func (d *Dir) forgetMove(ctx context.Context, op, addr string, want sealpost.MovePhase) error {
	addr = sealpost.NormalizeAddress(addr)
	return d.db.Write(ctx, op, func(tx *sql.Tx) error {
		var phase sealpost.MovePhase
		err := tx.QueryRowContext(ctx, `SELECT phase FROM moves WHERE address = ?`, addr).Scan(&phase)
		if err == sql.ErrNoRows {
			return errors.E(op, errors.NotExist, errors.Str("no unfinished move"))
		}
		if err != nil {
			return err
		}
		if phase != want {
			return errors.E(op, errors.Invalid, errors.Errorf("move is in phase %s, not %s", phase, want))
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM moves WHERE address = ?`, addr)
		return err
	})
}

// Moves lists unfinished moves.
func (d *Dir) Moves(ctx context.Context) ([]sealpost.Move, error) {
	const op = "directory.Moves"
	rows, err := d.db.R.QueryContext(ctx, `SELECT address, from_region, to_region, phase, started FROM moves ORDER BY address`)
	if err != nil {
		return nil, sqlitedb.E(op, err)
	}
	defer rows.Close()
	var out []sealpost.Move
	for rows.Next() {
		var m sealpost.Move
		var started int64
		if err := rows.Scan(&m.Address, &m.From, &m.To, &m.Phase, &started); err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
		m.Started = time.Unix(0, started)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return out, nil
}
