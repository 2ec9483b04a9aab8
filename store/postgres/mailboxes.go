package postgres

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

const mailboxColumns = `id, account, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq`

func scanMailbox(row pgx.Row) (sealpost.Mailbox, error) {
	var m sealpost.Mailbox
	var use string
	var id, acct, uidvalidity, uidnext, modseq int64
	if err := row.Scan(&id, &acct, &m.Name, &use, &m.Subscribed, &uidvalidity, &uidnext, &modseq); err != nil {
		return sealpost.Mailbox{}, err
	}
	m.ID = sealpost.MailboxID(id)
	m.Account = sealpost.AccountID(acct)
	m.Use = sealpost.SpecialUse(use)
	m.UIDValidity = uint32(uidvalidity)
	m.UIDNext = sealpost.UID(uidnext)
	m.HighestModSeq = uint64(modseq)
	return m, nil
}

// Mailboxes lists an account's mailboxes, sorted by name (byte order).
func (s *Store) Mailboxes(ctx context.Context, acct sealpost.AccountID) ([]sealpost.Mailbox, error) {
	const op = "postgres.Mailboxes"
	if err := s.read(op); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE account = $1 ORDER BY name`, int64(acct))
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealpost.Mailbox, error) { return scanMailbox(r) })
	if err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// MailboxByName returns the named mailbox; "INBOX" in any case matches.
func (s *Store) MailboxByName(ctx context.Context, acct sealpost.AccountID, name string) (sealpost.Mailbox, error) {
	const op = "postgres.MailboxByName"
	if err := s.read(op); err != nil {
		return sealpost.Mailbox{}, err
	}
	name = sealpost.CanonicalMailboxName(name)
	if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return sealpost.Mailbox{}, errors.E(op, notExist("mailbox %q", name))
	}
	m, err := scanMailbox(s.pool.QueryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE account = $1 AND name = $2`, int64(acct), name))
	if errors.IsErr(err, pgx.ErrNoRows) {
		return sealpost.Mailbox{}, errors.E(op, notExist("mailbox %q", name))
	}
	return m, dbErr(op, err)
}

// MailboxByUse returns the account's mailbox with the given special use.
func (s *Store) MailboxByUse(ctx context.Context, acct sealpost.AccountID, use sealpost.SpecialUse) (sealpost.Mailbox, error) {
	const op = "postgres.MailboxByUse"
	if use == sealpost.UseNone {
		return sealpost.Mailbox{}, errors.E(op, errors.Invalid, errors.Str("no special use given"))
	}
	if err := s.read(op); err != nil {
		return sealpost.Mailbox{}, err
	}
	m, err := scanMailbox(s.pool.QueryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes
		WHERE account = $1 AND special_use = $2 ORDER BY id LIMIT 1`, int64(acct), string(use)))
	if errors.IsErr(err, pgx.ErrNoRows) {
		return sealpost.Mailbox{}, errors.E(op, notExist("no %s mailbox", use))
	}
	return m, dbErr(op, err)
}

// lockMailbox reads a mailbox inside a transaction and locks its row until
// the transaction ends. NotExist if absent.
func lockMailbox(ctx context.Context, tx pgx.Tx, id sealpost.MailboxID) (sealpost.Mailbox, error) {
	m, err := scanMailbox(tx.QueryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE id = $1 FOR UPDATE`, int64(id)))
	if errors.IsErr(err, pgx.ErrNoRows) {
		return sealpost.Mailbox{}, notExist("mailbox %d", id)
	}
	return m, err
}

// lockAccount locks an account's row against concurrent mailbox creation
// and renaming (FOR NO KEY UPDATE does not block inserts that refer to it).
// NotExist if absent.
func lockAccount(ctx context.Context, tx pgx.Tx, acct sealpost.AccountID) error {
	found, err := exists(ctx, tx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, int64(acct))
	if err != nil {
		return err
	}
	if !found {
		return notExist("account %d", acct)
	}
	return nil
}

