package sqlite

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

const mailboxColumns = `id, account, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq`

func scanMailbox(row interface{ Scan(...any) error }) (sealpost.Mailbox, error) {
	var m sealpost.Mailbox
	var use string
	var uidvalidity, uidnext, modseq int64
	if err := row.Scan(&m.ID, &m.Account, &m.Name, &use, &m.Subscribed, &uidvalidity, &uidnext, &modseq); err != nil {
		return sealpost.Mailbox{}, err
	}
	m.Use = sealpost.SpecialUse(use)
	m.UIDValidity = uint32(uidvalidity)
	m.UIDNext = sealpost.UID(uidnext)
	m.HighestModSeq = uint64(modseq)
	return m, nil
}

// Mailboxes lists an account's mailboxes, sorted by name (byte order).
func (s *Store) Mailboxes(ctx context.Context, acct sealpost.AccountID) ([]sealpost.Mailbox, error) {
	const op = "sqlite.Mailboxes"
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE account = ? ORDER BY name`, acct)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []sealpost.Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, m)
	}
	return out, dbErr(op, rows.Err())
}

// MailboxByName returns the named mailbox; "INBOX" in any case matches.
func (s *Store) MailboxByName(ctx context.Context, acct sealpost.AccountID, name string) (sealpost.Mailbox, error) {
	const op = "sqlite.MailboxByName"
	name = sealpost.CanonicalMailboxName(name)
	m, err := scanMailbox(s.db.R.QueryRowContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE account = ? AND name = ?`, acct, name))
	if errors.IsErr(err, sql.ErrNoRows) {
		return sealpost.Mailbox{}, errors.E(op, notExist("mailbox %q", name))
	}
	return m, dbErr(op, err)
}

// MailboxByUse returns the account's mailbox with the given special use.
func (s *Store) MailboxByUse(ctx context.Context, acct sealpost.AccountID, use sealpost.SpecialUse) (sealpost.Mailbox, error) {
	const op = "sqlite.MailboxByUse"
	if use == sealpost.UseNone {
		return sealpost.Mailbox{}, errors.E(op, errors.Invalid, errors.Str("no special use given"))
	}
	m, err := scanMailbox(s.db.R.QueryRowContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes
		WHERE account = ? AND special_use = ? ORDER BY id LIMIT 1`, acct, string(use)))
	if errors.IsErr(err, sql.ErrNoRows) {
		return sealpost.Mailbox{}, errors.E(op, notExist("no %s mailbox", use))
	}
	return m, dbErr(op, err)
}

// mailboxByID reads a mailbox inside a transaction. NotExist if absent.
func mailboxByID(ctx context.Context, tx *sql.Tx, id sealpost.MailboxID) (sealpost.Mailbox, error) {
	m, err := scanMailbox(tx.QueryRowContext(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE id = ?`, id))
	if errors.IsErr(err, sql.ErrNoRows) {
		return sealpost.Mailbox{}, notExist("mailbox %d", id)
	}
	return m, err
}

