package store

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// AddTransition appends a step to a demand's review and moves the demand to
// t.To, with the event demand.transition, in one transaction. It does not
// check that the step is legal (legal/workflow does); it checks that the
// demand is still in state t.From, so two officers acting on the same state
// at once cannot both succeed: the second gets Exist (the demand has moved
// on; reread it and decide again). NotExist if there is no such demand.
func (s *Store) AddTransition(ctx context.Context, id string, t legal.Transition) error {
	const op = "store.AddTransition"
	if t.From == "" || t.To == "" || t.At.IsZero() {
		return errors.E(op, errors.Invalid, errors.Str("transition needs from, to and a time"))
	}
	if err := checkText("actor", t.Actor); err != nil {
		return errors.E(op, err)
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		d, err := demandState(ctx, tx, id)
		if err != nil {
			return err
		}
		if d.state != t.From {
			return errors.E(errors.Exist, errors.Errorf("demand %s is in state %s, not %s: someone moved it first", id, d.state, t.From))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO transitions (demand, from_state, to_state, actor, at, note) VALUES (?, ?, ?, ?, ?, ?)`,
			id, string(t.From), string(t.To), t.Actor, t.At.UnixNano(), t.Note); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE demands SET state = ? WHERE id = ?`, string(t.To), id); err != nil {
			return err
		}
		detail := demandDetail(d.Demand)
		detail["from"] = string(t.From)
		detail["to"] = string(t.To)
		return addEvent(ctx, tx, sealpost.EventDemandTransition, "", t.Actor, t.At, detail)
	})
}

// AddApproval records a legal officer's approval of a demand, with the
// event demand.approval. The officer must be registered (NotExist
// otherwise); the same officer approving the same demand twice is Exist.
// Whether the demand may be approved now is legal/workflow's to decide.
func (s *Store) AddApproval(ctx context.Context, id string, a Approval) error {
	const op = "store.AddApproval"
	if a.At.IsZero() {
		return errors.E(op, errors.Invalid, errors.Str("approval needs a time"))
	}
	if err := checkText("officer", a.Officer); err != nil {
		return errors.E(op, err)
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		d, err := demandState(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := officerExists(ctx, tx, a.Officer); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM approvals WHERE demand = ? AND officer = ?`, id, a.Officer).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errors.E(errors.Exist, errors.Errorf("officer %q has already approved demand %s", a.Officer, id))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (demand, officer, at, note) VALUES (?, ?, ?, ?)`,
			id, a.Officer, a.At.UnixNano(), a.Note); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM approvals WHERE demand = ?`, id).Scan(&n); err != nil {
			return err
		}
		detail := demandDetail(d.Demand)
		detail["state"] = string(d.state)
		detail["approvals"] = strconv.Itoa(n)
		return addEvent(ctx, tx, sealpost.EventDemandApproval, "", a.Officer, a.At, detail)
	})
}

// AddDisclosure records that a disclosure package was handed over for a
// demand: the SHA-256 of its signed manifest and the officers who approved
// it (registered officers, each once), with the event demand.disclosure.
// Whether enough officers approved is legal/workflow's to decide.
func (s *Store) AddDisclosure(ctx context.Context, demandID string, manifestSHA256 string, by []string, at time.Time) error {
	const op = "store.AddDisclosure"
	switch {
	case !isSHA256(manifestSHA256):
		return errors.E(op, errors.Invalid, errors.Errorf("manifest sha256 %q is not 64 lower-case hex digits", manifestSHA256))
	case len(by) == 0:
		return errors.E(op, errors.Invalid, errors.Str("disclosure approved by nobody"))
	case at.IsZero():
		return errors.E(op, errors.Invalid, errors.Str("disclosure needs a time"))
	}
	for i, o := range by {
		if err := checkText("officer", o); err != nil {
			return errors.E(op, err)
		}
		if slices.Contains(by[:i], o) {
			return errors.E(op, errors.Invalid, errors.Errorf("officer %q named twice", o))
		}
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		d, err := demandState(ctx, tx, demandID)
		if err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO disclosures (demand, manifest_sha256, at) VALUES (?, ?, ?) RETURNING id`,
			demandID, manifestSHA256, at.UnixNano()).Scan(&id); err != nil {
			return err
		}
		for _, o := range by {
			if err := officerExists(ctx, tx, o); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO disclosure_officers (disclosure, officer) VALUES (?, ?)`, id, o); err != nil {
				return err
			}
		}
		detail := demandDetail(d.Demand)
		detail["state"] = string(d.state)
		detail["disclosure"] = strconv.FormatInt(id, 10)
		detail["manifest_sha256"] = manifestSHA256
		detail["officers"] = strings.Join(by, ",")
		return addEvent(ctx, tx, sealpost.EventDemandDisclosure, "", strings.Join(by, ","), at, detail)
	})
}

// officerExists returns NotExist unless name is a registered officer.
func officerExists(ctx context.Context, tx *sql.Tx, name string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM officers WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return errors.E(errors.NotExist, errors.Errorf("no legal officer %q", name))
	}
	return nil
}
