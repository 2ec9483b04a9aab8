package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/sealpost/sealpost/store/column"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Enqueue adds a message to the outbound queue, durably, and returns its ID.
// A zero Queued is set to now and a zero NextTry to Queued. Invalid without
// recipients or blob, or with a recipient holding CR or LF.
func (s *Store) Enqueue(ctx context.Context, m sealpost.QueuedMessage) (int64, error) {
	const op = "sqlite.Enqueue"
	m, err := column.Queued(m)
	if err != nil {
		return 0, errors.E(op, err)
	}
	var id int64
	err = s.db.Write(ctx, op, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO queue (from_addr, recipients, blob_ref, size, queued, next_try, attempts, last_error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			m.From, column.JoinRecipients(m.Recipients), string(m.Blob), m.Size,
			column.Nanos(m.Queued), column.Nanos(m.NextTry), m.Attempts, m.LastError).Scan(&id)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// Queue lists queued messages by ID.
func (s *Store) Queue(ctx context.Context) ([]sealpost.QueuedMessage, error) {
	const op = "sqlite.Queue"
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, from_addr, recipients, blob_ref, size, queued, next_try, attempts, last_error
		FROM queue ORDER BY id`)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []sealpost.QueuedMessage
	for rows.Next() {
		var m sealpost.QueuedMessage
		var rcpts, blob string
		var queued, next int64
		if err := rows.Scan(&m.ID, &m.From, &rcpts, &blob, &m.Size, &queued, &next, &m.Attempts, &m.LastError); err != nil {
			return nil, dbErr(op, err)
		}
		m.Recipients = column.SplitRecipients(rcpts)
		m.Blob = sealpost.BlobRef(blob)
		m.Queued = column.FromNanos(queued)
		m.NextTry = column.FromNanos(next)
		out = append(out, m)
	}
	return out, dbErr(op, rows.Err())
}

// Dequeue removes a queued message and returns its blob if nothing else
// references it. NotExist if there is no such message.
func (s *Store) Dequeue(ctx context.Context, id int64) ([]sealpost.BlobRef, error) {
	const op = "sqlite.Dequeue"
	var blobs []sealpost.BlobRef
	err := s.db.Write(ctx, op, func(tx *sql.Tx) error {
		var ref string
		err := tx.QueryRowContext(ctx, `DELETE FROM queue WHERE id = ? RETURNING blob_ref`, id).Scan(&ref)
		if errors.IsErr(err, sql.ErrNoRows) {
			return notExist("queued message %d", id)
		} else if err != nil {
			return err
		}
		blobs, err = unreferenced(ctx, tx, map[sealpost.BlobRef]bool{sealpost.BlobRef(ref): true})
		return err
	})
	return blobs, err
}

// Reschedule records a failed delivery attempt: it increments Attempts and
// sets NextTry and LastError. NotExist if there is no such message.
//
// It is not (yet) part of sealpost.QueueStore, which has no way to record an
// attempt; storetest checks it when a Store has it.
func (s *Store) Reschedule(ctx context.Context, id int64, nextTry time.Time, lastError string) error {
	const op = "sqlite.Reschedule"
	if !column.ValidTime(nextTry) {
		return errors.E(op, errors.Invalid, errors.Str("time out of range"))
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE queue SET attempts = attempts + 1, next_try = ?, last_error = ? WHERE id = ?`,
			column.Nanos(nextTry), lastError, id)
		if err != nil {
			return err
		}
		return mustAffect(res, "queued message %d", id)
	})
}
