package sqlite

import (
	"context"
	"database/sql"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// buryExpunged records, in Expunge's transaction, a tombstone per UID it
// removed, and keeps the mailbox's at most column.MaxTombstones by dropping
// the oldest expunges whole and raising its expunge floor past them.
func buryExpunged(ctx context.Context, tx *sql.Tx, mailbox sealpost.MailboxID, x sealpost.Expunged) error {
	ins, err := tx.PrepareContext(ctx, `INSERT INTO expunged (mailbox, modseq, uid) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, uid := range x.UIDs {
		if _, err := ins.ExecContext(ctx, mailbox, int64(x.ModSeq), int64(uid)); err != nil {
			return err
		}
	}
	var cut int64
	err = tx.QueryRowContext(ctx, `SELECT modseq FROM expunged WHERE mailbox = ? ORDER BY modseq DESC LIMIT 1 OFFSET ?`,
		mailbox, column.MaxTombstones).Scan(&cut)
	if errors.IsErr(err, sql.ErrNoRows) {
		return nil // within the bound
	} else if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM expunged WHERE mailbox = ? AND modseq <= ?`, mailbox, cut); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE mailboxes SET expunged_floor = MAX(expunged_floor, ?) WHERE id = ?`, cut, mailbox)
	return err
}

// Vanished implements sealpost.MessageStore: the tombstones are read
// before the floor, so a pruning in between can only make the answer
// incomplete, never wrongly complete.
func (s *Store) Vanished(ctx context.Context, mailbox sealpost.MailboxID, since uint64) ([]sealpost.UID, bool, error) {
	const op = "sqlite.Vanished"
	rows, err := s.db.R.QueryContext(ctx, `SELECT uid FROM expunged WHERE mailbox = ? AND modseq > ? ORDER BY uid`,
		mailbox, int64(min(since, 1<<63-1)))
	if err != nil {
		return nil, false, dbErr(op, err)
	}
	defer rows.Close()
	var uids []sealpost.UID
	for rows.Next() {
		var uid int64
		if err := rows.Scan(&uid); err != nil {
			return nil, false, dbErr(op, err)
		}
		uids = append(uids, sealpost.UID(uid))
	}
	if err := rows.Err(); err != nil {
		return nil, false, dbErr(op, err)
	}
	var floor int64
	err = s.db.R.QueryRowContext(ctx, `SELECT expunged_floor FROM mailboxes WHERE id = ?`, mailbox).Scan(&floor)
	if errors.IsErr(err, sql.ErrNoRows) {
		return nil, false, errors.E(op, notExist("mailbox %d", mailbox))
	} else if err != nil {
		return nil, false, dbErr(op, err)
	}
	return uids, since >= uint64(floor), nil
}
