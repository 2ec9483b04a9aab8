package sqlite

import (
	"context"
	"database/sql"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// This file is the quota bookkeeping. Each account row carries its usage
// (used_storage, used_messages), changed by charge in the same transaction
// as every insert and removal of a message, and its override
// (quota_storage, quota_mailboxes). Messages in the hidden legal-hold
// mailbox are never charged (see sealpost.Usage).

// sqlCharge adds to an account's usage and returns the new storage figure.
const sqlCharge = `UPDATE accounts SET used_storage = used_storage + ?, used_messages = used_messages + ?
	WHERE id = ? RETURNING used_storage`

// charge adds bytes and count (negative to remove) to acct's usage with
// stmt (sqlCharge in the caller's transaction). With limit positive and
// bytes added, it fails with OverQuota when the account's storage would
// end above limit; the caller's transaction (or savepoint) must then be
// rolled back, which the group commit and db.Write both do.
func charge(ctx context.Context, stmt *sql.Stmt, acct sealpost.AccountID, bytes, count, limit int64) error {
	var used int64
	if err := stmt.QueryRowContext(ctx, bytes, count, acct).Scan(&used); errors.IsErr(err, sql.ErrNoRows) {
		return notExist("account %d", acct)
	} else if err != nil {
		return err
	}
	if limit > 0 && bytes > 0 && used > limit {
		return column.OverStorage(bytes, limit)
	}
	return nil
}

// SetQuota replaces the account's quota override. NotExist if there is
// none; Invalid for a malformed quota.
func (s *Store) SetQuota(ctx context.Context, id sealpost.AccountID, q sealpost.Quota) error {
	const op = "sqlite.SetQuota"
	if err := q.Check(); err != nil {
		return errors.E(op, err)
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET quota_storage = ?, quota_mailboxes = ? WHERE id = ?`, q.Storage, q.Mailboxes, id)
		if err != nil {
			return err
		}
		return mustAffect(res, "account %d", id)
	})
}

// Usage returns what the account holds: its storage and message counters
// and the number of its mailboxes, the hidden hold mailbox left out.
func (s *Store) Usage(ctx context.Context, id sealpost.AccountID) (sealpost.Usage, error) {
	const op = "sqlite.Usage"
	var u sealpost.Usage
	err := s.db.Read(ctx, op, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT used_storage, used_messages FROM accounts WHERE id = ?`, id).Scan(&u.Storage, &u.Messages)
		if errors.IsErr(err, sql.ErrNoRows) {
			return notExist("account %d", id)
		} else if err != nil {
			return err
		}
		u.Mailboxes, err = countMailboxes(ctx, tx, id)
		return err
	})
	return u, err
}

// countMailboxes counts the account's mailboxes but the hidden hold.
func countMailboxes(ctx context.Context, tx *sql.Tx, acct sealpost.AccountID) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailboxes WHERE account = ? AND special_use <> ?`, acct, string(sealpost.UseHeld)).Scan(&n)
	return n, err
}

// checkMailboxLimit fails with OverQuota when one more mailbox of use
// would pass the account's limit. It runs in the creating transaction on
// the single writer, so two creations cannot both pass it.
func checkMailboxLimit(ctx context.Context, tx *sql.Tx, acct sealpost.AccountID, use sealpost.SpecialUse, limit int64) error {
	if !column.MailboxLimited(use, limit) {
		return nil
	}
	n, err := countMailboxes(ctx, tx, acct)
	if err != nil {
		return err
	}
	return column.MailboxLimit(n, limit)
}

// unchargeMailbox takes a mailbox's messages off its account's usage,
// before the mailbox is deleted in the same transaction. NotExist if the
// mailbox is unknown.
func (s *Store) unchargeMailbox(ctx context.Context, tx *sql.Tx, id sealpost.MailboxID) error {
	mb, err := mailboxByID(ctx, tx, id)
	if err != nil || !column.Charged(mb.Use) {
		return err
	}
	var bytes, count int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages WHERE mailbox = ?`, id).Scan(&bytes, &count); err != nil {
		return err
	}
	if count == 0 {
		return nil
	}
	return charge(ctx, tx.StmtContext(ctx, s.hot.charge), mb.Account, -bytes, -count, 0)
}
