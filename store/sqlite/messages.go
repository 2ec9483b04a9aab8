package sqlite

import (
	"context"
	"database/sql"
	"slices"

	"github.com/sealpost/sealpost/store/column"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

const messageColumns = `id, mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id, session_key, savedate`

func scanMessage(row interface{ Scan(...any) error }) (sealpost.Message, error) {
	var m sealpost.Message
	var uid, modseq, date, saved int64
	var flags, blob string
	if err := row.Scan(&m.ID, &m.Mailbox, &uid, &flags, &date, &m.Size, &modseq, &blob, &m.Key, &m.SessionKey, &saved); err != nil {
		return sealpost.Message{}, err
	}
	m.UID = sealpost.UID(uid)
	m.Flags = column.DecodeFlags(flags)
	m.InternalDate = column.FromNanos(date)
	m.SaveDate = column.FromNanos(saved)
	m.ModSeq = uint64(modseq)
	m.Blob = sealpost.BlobRef(blob)
	return m, nil
}

// Messages returns a mailbox's messages with UID > after, by UID. NotExist
// if the mailbox is unknown.
func (s *Store) Messages(ctx context.Context, mailbox sealpost.MailboxID, after sealpost.UID) ([]sealpost.Message, error) {
	const op = "sqlite.Messages"
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE mailbox = ? AND uid > ? ORDER BY uid`, mailbox, int64(after))
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []sealpost.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(op, err)
	}
	if len(out) == 0 {
		// Tell an empty mailbox from a missing one.
		var one int
		err := s.db.R.QueryRowContext(ctx, `SELECT 1 FROM mailboxes WHERE id = ?`, mailbox).Scan(&one)
		if errors.IsErr(err, sql.ErrNoRows) {
			return nil, errors.E(op, notExist("mailbox %d", mailbox))
		} else if err != nil {
			return nil, dbErr(op, err)
		}
	}
	return out, nil
}

// uniqueUIDs returns uids without duplicates, keeping the first of each.
func uniqueUIDs(uids []sealpost.UID) []sealpost.UID {
	seen := make(map[sealpost.UID]bool, len(uids))
	out := make([]sealpost.UID, 0, len(uids))
	for _, u := range uids {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// sortedUIDs returns uids sorted, without duplicates.
func sortedUIDs(uids []sealpost.UID) []sealpost.UID {
	out := slices.Clone(uids)
	slices.Sort(out)
	return slices.Compact(out)
}

// SetFlags changes the flags of the given messages and returns them as they
// now are, by UID; unknown UIDs are skipped. Messages whose flags change get
// one new MODSEQ, which becomes the mailbox's HIGHESTMODSEQ (RFC 7162 3.1);
// messages left as they were keep theirs. \Recent is never stored. NotExist
// if the mailbox is unknown; Invalid for a malformed flag.
func (s *Store) SetFlags(ctx context.Context, mailbox sealpost.MailboxID, uids []sealpost.UID, op sealpost.FlagOp, flags []sealpost.Flag) ([]sealpost.Message, error) {
	const opName = "sqlite.SetFlags"
	if err := column.CheckFlags(flags); err != nil {
		return nil, errors.E(opName, err)
	}
	if op != sealpost.FlagsSet && op != sealpost.FlagsAdd && op != sealpost.FlagsRemove {
		return nil, errors.E(opName, errors.Invalid, errors.Errorf("unknown flag operation %d", op))
	}
	var out []sealpost.Message
	err := s.db.Write(ctx, opName, func(tx *sql.Tx) error {
		out = nil
		mb, err := mailboxByID(ctx, tx, mailbox)
		if err != nil {
			return err
		}
		modseq := mb.HighestModSeq + 1
		changed := false
		sel, err := tx.PrepareContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE mailbox = ? AND uid = ?`)
		if err != nil {
			return err
		}
		defer sel.Close()
		upd, err := tx.PrepareContext(ctx, `UPDATE messages SET flags = ?, modseq = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()
		for _, uid := range sortedUIDs(uids) {
			m, err := scanMessage(sel.QueryRowContext(ctx, mailbox, int64(uid)))
			if errors.IsErr(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				return err
			}
			nf := column.ApplyFlags(m.Flags, op, flags)
			if !column.SameFlags(m.Flags, nf) {
				m.Flags, m.ModSeq, changed = nf, modseq, true
				if _, err := upd.ExecContext(ctx, column.EncodeFlags(nf), int64(modseq), m.ID); err != nil {
					return err
				}
			}
			out = append(out, m)
		}
		if changed {
			_, err = tx.ExecContext(ctx, `UPDATE mailboxes SET highestmodseq = ? WHERE id = ?`, int64(modseq), mailbox)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Expunge removes the given messages, skipping unknown UIDs, and returns the
// removed UIDs (ascending) and the blobs nothing references any more. An
// expunge that removes anything advances HIGHESTMODSEQ (RFC 7162 3.2.10).
// NotExist if the mailbox is unknown.
func (s *Store) Expunge(ctx context.Context, mailbox sealpost.MailboxID, uids []sealpost.UID) (sealpost.Expunged, error) {
	const op = "sqlite.Expunge"
	var out sealpost.Expunged
	err := s.db.Write(ctx, op, func(tx *sql.Tx) error {
		out = sealpost.Expunged{}
		mb, err := mailboxByID(ctx, tx, mailbox)
		if err != nil {
			return err
		}
		del, err := tx.PrepareContext(ctx, `DELETE FROM messages WHERE mailbox = ? AND uid = ? RETURNING blob_ref, size`)
		if err != nil {
			return err
		}
		defer del.Close()
		candidates := map[sealpost.BlobRef]bool{}
		var freed int64
		for _, uid := range sortedUIDs(uids) {
			var ref string
			var size int64
			err := del.QueryRowContext(ctx, mailbox, int64(uid)).Scan(&ref, &size)
			if errors.IsErr(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				return err
			}
			out.UIDs = append(out.UIDs, uid)
			candidates[sealpost.BlobRef(ref)] = true
			freed += size
		}
		if len(out.UIDs) == 0 {
			return nil
		}
		if column.Charged(mb.Use) {
			if err := charge(ctx, tx.StmtContext(ctx, s.hot.charge), mb.Account, -freed, -int64(len(out.UIDs)), 0); err != nil {
				return err
			}
		}
		var modseq int64
		if err := tx.QueryRowContext(ctx, `UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq`,
			mailbox).Scan(&modseq); err != nil {
			return err
		}
		out.ModSeq = uint64(modseq)
		if err := buryExpunged(ctx, tx, mailbox, out); err != nil {
			return err
		}
		out.Blobs, err = unreferenced(ctx, tx.StmtContext(ctx, s.hot.blobUsed), candidates)
		return err
	})
	if err != nil {
		return sealpost.Expunged{}, err
	}
	return out, nil
}

// CopyMessages copies messages (flags, date, size, blob, key, session key)
// into another mailbox of the same account, where they get new UIDs and
// MODSEQs, sharing their blobs. It returns the copies in input order,
// skipping unknown and repeated UIDs. NotExist if either mailbox is unknown;
// Invalid if they belong to different accounts; OverQuota (nothing copied)
// if the copies would take the account's storage above a positive limit.
func (s *Store) CopyMessages(ctx context.Context, from sealpost.MailboxID, uids []sealpost.UID, to sealpost.MailboxID, limit int64) ([]sealpost.Message, error) {
	const op = "sqlite.CopyMessages"
	var out []sealpost.Message
	err := s.db.Write(ctx, op, func(tx *sql.Tx) error {
		out = nil
		src, err := mailboxByID(ctx, tx, from)
		if err != nil {
			return err
		}
		dst, err := mailboxByID(ctx, tx, to)
		if err != nil {
			return err
		}
		if src.Account != dst.Account {
			return invalid("mailboxes %d and %d belong to different accounts", from, to)
		}
		// Read every source first: copying into the same mailbox must not
		// see its own copies.
		sel, err := tx.PrepareContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE mailbox = ? AND uid = ?`)
		if err != nil {
			return err
		}
		defer sel.Close()
		var srcs []sealpost.Message
		for _, uid := range uniqueUIDs(uids) {
			m, err := scanMessage(sel.QueryRowContext(ctx, from, int64(uid)))
			if errors.IsErr(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				return err
			}
			srcs = append(srcs, m)
		}
		st := s.hot.bind(ctx, tx)
		for _, m := range srcs {
			m.Mailbox = to
			if err := st.insertMessage(ctx, &m, limit); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetSessionKeys stores wrapped session keys for many messages in one
// transaction, skipping unknown IDs. It does not change MODSEQs: the keys
// are not IMAP-visible state.
func (s *Store) SetSessionKeys(ctx context.Context, keys map[sealpost.MessageID][]byte) error {
	const op = "sqlite.SetSessionKeys"
	if len(keys) == 0 {
		return nil
	}
	ids := make([]sealpost.MessageID, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		upd, err := tx.PrepareContext(ctx, `UPDATE messages SET session_key = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()
		for _, id := range ids {
			if _, err := upd.ExecContext(ctx, keys[id], id); err != nil {
				return err
			}
		}
		return nil
	})
}
