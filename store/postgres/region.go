package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// Claim binds the store to a region, recorded in store_meta. The first
// Claim records it; the same region again is a no-op; another region is a
// WrongRegion error naming both. Two first claims at once cannot both
// win: the INSERT ... ON CONFLICT DO NOTHING of the second waits for the
// first to commit and then inserts nothing, and its next statement reads
// the winner's region (READ COMMITTED takes a new snapshot per statement).
func (s *Store) Claim(ctx context.Context, region sealpost.RegionID) error {
	const op = "postgres.Claim"
	if err := column.CheckRegion(region); err != nil {
		return errors.E(op, err)
	}
	return s.write(ctx, op, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO store_meta (name, value) VALUES ('region', $1) ON CONFLICT (name) DO NOTHING`, string(region)); err != nil {
			return err
		}
		var have string
		if err := tx.QueryRow(ctx, `SELECT value FROM store_meta WHERE name = 'region'`).Scan(&have); err != nil {
			return err
		}
		if have != string(region) {
			return errors.E(errors.WrongRegion, errors.Errorf("store belongs to region %q, not %q", have, region))
		}
		return nil
	})
}

// snapshot runs fn in a REPEATABLE READ, READ ONLY transaction: every
// query in it sees the database as of its first.
func (s *Store) snapshot(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if err := s.read(op); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return dbErr(op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return dbErr(op, err)
	}
	return dbErr(op, tx.Commit(ctx))
}

// ExportAccount returns everything the store holds about the account with
// the given address, read from one snapshot. Keys come oldest first,
// mailboxes by name, messages by UID, objects by kind and name. NotExist
// if there is no such account.
func (s *Store) ExportAccount(ctx context.Context, addr string) (sealpost.AccountImage, error) {
	const op = "postgres.ExportAccount"
	addr = sealpost.NormalizeAddress(addr)
	var img sealpost.AccountImage
	err := s.snapshot(ctx, op, func(tx pgx.Tx) error {
		img = sealpost.AccountImage{}
		var err error
		img.Account, err = scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE address = $1`, addr))
		if errors.IsErr(err, pgx.ErrNoRows) {
			return notExist("account %s", addr)
		} else if err != nil {
			return err
		}
		id := int64(img.Account.ID)
		rows, _ := tx.Query(ctx, `SELECT `+keyColumns+` FROM account_keys WHERE account = $1 ORDER BY id`, id)
		if img.Keys, err = pgx.CollectRows(rows, scanKey); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE account = $1 ORDER BY name`, id)
		mbs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealpost.Mailbox, error) { return scanMailbox(r) })
		if err != nil {
			return err
		}
		for _, mb := range mbs {
			rows, _ := tx.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE mailbox = $1 ORDER BY uid`, int64(mb.ID))
			msgs, err := collectMessages(rows)
			if err != nil {
				return err
			}
			img.Mailboxes = append(img.Mailboxes, sealpost.MailboxImage{Mailbox: mb, Messages: msgs})
		}
		rows, _ = tx.Query(ctx, `SELECT `+objectColumns+` FROM account_objects WHERE account = $1 ORDER BY kind, name`, id)
		img.Objects, err = collectObjects(rows)
		return err
	})
	if err != nil {
		return sealpost.AccountImage{}, err
	}
	return img, nil
}

const keyColumns = `id, account, created, public_key, wrapped_password, wrapped_recovery, active`

func scanKey(r pgx.CollectableRow) (sealpost.Key, error) {
	var k sealpost.Key
	var kid, acct, created int64
	err := r.Scan(&kid, &acct, &created, &k.PublicKey, &k.WrappedByPassword, &k.WrappedByRecovery, &k.Active)
	k.ID, k.Account, k.Created = sealpost.KeyID(kid), sealpost.AccountID(acct), column.FromNanos(created)
	return k, err
}

// importBatch is how many message rows ImportAccount sends per round trip.
const importBatch = 1000

// uidValidityMargin is how far past the greatest imported UIDVALIDITY the
// sequence is set; see raiseUIDValidity.
const uidValidityMargin = 1 << 10