// CreateMailbox creates a mailbox with a fresh UIDValidity. Exist if the name
// is taken, or if use is set and another mailbox of the account has it (one
// mailbox per special use, so MailboxByUse is unambiguous). NotExist if the
// account is unknown; OverQuota if it has limit mailboxes (limit positive).
func (s *Store) CreateMailbox(ctx context.Context, acct sealpost.AccountID, name string, use sealpost.SpecialUse, limit int64) (sealpost.Mailbox, error) {
	const op = "sqlite.CreateMailbox"
	name = sealpost.CanonicalMailboxName(name)
	if err := sealpost.CheckMailboxName(name); err != nil {
		return sealpost.Mailbox{}, errors.E(op, err)
	}
	if use != sealpost.UseNone && (!strings.HasPrefix(string(use), `\`) || strings.ContainsAny(string(use), " \t\r\n")) {
		return sealpost.Mailbox{}, errors.E(op, errors.Invalid, errors.Errorf("bad special use %q", use))
	}
	var m sealpost.Mailbox
	err := s.db.Write(ctx, op, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE id = ?`, acct).Scan(&one)
		if errors.IsErr(err, sql.ErrNoRows) {
			return notExist("account %d", acct)
		} else if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM mailboxes WHERE account = ? AND name = ?`, acct, name).Scan(&one)
		if err == nil {
			return exist("mailbox %q", name)
		} else if !errors.IsErr(err, sql.ErrNoRows) {
			return err
		}
		if use != sealpost.UseNone {
			err = tx.QueryRowContext(ctx, `SELECT 1 FROM mailboxes WHERE account = ? AND special_use = ?`, acct, string(use)).Scan(&one)
			if err == nil {
				return exist("a mailbox already has special use %s", use)
			} else if !errors.IsErr(err, sql.ErrNoRows) {
				return err
			}
		}
		if err := checkMailboxLimit(ctx, tx, acct, use, limit); err != nil {
			return err
		}
		m, err = insertMailbox(ctx, tx, acct, name, use)
		return err
	})
	return m, err
}

// insertMailbox adds a subscribed, empty mailbox with a fresh UIDValidity.
func insertMailbox(ctx context.Context, tx *sql.Tx, acct sealpost.AccountID, name string, use sealpost.SpecialUse) (sealpost.Mailbox, error) {
	v, err := nextUIDValidity(ctx, tx)
	if err != nil {
		return sealpost.Mailbox{}, err
	}
	m := sealpost.Mailbox{
		Account:       acct,
		Name:          name,
		Use:           use,
		Subscribed:    true,
		UIDValidity:   v,
		UIDNext:       1,
		HighestModSeq: 1, // RFC 7162 3.1.1: mod-sequences are positive
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO mailboxes (account, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		acct, name, string(use), m.Subscribed, int64(v), int64(m.UIDNext), int64(m.HighestModSeq)).Scan(&m.ID)
	return m, err
}

// nextUIDValidity draws a UIDVALIDITY from a global counter that starts at
// the current Unix time and only grows: a mailbox re-created under an old
// name gets a strictly greater value than any it had (RFC 9051 2.3.1.1),
// and a database restored from a backup taken earlier still moves forward
// as long as the clock does.
func nextUIDValidity(ctx context.Context, tx *sql.Tx) (uint32, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'uidvalidity'`).Scan(&last); err != nil {
		return 0, err
	}
	v := max(last+1, time.Now().Unix())
	if v > math.MaxUint32 {
		return 0, errors.E(errors.Internal, errors.Str("UIDVALIDITY space exhausted"))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = ? WHERE name = 'uidvalidity'`, v); err != nil {
		return 0, err
	}
	return uint32(v), nil
}

// DeleteMailbox removes the mailbox and its messages (not its children,
// which are separate mailboxes) and returns the blobs nothing references
// any more. It does not refuse INBOX: IMAP's rules are the caller's.
func (s *Store) DeleteMailbox(ctx context.Context, id sealpost.MailboxID) ([]sealpost.BlobRef, error) {
	const op = "sqlite.DeleteMailbox"
	var blobs []sealpost.BlobRef
	err := s.db.Write(ctx, op, func(tx *sql.Tx) error {
		candidates, err := blobSet(ctx, tx, `SELECT DISTINCT blob_ref FROM messages WHERE mailbox = ?`, id)
		if err != nil {
			return err
		}
		if err := s.unchargeMailbox(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM mailboxes WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if err := mustAffect(res, "mailbox %d", id); err != nil {
			return err
		}
		blobs, err = unreferenced(ctx, tx.StmtContext(ctx, s.hot.blobUsed), candidates)
		return err
	})
	return blobs, err
}

// RenameMailbox renames a mailbox and its children, keeping their IDs,
// UIDValidity and messages. Exist if any new name is taken; Invalid if the
// new name lies under the old one, or the mailbox is INBOX (the caller
// renames INBOX by moving its messages, RFC 9051 6.3.6).
func (s *Store) RenameMailbox(ctx context.Context, id sealpost.MailboxID, newName string) error {
	const op = "sqlite.RenameMailbox"
	newName = sealpost.CanonicalMailboxName(newName)
	if err := sealpost.CheckMailboxName(newName); err != nil {
		return errors.E(op, err)
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		m, err := mailboxByID(ctx, tx, id)
		if err != nil {
			return err
		}
		old := m.Name
		switch {
		case old == newName:
			return nil
		case old == sealpost.Inbox:
			return invalid("INBOX is not renamed by the store")
		case strings.HasPrefix(newName, old+"/"):
			return invalid("cannot rename %q under itself", old)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, name FROM mailboxes WHERE account = ?`, m.Account)
		if err != nil {
			return err
		}
		taken := map[string]bool{}
		renames := map[sealpost.MailboxID]string{}
		for rows.Next() {
			var mid sealpost.MailboxID
			var name string
			if err := rows.Scan(&mid, &name); err != nil {
				rows.Close()
				return err
			}
			taken[name] = true
			if name == old || strings.HasPrefix(name, old+"/") {
				renames[mid] = newName + name[len(old):]
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, to := range renames {
			if taken[to] {
				return exist("mailbox %q", to)
			}
		}
		for mid, to := range renames {
			if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? WHERE id = ?`, to, mid); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetSubscribed sets the subscription flag of a mailbox.
func (s *Store) SetSubscribed(ctx context.Context, id sealpost.MailboxID, subscribed bool) error {
	const op = "sqlite.SetSubscribed"
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mailboxes SET subscribed = ? WHERE id = ?`, subscribed, id)
		if err != nil {
			return err
		}
		return mustAffect(res, "mailbox %d", id)
	})
}
