package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// Deliveries are group-committed, as in store/sqlite. Every message a
// mailbox receives takes that mailbox's row lock (UIDNEXT) until commit, so
// concurrent deliveries to one mailbox would otherwise queue behind one
// another's WAL flush: 32 SMTP sessions delivering to one INBOX ran at one
// commit, ~2 ms, per message. The committer takes every AddMessages call
// pending when it starts a transaction, runs each in its own savepoint (a
// call that fails rolls back alone), and commits them with one flush.

// maxBatch is the most AddMessages calls committed in one transaction.
const maxBatch = 256

type addReq struct {
	ctx  context.Context
	msgs []sealpost.Message // Mailbox, Flags, ... set; ID, UID, ModSeq filled in
	lims []int64            // each message's NewMessage.Limit
	res  chan error         // buffered
}

// AddMessages inserts messages in one transaction, assigning UIDs and
// MODSEQs in their mailboxes; it returns them in input order. NotExist if a
// mailbox is unknown (and then nothing is inserted); Invalid for a bad flag,
// a negative size or a missing blob ref.
//
// If ctx ends while the call waits, AddMessages returns an Unavailable
// error, but a call the committer had already begun may still commit: as
// with any remote database, an error here does not prove the messages
// absent.
func (s *Store) AddMessages(ctx context.Context, msgs []sealpost.NewMessage) ([]sealpost.Message, error) {
	const op = "postgres.AddMessages"
	if len(msgs) == 0 {
		return nil, nil
	}
	req := &addReq{ctx: ctx, msgs: make([]sealpost.Message, len(msgs)), lims: make([]int64, len(msgs)), res: make(chan error, 1)}
	for i, m := range msgs {
		if err := checkNewMessage(m); err != nil {
			return nil, errors.E(op, err)
		}
		req.msgs[i] = column.NewMessage(m)
		req.lims[i] = m.Limit
	}
	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return nil, errors.E(op, errors.Unavailable, errClosed)
	}
	select {
	case s.adds <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return nil, errors.E(op, errors.Unavailable, ctx.Err())
	}
	select {
	case err := <-req.res:
		if err != nil {
			return nil, dbErr(op, err)
		}
		return req.msgs, nil
	case <-ctx.Done():
		return nil, errors.E(op, errors.Unavailable, ctx.Err())
	}
}

// commitLoop is the group committer; it exits when s.adds is closed and
// drained.
func (s *Store) commitLoop() {
	defer close(s.done)
	for first := range s.adds {
		batch := []*addReq{first}
	gather:
		for len(batch) < maxBatch {
			select {
			case req, ok := <-s.adds:
				if !ok {
					break gather
				}
				batch = append(batch, req)
			default:
				break gather
			}
		}
		s.commitBatch(batch)
	}
}

// commitBatch commits a batch, retrying it whole on a serialization failure
// or deadlock, and answers every caller.
func (s *Store) commitBatch(batch []*addReq) {
	// Not under any caller's context: one caller giving up must not abort
	// the others' work.
	ctx := context.Background()
	results := make([]error, len(batch))
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt*attempt) * 5 * time.Millisecond)
		}
		clear(results)
		err = s.tryBatch(ctx, batch, results)
		if err == nil || !retryable(err) {
			break
		}
	}
	for i, req := range batch {
		if err != nil && results[i] == nil {
			results[i] = err
		}
		req.res <- results[i]
	}
}

// tryBatch runs the batch in one transaction. It returns an error only for
// a failure of the whole transaction; a call's own failure goes to results.
func (s *Store) tryBatch(ctx context.Context, batch []*addReq, results []error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	// Lock every mailbox of the batch in ID order first, so that this
	// transaction cannot deadlock with another that locks several.
	var ids []int64
	for _, req := range batch {
		for _, m := range req.msgs {
			ids = append(ids, int64(m.Mailbox))
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 1 {
		if _, err := tx.Exec(ctx, `SELECT id FROM mailboxes WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return err
		}
	}
	single := len(batch) == 1
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i] = errors.E(errors.Unavailable, err)
			continue
		}
		if !single {
			if _, err := tx.Exec(ctx, `SAVEPOINT add_messages`); err != nil {
				return err
			}
		}
		if err := insertMessages(ctx, tx, req.msgs, req.lims); err != nil {
			if retryable(err) {
				return err
			}
			results[i] = err
			if single {
				return nil // nothing left to commit
			}
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT add_messages`); err != nil {
				return err
			}
			continue
		}
		if !single {
			if _, err := tx.Exec(ctx, `RELEASE SAVEPOINT add_messages`); err != nil {
				return err
			}
		}
	}
	return tx.Commit(ctx)
}
