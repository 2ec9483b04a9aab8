package postgres

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// This file is the quota bookkeeping, as in store/sqlite/quota.go: each
// account row carries its usage, changed in the same transaction as every
// insert and removal of a message, and its override of the configured
// limits. Messages in the hidden legal-hold mailbox are never charged.
//
// Lock order: a transaction that adds or removes messages locks the
// mailboxes first (in ID order) and then the accounts it charges (in ID
// order). Transactions that lock an account before its mailboxes
// (RenameMailbox, DeleteAccount) may deadlock with them; PostgreSQL
// detects it and the loser is retried (retryable).

const sqlCharge = `UPDATE accounts SET used_storage = used_storage + $1, used_messages = used_messages + $2
	WHERE id = $3 RETURNING used_storage`

// charge adds bytes and count (negative to remove) to acct's usage; with
// limit positive and bytes added, OverQuota when the account's storage
// would end above limit (the caller's transaction must then roll back).
func charge(ctx context.Context, tx pgx.Tx, acct sealpost.AccountID, bytes, count, limit int64) error {
	var used int64
	err := tx.QueryRow(ctx, sqlCharge, bytes, count, int64(acct)).Scan(&used)
	if errors.IsErr(err, pgx.ErrNoRows) {
		return notExist("account %d", acct)
	} else if err != nil {
		return err
	}
	if limit > 0 && bytes > 0 && used > limit {
		return column.OverStorage(bytes, limit)
	}
	return nil
}

// chargeMessages charges inserted messages to their accounts, in account
// ID order; limits[i] (nil: none) is msgs[i]'s NewMessage.Limit, and an
// account's limit is the least positive one among its messages.
func chargeMessages(ctx context.Context, tx pgx.Tx, msgs []sealpost.Message, limits []int64) error {
	var ids []int64
	for _, m := range msgs {
		ids = append(ids, int64(m.Mailbox))
	}
	type owner struct {
		acct    sealpost.AccountID
		charged bool
	}
	owners := map[sealpost.MailboxID]owner{}
	rows, _ := tx.Query(ctx, `SELECT id, account, special_use FROM mailboxes WHERE id = ANY($1)`, ids)
	var id, acct int64
	var use string
	if _, err := pgx.ForEachRow(rows, []any{&id, &acct, &use}, func() error {
		owners[sealpost.MailboxID(id)] = owner{sealpost.AccountID(acct), column.Charged(sealpost.SpecialUse(use))}
		return nil
	}); err != nil {
		return err
	}
	type sum struct{ bytes, count, limit int64 }
	sums := map[sealpost.AccountID]*sum{}
	for i, m := range msgs {
		o := owners[m.Mailbox]
		if !o.charged {
			continue
		}
		s := sums[o.acct]
		if s == nil {
			s = &sum{}
			sums[o.acct] = s
		}
		s.bytes += m.Size
		s.count++
		if i < len(limits) && limits[i] > 0 && (s.limit == 0 || limits[i] < s.limit) {
			s.limit = limits[i]
		}
	}
	accts := make([]sealpost.AccountID, 0, len(sums))
	for a := range sums {
		accts = append(accts, a)
	}
	slices.Sort(accts)
	for _, a := range accts {
		s := sums[a]
		if err := charge(ctx, tx, a, s.bytes, s.count, s.limit); err != nil {
			return err
		}
	}
	return nil
}

// SetQuota replaces the account's quota override. NotExist for an unknown
// account; Invalid for a malformed quota.
func (s *Store) SetQuota(ctx context.Context, id sealpost.AccountID, q sealpost.Quota) error {
	const op = "postgres.SetQuota"
	if err := q.Check(); err != nil {
		return errors.E(op, err)
	}
	return s.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET quota_storage = $1, quota_mailboxes = $2 WHERE id = $3`, q.Storage, q.Mailboxes, int64(id))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notExist("account %d", id)
		}
		return nil
	})
}

// Usage returns what the account holds: its storage and message counters
// and the number of its mailboxes, the hidden hold mailbox left out.
func (s *Store) Usage(ctx context.Context, id sealpost.AccountID) (sealpost.Usage, error) {
	const op = "postgres.Usage"
	if err := s.read(op); err != nil {
		return sealpost.Usage{}, err
	}
	var u sealpost.Usage
	err := s.pool.QueryRow(ctx, `SELECT used_storage, used_messages,
		(SELECT COUNT(*) FROM mailboxes WHERE account = $1 AND special_use <> $2)
		FROM accounts WHERE id = $1`, int64(id), string(sealpost.UseHeld)).Scan(&u.Storage, &u.Messages, &u.Mailboxes)
	if errors.IsErr(err, pgx.ErrNoRows) {
		return sealpost.Usage{}, errors.E(op, notExist("account %d", id))
	}
	return u, dbErr(op, err)
}

// checkMailboxLimit fails with OverQuota when one more mailbox of use
// would pass the account's limit. The caller holds the account's row lock
// (lockAccount), so two creations cannot both pass it.
func checkMailboxLimit(ctx context.Context, tx pgx.Tx, acct sealpost.AccountID, use sealpost.SpecialUse, limit int64) error {
	if !column.MailboxLimited(use, limit) {
		return nil
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM mailboxes WHERE account = $1 AND special_use <> $2`,
		int64(acct), string(sealpost.UseHeld)).Scan(&n); err != nil {
		return err
	}
	return column.MailboxLimit(n, limit)
}
