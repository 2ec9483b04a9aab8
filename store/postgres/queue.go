package postgres

import (
	"context"
	"time"

	"github.com/sealpost/sealpost/store/column"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Enqueue adds messages to the outbound queue in one transaction, durably,
// and returns their IDs. A zero Queued is set to now and a zero NextTry to
// Queued. Invalid without recipients or blob, or with a recipient holding
// CR or LF.
func (s *Store) Enqueue(ctx context.Context, msgs []sealpost.QueuedMessage) ([]int64, error) {
	const op = "postgres.Enqueue"
	msgs, err := column.QueuedAll(msgs)
	if err != nil {
		return nil, errors.E(op, err)
	}
	ids := make([]int64, len(msgs))
	err = s.write(ctx, op, func(tx pgx.Tx) error {
		for i, m := range msgs {
			err := tx.QueryRow(ctx, `INSERT INTO queue (from_addr, recipients, blob_ref, size, queued, next_try, attempts, last_error, held, warned)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
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
	const op = "postgres.Queue"
	if err := s.read(op); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+queueColumns+` FROM queue ORDER BY id`)
	out, err := pgx.CollectRows(rows, scanQueued)
	if err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// QueueDue returns the due entries, earliest first, and when the next one
// falls due (the queue_due index serves both).
func (s *Store) QueueDue(ctx context.Context, now time.Time, limit int) ([]sealpost.QueuedMessage, time.Time, error) {
	const op = "postgres.QueueDue"
	if limit <= 0 {
		return nil, time.Time{}, errors.E(op, errors.Invalid, errors.Str("limit must be positive"))
	}
	if err := s.read(op); err != nil {
		return nil, time.Time{}, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+queueColumns+`
		FROM queue WHERE held = FALSE AND next_try <= $1 ORDER BY next_try, id LIMIT $2`, column.Nanos(now), limit)
	out, err := pgx.CollectRows(rows, scanQueued)
	if err != nil {
		return nil, time.Time{}, dbErr(op, err)
	}
	var next *int64
	if err := s.pool.QueryRow(ctx, `SELECT MIN(next_try) FROM queue WHERE held = FALSE AND next_try > $1`, column.Nanos(now)).Scan(&next); err != nil {
		return nil, time.Time{}, dbErr(op, err)
	}
	var at time.Time
	if next != nil {
		at = column.FromNanos(*next)
	}
	return out, at, nil
}

// UpdateQueued stores what delivery and the operator change of an entry.
func (s *Store) UpdateQueued(ctx context.Context, m sealpost.QueuedMessage) error {
	const op = "postgres.UpdateQueued"
	if err := column.CheckUpdate(m); err != nil {
		return errors.E(op, err)
	}
	return s.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE queue SET recipients = $1, next_try = $2, attempts = $3, last_error = $4, held = $5, warned = $6
			WHERE id = $7`, column.JoinRecipients(m.Recipients), column.Nanos(m.NextTry), m.Attempts, m.LastError, m.Held, m.Warned, m.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notExist("queued message %d", m.ID)
		}
		return nil
	})
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

const queueColumns = `id, from_addr, recipients, blob_ref, size, queued, next_try, attempts, last_error, held, warned`

// scanQueued reads a queue row of queueColumns.
func scanQueued(r pgx.CollectableRow) (sealpost.QueuedMessage, error) {
	var m sealpost.QueuedMessage
	var rcpts, blob string
	var queued, next int64
	if err := r.Scan(&m.ID, &m.From, &rcpts, &blob, &m.Size, &queued, &next, &m.Attempts, &m.LastError, &m.Held, &m.Warned); err != nil {
		return m, err
	}
	return column.ScannedQueued(m, rcpts, blob, queued, next), nil
}