// CreateMailbox creates a mailbox with a fresh UIDValidity. Exist if the name
// is taken, or if use is set and another mailbox of the account has it (one
// mailbox per special use, so MailboxByUse is unambiguous). NotExist if the
// account is unknown.
func (s *Store) CreateMailbox(ctx context.Context, acct sealpost.AccountID, name string, use sealpost.SpecialUse, limit int64) (sealpost.Mailbox, error) {
	const op = "postgres.CreateMailbox"
	name = sealpost.CanonicalMailboxName(name)
	if err := sealpost.CheckMailboxName(name); err != nil {
		return sealpost.Mailbox{}, errors.E(op, err)
	}
	if use != sealpost.UseNone && (!strings.HasPrefix(string(use), `\`) || strings.ContainsAny(string(use), " \t\r\n\x00")) {
		return sealpost.Mailbox{}, errors.E(op, errors.Invalid, errors.Errorf("bad special use %q", use))
	}
	var m sealpost.Mailbox
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, acct); err != nil {
			return err
		}
		found, err := exists(ctx, tx, `SELECT 1 FROM mailboxes WHERE account = $1 AND name = $2`, int64(acct), name)
		if err != nil {
			return err
		}
		if found {
			return exist("mailbox %q", name)
		}
		if use != sealpost.UseNone {
			found, err := exists(ctx, tx, `SELECT 1 FROM mailboxes WHERE account = $1 AND special_use = $2`, int64(acct), string(use))
			if err != nil {
				return err
			}
			if found {
				return exist("a mailbox already has special use %s", use)
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

// insertMailbox adds a subscribed, empty mailbox with a fresh UIDValidity
// (see the sequence in schema.go).
func insertMailbox(ctx context.Context, tx pgx.Tx, acct sealpost.AccountID, name string, use sealpost.SpecialUse) (sealpost.Mailbox, error) {
	m := sealpost.Mailbox{
		Account:       acct,
		Name:          name,
		Use:           use,
		Subscribed:    true,
		UIDNext:       1,
		HighestModSeq: 1, // RFC 7162 3.1.1: mod-sequences are positive
	}
	var id, v int64
	err := tx.QueryRow(ctx, `INSERT INTO mailboxes (account, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq)
		VALUES ($1, $2, $3, $4, nextval('uidvalidity_seq'), $5, $6) RETURNING id, uidvalidity`,
		int64(acct), name, string(use), m.Subscribed, int64(m.UIDNext), int64(m.HighestModSeq)).Scan(&id, &v)
	m.ID, m.UIDValidity = sealpost.MailboxID(id), uint32(v)
	return m, err
}

// DeleteMailbox removes the mailbox and its messages (not its children,
// which are separate mailboxes) and returns the blobs nothing references
// any more. It does not refuse INBOX: IMAP's rules are the caller's.
func (s *Store) DeleteMailbox(ctx context.Context, id sealpost.MailboxID) ([]sealpost.BlobRef, error) {
	const op = "postgres.DeleteMailbox"
	var blobs []sealpost.BlobRef
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		blobs = nil
		mb, err := lockMailbox(ctx, tx, id)
		if err != nil {
			return err
		}
		var bytes, count int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages WHERE mailbox = $1`, int64(id)).Scan(&bytes, &count); err != nil {
			return err
		}
		candidates, err := blobSet(ctx, tx, `DELETE FROM messages WHERE mailbox = $1 RETURNING blob_ref`, int64(id))
		if err != nil {
			return err
		}
		if count > 0 && column.Charged(mb.Use) {
			if err := charge(ctx, tx, mb.Account, -bytes, -count, 0); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mailboxes WHERE id = $1`, int64(id)); err != nil {
			return err
		}
		blobs, err = unreferenced(ctx, tx, candidates)
		return err
	})
	return blobs, err
}

// RenameMailbox renames a mailbox and its children, keeping their IDs,
// UIDValidity and messages. Exist if any new name is taken; Invalid if the
// new name lies under the old one, or the mailbox is INBOX (the caller
// renames INBOX by moving its messages, RFC 9051 6.3.6).
func (s *Store) RenameMailbox(ctx context.Context, id sealpost.MailboxID, newName string) error {
	const op = "postgres.RenameMailbox"
	newName = sealpost.CanonicalMailboxName(newName)
	if err := sealpost.CheckMailboxName(newName); err != nil {
		return errors.E(op, err)
	}
	return s.write(ctx, op, func(tx pgx.Tx) error {
		var acct int64
		err := tx.QueryRow(ctx, `SELECT account FROM mailboxes WHERE id = $1`, int64(id)).Scan(&acct)
		if errors.IsErr(err, pgx.ErrNoRows) {
			return notExist("mailbox %d", id)
		} else if err != nil {
			return err
		}
		if err := lockAccount(ctx, tx, sealpost.AccountID(acct)); err != nil {
			return err
		}
		m, err := lockMailbox(ctx, tx, id)
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
		type box struct {
			id   int64
			name string
		}
		rows, _ := tx.Query(ctx, `SELECT id, name FROM mailboxes WHERE account = $1`, int64(m.Account))
		boxes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (box, error) {
			var b box
			err := r.Scan(&b.id, &b.name)
			return b, err
		})
		if err != nil {
			return err
		}
		taken := map[string]bool{}
		renames := map[int64]string{}
		for _, b := range boxes {
			taken[b.name] = true
			if b.name == old || strings.HasPrefix(b.name, old+"/") {
				renames[b.id] = newName + b.name[len(old):]
			}
		}
		for _, to := range renames {
			if taken[to] {
				return exist("mailbox %q", to)
			}
		}
		for mid, to := range renames {
			if _, err := tx.Exec(ctx, `UPDATE mailboxes SET name = $1 WHERE id = $2`, to, mid); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetSubscribed sets the subscription flag of a mailbox.
func (s *Store) SetSubscribed(ctx context.Context, id sealpost.MailboxID, subscribed bool) error {
	const op = "postgres.SetSubscribed"
	return s.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE mailboxes SET subscribed = $1 WHERE id = $2`, subscribed, int64(id))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notExist("mailbox %d", id)
		}
		return nil
	})
}
