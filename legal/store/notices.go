package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Notice is a notice to a user that a demand names them: queued when the
// demand is filed, due when no nondisclosure order forbids it any longer,
// sent (to the user's INBOX) when due.
type Notice struct {
	ID       int64
	DemandID string
	Address  string    // a target of the demand
	Queued   time.Time // when it was queued
	Due      time.Time // when it may go out: now, or when the nondisclosure order ends
	Text     string    // what the user is told
	Sent     *time.Time
}

// AddNotice queues a notice to n.Address (a target of n.DemandID, else
// Invalid) and returns it with its ID, with the event notice.queued. If
// n.Queued is zero it is set to now. The event carries the notice's ID
// and due time, not its text.
func (s *Store) AddNotice(ctx context.Context, n Notice) (Notice, error) {
	const op = "store.AddNotice"
	n.Address = normalizeAddress(n.Address)
	if n.Queued.IsZero() {
		n.Queued = time.Now()
	}
	switch {
	case n.Address == "":
		return Notice{}, errors.E(op, errors.Invalid, errors.Str("notice to nobody"))
	case n.Due.IsZero():
		return Notice{}, errors.E(op, errors.Invalid, errors.Str("notice has no due time"))
	case strings.TrimSpace(n.Text) == "":
		return Notice{}, errors.E(op, errors.Invalid, errors.Str("notice has no text"))
	case n.Sent != nil:
		return Notice{}, errors.E(op, errors.Invalid, errors.Str("a new notice cannot have been sent"))
	}
	err := s.db.Write(ctx, op, func(tx *sql.Tx) error {
		d, err := demandState(ctx, tx, n.DemandID)
		if err != nil {
			return err
		}
		if err := isTarget(ctx, tx, n.DemandID, n.Address); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO notices (demand, address, queued, due, text) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			n.DemandID, n.Address, n.Queued.UnixNano(), n.Due.UnixNano(), n.Text).Scan(&n.ID); err != nil {
			return err
		}
		detail := demandDetail(d.Demand)
		detail["notice"] = strconv.FormatInt(n.ID, 10)
		detail["due"] = n.Due.UTC().Format(time.RFC3339)
		return addEvent(ctx, tx, sealpost.EventNoticeQueued, n.Address, ActorSystem, n.Queued, detail)
	})
	if err != nil {
		return Notice{}, err
	}
	n.Queued, n.Due = n.Queued.UTC(), n.Due.UTC()
	return n, nil
}

// DueNotices lists the notices not yet sent whose due time is at or before
// now, the earliest due first.
func (s *Store) DueNotices(ctx context.Context, now time.Time) ([]Notice, error) {
	const op = "store.DueNotices"
	var out []Notice
	err := s.db.Read(ctx, op, func(tx *sql.Tx) error {
		var err error
		out, err = queryNotices(ctx, tx, `WHERE sent IS NULL AND due <= ? ORDER BY due, id`, now.UnixNano())
		return err
	})
	return out, err
}

// MarkNoticeSent records that a notice went out, with the event
// notice.sent. NotExist if there is no such notice, Exist if it was already
// sent. It does not check that the notice was due: the caller sends only
// what DueNotices returned.
func (s *Store) MarkNoticeSent(ctx context.Context, id int64, at time.Time) error {
	const op = "store.MarkNoticeSent"
	if at.IsZero() {
		return errors.E(op, errors.Invalid, errors.Str("sending needs a time"))
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		var demandID, address string
		var sent sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT demand, address, sent FROM notices WHERE id = ?`, id).Scan(&demandID, &address, &sent)
		if err == sql.ErrNoRows {
			return errors.E(errors.NotExist, errors.Errorf("no notice %d", id))
		}
		if err != nil {
			return err
		}
		if sent.Valid {
			return errors.E(errors.Exist, errors.Errorf("notice %d was already sent", id))
		}
		d, err := demandState(ctx, tx, demandID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notices SET sent = ? WHERE id = ?`, at.UnixNano(), id); err != nil {
			return err
		}
		detail := demandDetail(d.Demand)
		detail["notice"] = strconv.FormatInt(id, 10)
		return addEvent(ctx, tx, sealpost.EventNoticeSent, address, ActorSystem, at, detail)
	})
}

// NoticesFor lists the notices sent to an address, in the order sent: what
// the user has been told, for the API and their privacy page. Notices not
// yet sent (a nondisclosure order may be in force) are left out, so that
// no caller can show a user what the law forbids telling them; the legal
// console sees them in Record.Notices.
func (s *Store) NoticesFor(ctx context.Context, address string) ([]Notice, error) {
	const op = "store.NoticesFor"
	var out []Notice
	err := s.db.Read(ctx, op, func(tx *sql.Tx) error {
		var err error
		out, err = queryNotices(ctx, tx, `WHERE address = ? AND sent IS NOT NULL ORDER BY sent, id`, normalizeAddress(address))
		return err
	})
	return out, err
}

// queryNotices returns the notices selected by where (a WHERE and ORDER BY
// clause) with args.
func queryNotices(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]Notice, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, demand, address, queued, due, text, sent FROM notices `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var n Notice
		var queued, due int64
		var sent sql.NullInt64
		if err := rows.Scan(&n.ID, &n.DemandID, &n.Address, &queued, &due, &n.Text, &sent); err != nil {
			return nil, err
		}
		n.Queued, n.Due, n.Sent = fromNanos(queued), fromNanos(due), nullTime(sent)
		out = append(out, n)
	}
	return out, rows.Err()
}
