package postgres

import (
	"context"
	"slices"

	"github.com/sealpost/sealpost/store/column"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

const messageColumns = `id, mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id, session_key, savedate`

func scanMessage(row pgx.Row) (sealpost.Message, error) {
	var m sealpost.Message
	var id, mailbox, uid, modseq, date, key, saved int64
	var flags, blob string
	if err := row.Scan(&id, &mailbox, &uid, &flags, &date, &m.Size, &modseq, &blob, &key, &m.SessionKey, &saved); err != nil {
		return sealpost.Message{}, err
	}
	m.ID = sealpost.MessageID(id)
	m.Mailbox = sealpost.MailboxID(mailbox)
	m.UID = sealpost.UID(uid)
	m.Flags = column.DecodeFlags(flags)
	m.InternalDate = column.FromNanos(date)
	m.SaveDate = column.FromNanos(saved)
	m.ModSeq = uint64(modseq)
	m.Blob = sealpost.BlobRef(blob)
	m.Key = sealpost.KeyID(key)
	return m, nil
}

func collectMessages(rows pgx.Rows) ([]sealpost.Message, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealpost.Message, error) { return scanMessage(r) })
}

// checkNewMessage validates a message before its transaction begins.
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

// sqlInsertMessage takes the mailbox's next UID and a new MODSEQ and
// inserts the message, in one statement. The UPDATE's row lock on the
// mailbox lasts until commit. It inserts nothing if the mailbox is missing
// or has run out of UIDs (RFC 9051 2.3.1.1: UIDs are 32-bit, the last
// usable one 2^32-1).
const sqlInsertMessage = `WITH u AS (
	UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
	WHERE id = $1 AND uidnext <= 4294967295
	RETURNING uidnext - 1 AS uid, highestmodseq)
INSERT INTO messages (mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id, session_key, savedate)
SELECT CAST($1 AS BIGINT), u.uid, CAST($2 AS TEXT), CAST($3 AS BIGINT), CAST($4 AS BIGINT),
	u.highestmodseq, CAST($5 AS TEXT), CAST($6 AS BIGINT), CAST($7 AS BYTEA), CAST($8 AS BIGINT) FROM u
RETURNING id, uid, modseq`