// ImportAccount inserts an account image in one transaction and returns the
// new account. The image is checked first (column.CheckImage: Invalid, and
// nothing stored, if any part fails). The account keeps its Created time;
// key generations keep theirs and their Active flags but get new IDs, to
// which the messages are re-pointed (Key 0, mail under the account's own
// OpenPGP key, stays 0); mailboxes keep their names, special uses,
// subscriptions, UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ; messages keep
// their UIDs, flags, dates, sizes, MODSEQs, blobs and session keys;
// objects keep their kinds, names, data, Active and Updated. NotExist if
// the domain is not hosted here, Exist if the address has an account (a
// concurrent import or creation of the same address fails on the unique
// address, 23505, also Exist).
//
// Later deliveries continue at each mailbox's UIDNEXT with MODSEQs above
// its HIGHESTMODSEQ, as they always do. For UIDVALIDITY, see
// raiseUIDValidity. Blobs need no bookkeeping: whether a blob is still
// referenced is always computed from the message and queue rows (see
// unreferenced), so imported messages sharing a blob free it only when the
// last goes.
func (s *Store) ImportAccount(ctx context.Context, img sealpost.AccountImage) (sealpost.Account, error) {
	const op = "postgres.ImportAccount"
	img, err := column.CheckImage(img)
	if err != nil {
		return sealpost.Account{}, errors.E(op, err)
	}
	domain := sealpost.DomainOf(img.Account.Address)
	var acct sealpost.Account
	err = s.write(ctx, op, func(tx pgx.Tx) error {
		acct = img.Account
		found, err := exists(ctx, tx, `SELECT 1 FROM domains WHERE name = $1`, domain)
		if err != nil {
			return err
		}
		if !found {
			return notExist("domain %s is not hosted", domain)
		}
		found, err = exists(ctx, tx, `SELECT 1 FROM accounts WHERE address = $1`, acct.Address)
		if err != nil {
			return err
		}
		if found {
			return exist("account %s", acct.Address)
		}
		var id int64
		err = tx.QueryRow(ctx, `INSERT INTO accounts (address, domain, created, verifier, own_key, save_sent, no_server_filter, quota_storage, quota_mailboxes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			acct.Address, domain, column.Nanos(acct.Created), acct.PasswordVerifier, acct.OwnKey, acct.Settings.SaveSent, acct.Settings.NoServerFilter, acct.Quota.Storage, acct.Quota.Mailboxes).Scan(&id)
		if err != nil {
			return err
		}
		acct.ID = sealpost.AccountID(id)
		keyIDs := map[sealpost.KeyID]int64{0: 0}
		for _, k := range img.Keys {
			var kid int64
			err := tx.QueryRow(ctx, `INSERT INTO account_keys (account, created, public_key, wrapped_password, wrapped_recovery, active)
				VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
				id, column.Nanos(k.Created), k.PublicKey, k.WrappedByPassword, k.WrappedByRecovery, k.Active).Scan(&kid)
			if err != nil {
				return err
			}
			keyIDs[k.ID] = kid
		}
		b := &pgx.Batch{}
		flush := func() error {
			if b.Len() == 0 {
				return nil
			}
			err := tx.SendBatch(ctx, b).Close()
			b = &pgx.Batch{}
			return err
		}
		for _, mi := range img.Mailboxes {
			mb := mi.Mailbox
			var mid int64
			// The expunges before the move are not known here (no
			// tombstones move): the floor is the mailbox's HIGHESTMODSEQ.
			err := tx.QueryRow(ctx, `INSERT INTO mailboxes (account, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq, expunged_floor)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`,
				id, mb.Name, string(mb.Use), mb.Subscribed, int64(mb.UIDValidity), int64(mb.UIDNext), int64(mb.HighestModSeq)).Scan(&mid)
			if err != nil {
				return err
			}
			for _, m := range mi.Messages {
				b.Queue(`INSERT INTO messages (mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id, session_key, savedate)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
					mid, int64(m.UID), column.EncodeFlags(m.Flags), column.Nanos(m.InternalDate), m.Size,
					int64(m.ModSeq), string(m.Blob), keyIDs[m.Key], m.SessionKey, column.Nanos(m.SaveDate))
				if b.Len() >= importBatch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		for _, o := range img.Objects {
			b.Queue(`INSERT INTO account_objects (`+objectColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
				id, int32(o.Kind), o.Name, o.Active, o.Data, column.Nanos(o.Updated))
		}
		if err := flush(); err != nil {
			return err
		}
		// The usage is counted from what was imported: once per account
		// moved, never per delivery.
		if _, err := tx.Exec(ctx, column.RecountUsage+` WHERE id = $1`, id); err != nil {
			return err
		}
		return raiseUIDValidity(ctx, tx, int64(column.MaxUIDValidity(img)))
	})
	if err != nil {
		return sealpost.Account{}, err
	}
	return acct, nil
}

// raiseUIDValidity makes sure uidvalidity_seq will never again hand out a
// value up to v, the greatest UIDVALIDITY of an import: no mailbox created
// later, in the imported account or any other, gets a value the image
// holds, and one re-created under an imported name gets a greater one
// (RFC 9051 2.3.1.1).
//
// Sequences are not transactional, and PostgreSQL has no "set to at least"
// on them: setval is a plain store. So the statement reads the sequence and
// calls setval only if it is below v, in one statement, and sets it a
// margin past v. A concurrent nextval that lands between that read and the
// setval is still below the value set unless more than the margin of
// mailboxes are created in that instant; only then could the sequence move
// back and hand out a value twice (in other accounts: the imported one is
// not visible until this transaction commits). Advancing the sequence is
// not undone if the import rolls back; that only skips values, which is
// harmless. In the usual case (the sequence is already past v) nothing is
// written.
func raiseUIDValidity(ctx context.Context, tx pgx.Tx, v int64) error {
	_, err := tx.Exec(ctx, `SELECT setval('uidvalidity_seq', LEAST(CAST($1 AS BIGINT) + $2, 4294967295))
		FROM uidvalidity_seq WHERE last_value < $1`, v, int64(uidValidityMargin))
	return err
}

// Inventory lists, from one snapshot, the accounts by address, every blob a
// message or queue entry references, and the rows no account here owns.
//
// A blob referenced by messages of several accounts (which no operation
// produces) maps to the least address; one referenced by both a message and
// the queue maps to the message's account. Orphans are, in this order:
// mailboxes, key generations and objects whose account is missing,
// messages in a mailbox whose account is missing, and messages whose
// mailbox is missing.
// The blobs of orphaned messages are named in their descriptions, not in
// Blobs: no account here references them.
func (s *Store) Inventory(ctx context.Context) (sealpost.Inventory, error) {
	const op = "postgres.Inventory"
	var inv sealpost.Inventory
	err := s.snapshot(ctx, op, func(tx pgx.Tx) error {
		inv = sealpost.Inventory{Blobs: map[sealpost.BlobRef]string{}}
		var err error
		rows, _ := tx.Query(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY address`)
		if inv.Accounts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealpost.Account, error) { return scanAccount(r) }); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, `SELECT DISTINCT m.blob_ref, a.address FROM messages m
			JOIN mailboxes b ON b.id = m.mailbox JOIN accounts a ON a.id = b.account
			UNION SELECT DISTINCT blob_ref, '' FROM queue`)
		var ref, addr string
		if _, err := pgx.ForEachRow(rows, []any{&ref, &addr}, func() error {
			addInventoryBlob(inv.Blobs, sealpost.BlobRef(ref), addr)
			return nil
		}); err != nil {
			return err
		}
		queries := []struct {
			query  string
			format func(r pgx.CollectableRow) (string, error)
		}{
			{`SELECT b.id, b.name, b.account FROM mailboxes b
				WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = b.account) ORDER BY b.id`, orphanMailbox},
			{`SELECT k.id, k.account FROM account_keys k
				WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = k.account) ORDER BY k.id`, orphanKey},
			{`SELECT o.kind, o.name, o.account FROM account_objects o
				WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = o.account) ORDER BY o.account, o.kind, o.name`,
				func(r pgx.CollectableRow) (string, error) { return column.OrphanObject(r) }},
			{`SELECT m.id, m.blob_ref, b.id, b.account FROM messages m JOIN mailboxes b ON b.id = m.mailbox
				WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = b.account) ORDER BY m.id`, orphanMessageOfAccount},
			{`SELECT m.id, m.blob_ref, m.mailbox FROM messages m
				WHERE NOT EXISTS (SELECT 1 FROM mailboxes b WHERE b.id = m.mailbox) ORDER BY m.id`, orphanMessage},
		}
		for _, q := range queries {
			rows, _ := tx.Query(ctx, q.query)
			lines, err := pgx.CollectRows(rows, q.format)
			if err != nil {
				return err
			}
			inv.Orphans = append(inv.Orphans, lines...)
		}
		return nil
	})
	if err != nil {
		return sealpost.Inventory{}, err
	}
	return inv, nil
}

