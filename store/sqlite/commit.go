package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/sealpost/sealpost/store/column"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// maxBatch is the most calls committed in one transaction.
const maxBatch = 256

// job is one call waiting for the group committer: run does its work in
// the batch's transaction, inside a savepoint of its own.
type job struct {
	ctx context.Context
	run func(ctx context.Context, tx *sql.Tx) error
	res chan error // buffered: the committer never blocks on it
}

// group runs fn as part of the group commit (see the package doc) and
// returns once the transaction it joined is durable, or fn failed (its
// savepoint rolled back, the rest of the batch unaffected). If ctx ends
// while the call waits, group returns an Unavailable error, but a call the
// committer had already begun may still commit: as with any remote
// database, an error here does not prove the change absent.
func (s *Store) group(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	j := &job{ctx: ctx, run: fn, res: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errors.E(op, errors.Unavailable, errors.Str("store closed"))
	}
	select {
	case s.jobs <- j:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return errors.E(op, errors.Unavailable, ctx.Err())
	}
	select {
	case err := <-j.res:
		return dbErr(op, err)
	case <-ctx.Done():
		return errors.E(op, errors.Unavailable, ctx.Err())
	}
}

// AddMessages inserts messages in one transaction, assigning UIDs and
// MODSEQs in their mailboxes; it returns them in input order. NotExist if a
// mailbox is unknown (and then nothing is inserted); Invalid for a bad flag,
// a negative size or a missing blob ref. A zero InternalDate is set to now.
// It joins the group commit.
func (s *Store) AddMessages(ctx context.Context, msgs []sealpost.NewMessage) ([]sealpost.Message, error) {
	const op = "sqlite.AddMessages"
	if len(msgs) == 0 {
		return nil, nil
	}
	for _, m := range msgs {
		if err := checkNewMessage(m); err != nil {
			return nil, errors.E(op, err)
		}
	}
	var out []sealpost.Message
	err := s.group(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		out, err = s.hot.insertMessages(ctx, tx, msgs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkNewMessage validates a message before it is queued for commit.
func checkNewMessage(m sealpost.NewMessage) error {
	if m.Blob == "" {
		return invalid("message has no blob")
	}
	if m.Size < 0 {
		return invalid("negative size %d", m.Size)
	}
	if !column.ValidTime(m.InternalDate) {
		return invalid("internal date %v out of range", m.InternalDate)
	}
	return column.CheckFlags(m.Flags)
}

// Group commit's wait. When the store is busy (its recent batches held
// about two calls or more), the committer, having taken every call
// pending, waits for more: as long as another comes within commitGap, and
// commitWait in all. Calls that arrive together, such as the deliveries
// one blob sync round released at once (blob/pack), then share one commit,
// and commits (each an fsync, which costs CPU as well as time) are fewer
// per call under load. A store whose calls come one at a time never waits.
const (
	defaultCommitGap  = 300 * time.Microsecond
	defaultCommitWait = time.Millisecond
	busyCompany       = 1.5 // calls per batch, on a moving average
)

// commitLoop is the group committer. It takes the first pending call, opens
// a transaction (waiting for the writer connection if another write holds
// it), gathers whatever else queued up meanwhile (and, when busy, what
// comes soon after), and commits them together. It exits when s.jobs is
// closed and drained.
func (s *Store) commitLoop() {
	defer close(s.done)
	for first := range s.jobs {
		// The transaction does not run under any caller's context: one
		// caller giving up must not abort the others' work.
		tx, err := s.db.W.BeginTx(context.Background(), nil)
		batch := s.gather([]*job{first}, s.company >= busyCompany)
		s.company = 0.75*s.company + 0.25*float64(len(batch))
		if err != nil {
			for _, j := range batch {
				j.res <- err
			}
			continue
		}
		s.commitBatch(tx, batch)
	}
}

// gather adds to batch the calls pending, then, if busy, those that come
// within s.commitGap of the last, for s.commitWait at most; up to maxBatch.
func (s *Store) gather(batch []*job, busy bool) []*job {
	for len(batch) < maxBatch {
		j, ok := s.next(nil)
		if !ok {
			break
		}
		batch = append(batch, j)
	}
	if !busy || s.commitGap <= 0 || len(batch) == maxBatch {
		return batch
	}
	end := time.Now().Add(s.commitWait)
	t := time.NewTimer(min(s.commitGap, s.commitWait))
	defer t.Stop()
	for len(batch) < maxBatch {
		j, ok := s.next(t)
		if !ok {
			break
		}
		batch = append(batch, j)
		t.Reset(min(s.commitGap, time.Until(end)))
	}
	return batch
}

// next returns the next call: one already pending when t is nil, else the
// first to come before t fires. It reports false when there is none, or
// when s.jobs is closed and drained.
func (s *Store) next(t *time.Timer) (*job, bool) {
	if t == nil {
		select {
		case j, ok := <-s.jobs:
			return j, ok
		default:
			return nil, false
		}
	}
	select {
	case j, ok := <-s.jobs:
		return j, ok
	case <-t.C:
		return nil, false
	}
}

// commitBatch runs each call of batch in its own savepoint within tx,
// commits, and answers every caller. A call that fails rolls back to its
// savepoint and fails alone; if the transaction itself fails, every call
// that had not failed by itself gets that error.
func (s *Store) commitBatch(tx *sql.Tx, batch []*job) {
	ctx := context.Background()
	results := make([]error, len(batch))
	failed := make([]bool, len(batch))
	fatal := func(err error) {
		tx.Rollback()
		for i, j := range batch {
			if !failed[i] {
				results[i] = err
			}
			j.res <- results[i]
		}
	}
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i], failed[i] = errors.E(errors.Unavailable, err), true
			continue
		}
		if _, err := tx.StmtContext(ctx, s.hot.savepoint).ExecContext(ctx); err != nil {
			fatal(err)
			return
		}
		if err := j.run(ctx, tx); err != nil {
			results[i], failed[i] = err, true
			if _, err := tx.StmtContext(ctx, s.hot.rollbackTo).ExecContext(ctx); err != nil {
				fatal(err)
				return
			}
		}
		if _, err := tx.StmtContext(ctx, s.hot.release).ExecContext(ctx); err != nil {
			fatal(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fatal(err)
		return
	}
	for i, j := range batch {
		j.res <- results[i]
	}
}

// hotStmts are the statements of the group committer and of the queue's
// updates, prepared once on the single writer connection: SQLite's parser
// costs more than the insert itself, and the committer runs five
// statements per delivery, the outbound queue three per message sent.
type hotStmts struct {
	savepoint, release, rollbackTo *sql.Stmt
	nextUID, insert, charge        *sql.Stmt
	dequeue, blobUsed, updateQueue *sql.Stmt
}

const (
	sqlNextUID = `UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
		WHERE id = ? RETURNING uidnext, highestmodseq, account, special_use`
	sqlInsertMessage = `INSERT INTO messages
		(mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id, session_key, savedate)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
)

func (h *hotStmts) prepare(ctx context.Context, w *sql.DB) error {
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&h.savepoint, `SAVEPOINT call`},
		{&h.release, `RELEASE SAVEPOINT call`},
		{&h.rollbackTo, `ROLLBACK TO SAVEPOINT call`},
		{&h.nextUID, sqlNextUID},
		{&h.insert, sqlInsertMessage},
		{&h.charge, sqlCharge},
		{&h.dequeue, sqlDequeue},
		{&h.blobUsed, sqlBlobUsed},
		{&h.updateQueue, sqlUpdateQueued},
	} {
		st, err := w.PrepareContext(ctx, p.sql)
		if err != nil {
			h.close()
			return err
		}
		*p.dst = st
	}
	return nil
}

func (h *hotStmts) close() {
	for _, st := range []*sql.Stmt{h.savepoint, h.release, h.rollbackTo, h.nextUID, h.insert, h.charge, h.dequeue, h.blobUsed, h.updateQueue} {
		if st != nil {
			st.Close()
		}
	}
}

// insertMessages inserts msgs with the prepared statements.
func (h *hotStmts) insertMessages(ctx context.Context, tx *sql.Tx, msgs []sealpost.NewMessage) ([]sealpost.Message, error) {
	st := h.bind(ctx, tx)
	out := make([]sealpost.Message, len(msgs))
	for i, nm := range msgs {
		m := column.NewMessage(nm)
		if err := st.insertMessage(ctx, &m, nm.Limit); err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// insertStmts are the statements that insert a message, bound to one
// transaction.
type insertStmts struct{ nextUID, insert, charge *sql.Stmt }

func (h *hotStmts) bind(ctx context.Context, tx *sql.Tx) insertStmts {
	return insertStmts{tx.StmtContext(ctx, h.nextUID), tx.StmtContext(ctx, h.insert), tx.StmtContext(ctx, h.charge)}
}

// insertMessage allocates m's UID and MODSEQ in m.Mailbox, charges its
// size to the account (OverQuota beyond a positive limit) and inserts it,
// setting m.ID, m.UID and m.ModSeq.
func (st insertStmts) insertMessage(ctx context.Context, m *sealpost.Message, limit int64) error {
	var uidnext, modseq int64
	var acct sealpost.AccountID
	var use string
	err := st.nextUID.QueryRowContext(ctx, m.Mailbox).Scan(&uidnext, &modseq, &acct, &use)
	if errors.IsErr(err, sql.ErrNoRows) {
		return notExist("mailbox %d", m.Mailbox)
	} else if err != nil {
		return err
	}
	// UIDs are 32-bit (RFC 9051 2.3.1.1); the last usable one is 2^32-1.
	if uidnext-1 > 1<<32-1 {
		return errors.E(errors.TooLarge, errors.Errorf("mailbox %d has run out of UIDs", m.Mailbox))
	}
	if column.Charged(sealpost.SpecialUse(use)) {
		if err := charge(ctx, st.charge, acct, m.Size, 1, limit); err != nil {
			return err
		}
	}
	m.UID = sealpost.UID(uidnext - 1)
	m.ModSeq = uint64(modseq)
	m.SaveDate = column.Now() // stored in this mailbox now (RFC 8514)
	return st.insert.QueryRowContext(ctx,
		m.Mailbox, int64(m.UID), column.EncodeFlags(m.Flags), column.Nanos(m.InternalDate), m.Size,
		int64(m.ModSeq), string(m.Blob), int64(m.Key), m.SessionKey, column.Nanos(m.SaveDate)).Scan(&m.ID)
}
