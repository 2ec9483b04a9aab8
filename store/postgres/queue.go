package postgres

import (
	"context"
	"time"

	"github.com/sealpost/sealpost/store/column"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Enqueue adds a message to the outbound queue, durably, and returns its ID.
// A zero Queued is set to now and a zero NextTry to Queued. Invalid without
// recipients or blob, or with a recipient holding CR or LF.
func (s *Store) Enqueue(ctx context.Context, m sealpost.QueuedMessage) (int64, error) {
	const op = "postgres.Enqueue"
	m, err := column.Queued(m)
	if err != nil {
		return 0, errors.E(op, err)
	}
	var id int64
	err = s.write(ctx, op, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO queue (from_addr, recipients, blob_ref, size, queued, next_try, attempts, last_error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
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
	const op = "postgres.Queue"
	if err := s.read(op); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT id, from_addr, recipients, blob_ref, size, queued, next_try, attempts, last_error
		FROM queue ORDER BY id`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealpost.QueuedMessage, error) {
		var m sealpost.QueuedMessage
		var rcpts, blob string
		var queued, next int64
		if err := r.Scan(&m.ID, &m.From, &rcpts, &blob, &m.Size, &queued, &next, &m.Attempts, &m.LastError); err != nil {
			return m, err
		}
		m.Recipients = column.SplitRecipients(rcpts)
		m.Blob = sealpost.BlobRef(blob)
		m.Queued = column.FromNanos(queued)
		m.NextTry = column.FromNanos(next)
		return m, nil
	})
	if err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// Dequeue removes a queued message and returns its blob if nothing else
// references it. NotExist if there is no such message.
func (s *Store) Dequeue(ctx context.Context, id int64) ([]sealpost.BlobRef, error) {
	const op = "postgres.Dequeue"
	var blobs []sealpost.BlobRef
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		blobs = nil
		var ref string
		err := tx.QueryRow(ctx, `DELETE FROM queue WHERE id = $1 RETURNING blob_ref`, id).Scan(&ref)
		if errors.IsErr(err, pgx.ErrNoRows) {
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
func (s *Store) Reschedule(ctx context.Context, id int64, nextTry time.Time, lastError string) error {
	const op = "postgres.Reschedule"
	if !column.ValidTime(nextTry) {
		return errors.E(op, errors.Invalid, errors.Str("time out of range"))
	}
	return s.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE queue SET attempts = attempts + 1, next_try = $1, last_error = $2 WHERE id = $3`,
			column.Nanos(nextTry), lastError, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notExist("queued message %d", id)
		}
		return nil
	})
}