// insertMessages inserts msgs (Mailbox, Flags, InternalDate and the rest
// set) in their mailboxes, setting each one's ID, UID and ModSeq. A set of
// messages spanning several mailboxes locks them in ID order first, so that
// two such transactions cannot deadlock. Everything goes to the server in
// one round trip; then the messages are charged to their accounts
// (chargeMessages, with limits[i] msgs[i]'s quota limit).
func insertMessages(ctx context.Context, tx pgx.Tx, msgs []sealpost.Message, limits []int64) error {
	var ids []int64
	for _, m := range msgs {
		ids = append(ids, int64(m.Mailbox))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	b := &pgx.Batch{}
	if len(ids) > 1 {
		b.Queue(`SELECT id FROM mailboxes WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	}
	now := column.Now() // stored in their mailboxes now (RFC 8514)
	for i := range msgs {
		m := &msgs[i]
		m.SaveDate = now
		b.Queue(sqlInsertMessage, int64(m.Mailbox), column.EncodeFlags(m.Flags), column.Nanos(m.InternalDate), m.Size,
			string(m.Blob), int64(m.Key), m.SessionKey, column.Nanos(m.SaveDate))
	}
	br := tx.SendBatch(ctx, b)
	if len(ids) > 1 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
	}
	var missing sealpost.MailboxID
	for i := range msgs {
		var id, uid, modseq int64
		err := br.QueryRow().Scan(&id, &uid, &modseq)
		if errors.IsErr(err, pgx.ErrNoRows) {
			if missing == 0 {
				missing = msgs[i].Mailbox
			}
			continue
		} else if err != nil {
			br.Close()
			return err
		}
		msgs[i].ID, msgs[i].UID, msgs[i].ModSeq = sealpost.MessageID(id), sealpost.UID(uid), uint64(modseq)
	}
	if err := br.Close(); err != nil {
		return err
	}
	if missing != 0 {
		found, err := exists(ctx, tx, `SELECT 1 FROM mailboxes WHERE id = $1`, int64(missing))
		if err != nil {
			return err
		}
		if found {
			return errors.E(errors.TooLarge, errors.Errorf("mailbox %d has run out of UIDs", missing))
		}
		return notExist("mailbox %d", missing)
	}
	return chargeMessages(ctx, tx, msgs, limits)
}

// Messages returns a mailbox's messages with UID > after, by UID. NotExist
// if the mailbox is unknown.
func (s *Store) Messages(ctx context.Context, mailbox sealpost.MailboxID, after sealpost.UID) ([]sealpost.Message, error) {
	const op = "postgres.Messages"
	if err := s.read(op); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE mailbox = $1 AND uid > $2 ORDER BY uid`, int64(mailbox), int64(after))
	out, err := collectMessages(rows)
	if err != nil {
		return nil, dbErr(op, err)
	}
	if len(out) == 0 {
		// Tell an empty mailbox from a missing one.
		found, err := exists(ctx, s.pool, `SELECT 1 FROM mailboxes WHERE id = $1`, int64(mailbox))
		if err != nil {
			return nil, dbErr(op, err)
		}
		if !found {
			return nil, errors.E(op, notExist("mailbox %d", mailbox))
		}
	}
	return out, nil
}

// uidArgs returns uids as the BIGINT[] argument of "uid = ANY($n)".
func uidArgs(uids []sealpost.UID) []int64 {
	out := make([]int64, len(uids))
	for i, u := range uids {
		out[i] = int64(u)
	}
	return out
}

// SetFlags changes the flags of the given messages and returns them as they
// now are, by UID; unknown UIDs are skipped. Messages whose flags change get
// one new MODSEQ, which becomes the mailbox's HIGHESTMODSEQ (RFC 7162 3.1);
// messages left as they were keep theirs. \Recent is never stored. NotExist
// if the mailbox is unknown; Invalid for a malformed flag.
func (s *Store) SetFlags(ctx context.Context, mailbox sealpost.MailboxID, uids []sealpost.UID, op sealpost.FlagOp, flags []sealpost.Flag) ([]sealpost.Message, error) {
	const opName = "postgres.SetFlags"
	if err := column.CheckFlags(flags); err != nil {
		return nil, errors.E(opName, err)
	}
	if op != sealpost.FlagsSet && op != sealpost.FlagsAdd && op != sealpost.FlagsRemove {
		return nil, errors.E(opName, errors.Invalid, errors.Errorf("unknown flag operation %d", op))
	}
	var out []sealpost.Message
	err := s.write(ctx, opName, func(tx pgx.Tx) error {
		out = nil
		mb, err := lockMailbox(ctx, tx, mailbox)
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT `+messageColumns+` FROM messages
			WHERE mailbox = $1 AND uid = ANY($2) ORDER BY uid`, int64(mailbox), uidArgs(uids))
		msgs, err := collectMessages(rows)
		if err != nil {
			return err
		}
		modseq := mb.HighestModSeq + 1
		b := &pgx.Batch{}
		for _, m := range msgs {
			nf := column.ApplyFlags(m.Flags, op, flags)
			if !column.SameFlags(m.Flags, nf) {
				m.Flags, m.ModSeq = nf, modseq
				b.Queue(`UPDATE messages SET flags = $1, modseq = $2 WHERE id = $3`, column.EncodeFlags(nf), int64(modseq), int64(m.ID))
			}
			out = append(out, m)
		}
		if b.Len() == 0 {
			return nil
		}
		b.Queue(`UPDATE mailboxes SET highestmodseq = $1 WHERE id = $2`, int64(modseq), int64(mailbox))
		return tx.SendBatch(ctx, b).Close()
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
	const op = "postgres.Expunge"
	var out sealpost.Expunged
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		out = sealpost.Expunged{}
		mb, err := lockMailbox(ctx, tx, mailbox)
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `DELETE FROM messages WHERE mailbox = $1 AND uid = ANY($2) RETURNING uid, blob_ref, size`,
			int64(mailbox), uidArgs(uids))
		candidates := map[sealpost.BlobRef]bool{}
		var uid, size, freed int64
		var ref string
		_, err = pgx.ForEachRow(rows, []any{&uid, &ref, &size}, func() error {
			out.UIDs = append(out.UIDs, sealpost.UID(uid))
			candidates[sealpost.BlobRef(ref)] = true
			freed += size
			return nil
		})
		if err != nil {
			return err
		}
		if len(out.UIDs) == 0 {
			return nil
		}
		if column.Charged(mb.Use) {
			if err := charge(ctx, tx, mb.Account, -freed, -int64(len(out.UIDs)), 0); err != nil {
				return err
			}
		}
		slices.Sort(out.UIDs)
		var modseq int64
		if err := tx.QueryRow(ctx, `UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = $1 RETURNING highestmodseq`,
			int64(mailbox)).Scan(&modseq); err != nil {
			return err
		}
		out.ModSeq = uint64(modseq)
		if err := buryExpunged(ctx, tx, mailbox, out); err != nil {
			return err
		}
		out.Blobs, err = unreferenced(ctx, tx, candidates)
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
// The sources are read FOR
// SHARE, so that a concurrent expunge of one either waits for the copy (and
// then sees the blob still referenced) or wins and the copy skips it.
func (s *Store) CopyMessages(ctx context.Context, from sealpost.MailboxID, uids []sealpost.UID, to sealpost.MailboxID, limit int64) ([]sealpost.Message, error) {
	const op = "postgres.CopyMessages"
	var out []sealpost.Message
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		out = nil
		// Lock both mailboxes in ID order, as insertMessages would.
		first, second := min(from, to), max(from, to)
		a, err := lockMailbox(ctx, tx, first)
		if err != nil {
			return err
		}
		b := a
		if second != first {
			if b, err = lockMailbox(ctx, tx, second); err != nil {
				return err
			}
		}
		if a.Account != b.Account {
			return invalid("mailboxes %d and %d belong to different accounts", from, to)
		}
		unique := uniqueUIDs(uids)
		rows, _ := tx.Query(ctx, `SELECT `+messageColumns+` FROM messages
			WHERE mailbox = $1 AND uid = ANY($2) FOR SHARE`, int64(from), uidArgs(unique))
		found, err := collectMessages(rows)
		if err != nil {
			return err
		}
		byUID := make(map[sealpost.UID]sealpost.Message, len(found))
		for _, m := range found {
			byUID[m.UID] = m
		}
		for _, u := range unique {
			if m, ok := byUID[u]; ok {
				m.Mailbox = to
				out = append(out, m)
			}
		}
		if len(out) == 0 {
			return nil
		}
		limits := make([]int64, len(out))
		for i := range limits {
			limits[i] = limit
		}
		return insertMessages(ctx, tx, out, limits)
	})
	if err != nil {
		return nil, err
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

// SetSessionKeys stores wrapped session keys for many messages in one
// transaction, skipping unknown IDs. It does not change MODSEQs: the keys
// are not IMAP-visible state. Rows are updated in ID order, so concurrent
// calls cannot deadlock.
func (s *Store) SetSessionKeys(ctx context.Context, keys map[sealpost.MessageID][]byte) error {
	const op = "postgres.SetSessionKeys"
	if len(keys) == 0 {
		return nil
	}
	ids := make([]sealpost.MessageID, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return s.write(ctx, op, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, id := range ids {
			b.Queue(`UPDATE messages SET session_key = $1 WHERE id = $2`, keys[id], int64(id))
		}
		return tx.SendBatch(ctx, b).Close()
	})
}
