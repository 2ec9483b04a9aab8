package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// buryExpunged records, in Expunge's transaction, a tombstone per UID it
// removed, and keeps the mailbox's at most column.MaxTombstones by dropping
// the oldest expunges whole and raising its expunge floor past them. The
// mailbox row is locked by Expunge, so two expunges cannot prune at once.
func buryExpunged(ctx context.Context, tx pgx.Tx, mailbox sealpost.MailboxID, x sealpost.Expunged) error {
	if _, err := tx.Exec(ctx, `INSERT INTO expunged (mailbox, modseq, uid) SELECT $1, $2, unnest($3::BIGINT[])`,
		int64(mailbox), int64(x.ModSeq), uidArgs(x.UIDs)); err != nil {
		return err
	}
	var cut int64
	err := tx.QueryRow(ctx, `SELECT modseq FROM expunged WHERE mailbox = $1 ORDER BY modseq DESC LIMIT 1 OFFSET $2`,
		int64(mailbox), column.MaxTombstones).Scan(&cut)
	if errors.IsErr(err, pgx.ErrNoRows) {
		return nil // within the bound
	} else if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM expunged WHERE mailbox = $1 AND modseq <= $2`, int64(mailbox), cut); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE mailboxes SET expunged_floor = GREATEST(expunged_floor, $1) WHERE id = $2`, cut, int64(mailbox))
	return err
}

// Vanished implements sealpost.MessageStore, reading the tombstones and the
// floor in one statement (one snapshot).
func (s *Store) Vanished(ctx context.Context, mailbox sealpost.MailboxID, since uint64) ([]sealpost.UID, bool, error) {
	const op = "postgres.Vanished"
	if err := s.read(op); err != nil {
		return nil, false, err
	}
	var floor int64
	var uids []int64
	err := s.pool.QueryRow(ctx, `SELECT m.expunged_floor,
		COALESCE((SELECT array_agg(e.uid ORDER BY e.uid) FROM expunged e WHERE e.mailbox = m.id AND e.modseq > $2), '{}')
		FROM mailboxes m WHERE m.id = $1`, int64(mailbox), int64(min(since, 1<<63-1))).Scan(&floor, &uids)
	if errors.IsErr(err, pgx.ErrNoRows) {
		return nil, false, errors.E(op, notExist("mailbox %d", mailbox))
	} else if err != nil {
		return nil, false, dbErr(op, err)
	}
	out := make([]sealpost.UID, len(uids))
	for i, u := range uids {
		out[i] = sealpost.UID(u)
	}
	return out, since >= uint64(floor), nil
}