// addInventoryBlob records that addr ("" for the queue) references ref,
// keeping an account over the queue and the least of several accounts.
func addInventoryBlob(blobs map[sealpost.BlobRef]string, ref sealpost.BlobRef, addr string) {
	have, ok := blobs[ref]
	switch {
	case !ok, have == "":
		blobs[ref] = addr
	case addr != "":
		blobs[ref] = min(have, addr)
	}
}

func orphanMailbox(r pgx.CollectableRow) (string, error) {
	var id, acct int64
	var name string
	err := r.Scan(&id, &name, &acct)
	return fmt.Sprintf("mailbox %d (%q) of missing account %d", id, name, acct), err
}

func orphanKey(r pgx.CollectableRow) (string, error) {
	var id, acct int64
	err := r.Scan(&id, &acct)
	return fmt.Sprintf("key %d of missing account %d", id, acct), err
}

func orphanMessageOfAccount(r pgx.CollectableRow) (string, error) {
	var id, mb, acct int64
	var ref string
	err := r.Scan(&id, &ref, &mb, &acct)
	return fmt.Sprintf("message %d (blob %q) in mailbox %d of missing account %d", id, ref, mb, acct), err
}

func orphanMessage(r pgx.CollectableRow) (string, error) {
	var id, mb int64
	var ref string
	err := r.Scan(&id, &ref, &mb)
	return fmt.Sprintf("message %d (blob %q) in missing mailbox %d", id, ref, mb), err
}
