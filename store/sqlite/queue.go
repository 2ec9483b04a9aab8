package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/sealpost/sealpost/store/column"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Enqueue adds messages to the outbound queue in one transaction, durably,
// and returns their IDs. A zero Queued is set to now and a zero NextTry to
// Queued. Invalid without recipients or blob, or with a recipient holding
// CR or LF.
func (s *Store) Enqueue(ctx context.Context, msgs []sealpost.QueuedMessage) ([]int64, error) {
	const op = "sqlite.Enqueue"
	msgs, err := column.QueuedAll(msgs)
	if err != nil {
		return nil, errors.E(op, err)
	}
	ids := make([]int64, len(msgs))
	err = s.db.Write(ctx, op, func(tx *sql.Tx) error {
		for i, m := range msgs {
			err := tx.QueryRowContext(ctx, `INSERT INTO queue (from_addr, recipients, blob_ref, size, queued, next_try, attempts, last_error, held, warned)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				m.From, column.JoinRecipients(m.Recipients), string(m.Blob), m.Size,
				column.Nanos(m.Queued), column.Nanos(m.NextTry), m.Attempts, m.LastError, m.Held, m.Warned).Scan(&ids[i])
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// Queue lists queued messages by ID.
func (s *Store) Queue(ctx context.Context) ([]sealpost.QueuedMessage, error) {
	const op = "sqlite.Queue"
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+queueColumns+` FROM queue ORDER BY id`)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	out, err := scanQueued(rows)
	return out, dbErr(op, err)
}

// QueueDue returns the due entries, earliest first, and when the next one
// falls due (the queue_due index serves both).
func (s *Store) QueueDue(ctx context.Context, now time.Time, limit int) ([]sealpost.QueuedMessage, time.Time, error) {
	const op = "sqlite.QueueDue"
	if limit <= 0 {
		return nil, time.Time{}, errors.E(op, errors.Invalid, errors.Str("limit must be positive"))
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+queueColumns+`
		FROM queue WHERE held = FALSE AND next_try <= ? ORDER BY next_try, id LIMIT ?`, column.Nanos(now), limit)
	if err != nil {
		return nil, time.Time{}, dbErr(op, err)
	}
	defer rows.Close()
	out, err := scanQueued(rows)
	if err != nil {
		return nil, time.Time{}, dbErr(op, err)
	}
	var next sql.NullInt64
	if err := s.db.R.QueryRowContext(ctx, `SELECT MIN(next_try) FROM queue WHERE held = FALSE AND next_try > ?`, column.Nanos(now)).Scan(&next); err != nil {
		return nil, time.Time{}, dbErr(op, err)
	}
	var at time.Time
	if next.Valid {
		at = column.FromNanos(next.Int64)
	}
	return out, at, nil
}

// UpdateQueued stores what delivery and the operator change of an entry.
func (s *Store) UpdateQueued(ctx context.Context, m sealpost.QueuedMessage) error {
	const op = "sqlite.UpdateQueued"
	if err := column.CheckUpdate(m); err != nil {
		return errors.E(op, err)
	}
	// The delivery service records each outcome before its next message:
	// many connections record at once, so they share commits.
	return s.group(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.hot.updateQueue).ExecContext(ctx, column.JoinRecipients(m.Recipients), column.Nanos(m.NextTry), m.Attempts, m.LastError, m.Held, m.Warned, m.ID)
		if err != nil {
			return err
		}
		return mustAffect(res, "queued message %d", m.ID)
	})
}

// Dequeue removes a queued message and returns its blob if nothing else
// references it. NotExist if there is no such message.
func (s *Store) Dequeue(ctx context.Context, id int64) ([]sealpost.BlobRef, error) {
	const op = "sqlite.Dequeue"
	var blobs []sealpost.BlobRef
	err := s.group(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		var ref string
		err := tx.StmtContext(ctx, s.hot.dequeue).QueryRowContext(ctx, id).Scan(&ref)
		if errors.IsErr(err, sql.ErrNoRows) {
			return notExist("queued message %d", id)
		} else if err != nil {
			return err
		}
		blobs, err = unreferenced(ctx, tx.StmtContext(ctx, s.hot.blobUsed), map[sealpost.BlobRef]bool{sealpost.BlobRef(ref): true})
		return err
	})
	return blobs, err
}

const (
	sqlUpdateQueued = `UPDATE queue SET recipients = ?, next_try = ?, attempts = ?, last_error = ?, held = ?, warned = ?
		WHERE id = ?`
	sqlDequeue = `DELETE FROM queue WHERE id = ? RETURNING blob_ref`
)

const queueColumns = `id, from_addr, recipients, blob_ref, size, queued, next_try, attempts, last_error, held, warned`

// scanQueued reads queue rows of queueColumns.
func scanQueued(rows *sql.Rows) ([]sealpost.QueuedMessage, error) {
	defer rows.Close()
	var out []sealpost.QueuedMessage
	for rows.Next() {
		var m sealpost.QueuedMessage
		var rcpts, blob string
		var queued, next int64
		if err := rows.Scan(&m.ID, &m.From, &rcpts, &blob, &m.Size, &queued, &next, &m.Attempts, &m.LastError, &m.Held, &m.Warned); err != nil {
			return nil, err
		}
		out = append(out, column.ScannedQueued(m, rcpts, blob, queued, next))
	}
	return out, rows.Err()
}
