package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/column"
)

// Claim binds the store to a region, recorded in store_meta. The first
// Claim records it; the same region again is a no-op; another region is a
// WrongRegion error naming both. Claims run on the single writer in
// IMMEDIATE transactions, so two first claims (from this process or
// another opening the same file) take turns and the second sees the first.
func (s *Store) Claim(ctx context.Context, region sealpost.RegionID) error {
	const op = "sqlite.Claim"
	if err := column.CheckRegion(region); err != nil {
		return errors.E(op, err)
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		var have string
		err := tx.QueryRowContext(ctx, `SELECT value FROM store_meta WHERE name = 'region'`).Scan(&have)
		switch {
		case errors.IsErr(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO store_meta (name, value) VALUES ('region', ?)`, string(region))
			return err
		case err != nil:
			return err
		case have != string(region):
			return errors.E(errors.WrongRegion, errors.Errorf("store belongs to region %q, not %q", have, region))
		}
		return nil
	})
}

// ExportAccount returns everything the store holds about the account with
// the given address, read in one transaction (a consistent snapshot: WAL
// readers see the database as of their first read). Keys come oldest
// first, mailboxes by name, messages by UID, objects by kind and name.
// NotExist if there is no such account.
func (s *Store) ExportAccount(ctx context.Context, addr string) (sealpost.AccountImage, error) {
	const op = "sqlite.ExportAccount"
	addr = sealpost.NormalizeAddress(addr)
	tx, err := s.db.R.BeginTx(ctx, nil)
	if err != nil {
		return sealpost.AccountImage{}, dbErr(op, err)
	}
	defer tx.Rollback()
	var img sealpost.AccountImage
	img.Account, err = scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE address = ?`, addr))
	if errors.IsErr(err, sql.ErrNoRows) {
		return sealpost.AccountImage{}, errors.E(op, notExist("account %s", addr))
	} else if err != nil {
		return sealpost.AccountImage{}, dbErr(op, err)
	}
	id := img.Account.ID
	if img.Keys, err = queryAll(ctx, tx, scanKey, `SELECT `+keyColumns+` FROM account_keys WHERE account = ? ORDER BY id`, id); err != nil {
		return sealpost.AccountImage{}, dbErr(op, err)
	}
	mbs, err := queryAll(ctx, tx, scanMailbox, `SELECT `+mailboxColumns+` FROM mailboxes WHERE account = ? ORDER BY name`, id)
	if err != nil {
		return sealpost.AccountImage{}, dbErr(op, err)
	}
	for _, mb := range mbs {
		msgs, err := queryAll(ctx, tx, scanMessage, `SELECT `+messageColumns+` FROM messages WHERE mailbox = ? ORDER BY uid`, mb.ID)
		if err != nil {
			return sealpost.AccountImage{}, dbErr(op, err)
		}
		img.Mailboxes = append(img.Mailboxes, sealpost.MailboxImage{Mailbox: mb, Messages: msgs})
	}
	if img.Objects, err = queryAll(ctx, tx, scanObject, `SELECT `+objectColumns+` FROM account_objects WHERE account = ? ORDER BY kind, name`, id); err != nil {
		return sealpost.AccountImage{}, dbErr(op, err)
	}
	return img, nil
}

const keyColumns = `id, account, created, public_key, wrapped_password, wrapped_recovery, active`

func scanKey(row interface{ Scan(...any) error }) (sealpost.Key, error) {
	var k sealpost.Key
	var created int64
	if err := row.Scan(&k.ID, &k.Account, &created, &k.PublicKey, &k.WrappedByPassword, &k.WrappedByRecovery, &k.Active); err != nil {
		return sealpost.Key{}, err
	}
	k.Created = column.FromNanos(created)
	return k, nil
}

// queryAll runs a query in tx and scans every row with scan.
func queryAll[T any](ctx context.Context, tx *sql.Tx, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ImportAccount inserts an account image in one transaction and returns the
// new account. The image is checked first (column.CheckImage: Invalid, and
// nothing stored, if any part fails). The account keeps its Created time;
// key generations keep theirs and their Active flags but get new IDs, to
// which the messages are re-pointed (Key 0, mail under the account's own
// OpenPGP key, stays 0); mailboxes keep their names, special uses,
// subscriptions, UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ; messages keep
// their UIDs, flags, dates, sizes, MODSEQs, blobs and session keys;
// objects keep their kinds, names, data, Active and Updated. NotExist if
// the domain is not hosted here, Exist if the address has an account.
//
// Later deliveries continue at each mailbox's UIDNEXT with MODSEQs above
// its HIGHESTMODSEQ, as they always do. UIDVALIDITY comes from the global
// counter (see nextUIDValidity); the import raises it to the greatest
// imported value, in the same transaction, so that no mailbox created
// afterwards, in this account or any other, gets a value the image holds,
// and a mailbox re-created under an imported name gets a greater one
// (RFC 9051 2.3.1.1). The single writer makes this race-free.
//
// Blobs need no bookkeeping: whether a blob is still referenced is always
// computed from the message and queue rows (see unreferenced), so imported
// messages sharing a blob free it only when the last goes.
func (s *Store) ImportAccount(ctx context.Context, img sealpost.AccountImage) (sealpost.Account, error) {
	const op = "sqlite.ImportAccount"
	img, err := column.CheckImage(img)
	if err != nil {
		return sealpost.Account{}, errors.E(op, err)
	}
	acct := img.Account
	domain := sealpost.DomainOf(acct.Address)
	err = s.db.Write(ctx, op, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM domains WHERE name = ?`, domain).Scan(&one)
		if errors.IsErr(err, sql.ErrNoRows) {
			return notExist("domain %s is not hosted", domain)
		} else if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE address = ?`, acct.Address).Scan(&one)
		if err == nil {
			return exist("account %s", acct.Address)
		} else if !errors.IsErr(err, sql.ErrNoRows) {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO accounts (address, domain, created, verifier, own_key, save_sent, no_server_filter, quota_storage, quota_mailboxes)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			acct.Address, domain, column.Nanos(acct.Created), acct.PasswordVerifier, acct.OwnKey, acct.Settings.SaveSent, acct.Settings.NoServerFilter, acct.Quota.Storage, acct.Quota.Mailboxes).Scan(&acct.ID)
		if err != nil {
			return err
		}
		keyIDs := map[sealpost.KeyID]sealpost.KeyID{0: 0}
		for _, k := range img.Keys {
			var id sealpost.KeyID
			err := tx.QueryRowContext(ctx, `INSERT INTO account_keys (account, created, public_key, wrapped_password, wrapped_recovery, active)
				VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
				acct.ID, column.Nanos(k.Created), k.PublicKey, k.WrappedByPassword, k.WrappedByRecovery, k.Active).Scan(&id)
			if err != nil {
				return err
			}
			keyIDs[k.ID] = id
		}
		insert := tx.StmtContext(ctx, s.hot.insert)
		for _, mi := range img.Mailboxes {
			mb := mi.Mailbox
			var mid sealpost.MailboxID
			// The expunges before the move are not known here (no
			// tombstones move): the floor is the mailbox's HIGHESTMODSEQ.
			err := tx.QueryRowContext(ctx, `INSERT INTO mailboxes (account, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq, expunged_floor)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				acct.ID, mb.Name, string(mb.Use), mb.Subscribed, int64(mb.UIDValidity), int64(mb.UIDNext), int64(mb.HighestModSeq), int64(mb.HighestModSeq)).Scan(&mid)
			if err != nil {
				return err
			}
			for _, m := range mi.Messages {
				var id int64
				err := insert.QueryRowContext(ctx, mid, int64(m.UID), column.EncodeFlags(m.Flags), column.Nanos(m.InternalDate),
					m.Size, int64(m.ModSeq), string(m.Blob), int64(keyIDs[m.Key]), m.SessionKey, column.Nanos(m.SaveDate)).Scan(&id)
				if err != nil {
					return err
				}
			}
		}
		for _, o := range img.Objects {
			if _, err := tx.ExecContext(ctx, `INSERT INTO account_objects (`+objectColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
				acct.ID, o.Kind, o.Name, o.Active, o.Data, column.Nanos(o.Updated)); err != nil {
				return err
			}
		}
		// The usage is counted from what was imported: once per account
		// moved, never per delivery.
		if _, err := tx.ExecContext(ctx, column.RecountUsage+` WHERE id = ?`, acct.ID); err != nil {
			return err
		}
		return raiseUIDValidity(ctx, tx, int64(column.MaxUIDValidity(img)))
	})
	if err != nil {
		return sealpost.Account{}, err
	}
	return acct, nil
}

// raiseUIDValidity makes the UIDVALIDITY counter at least v.
func raiseUIDValidity(ctx context.Context, tx *sql.Tx, v int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE counters SET value = ? WHERE name = 'uidvalidity' AND value < ?`, v, v)
	return err
}

// Inventory lists, from one consistent snapshot, the accounts by address,
// every blob a message or queue entry references, and the rows no account
// here owns.
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
	const op = "sqlite.Inventory"
	tx, err := s.db.R.BeginTx(ctx, nil)
	if err != nil {
		return sealpost.Inventory{}, dbErr(op, err)
	}
	defer tx.Rollback()
	inv := sealpost.Inventory{Blobs: map[sealpost.BlobRef]string{}}
	if inv.Accounts, err = queryAll(ctx, tx, scanAccount, `SELECT `+accountColumns+` FROM accounts ORDER BY address`); err != nil {
		return sealpost.Inventory{}, dbErr(op, err)
	}
	type owned struct {
		ref, addr string
	}
	scanOwned := func(row interface{ Scan(...any) error }) (owned, error) {
		var o owned
		err := row.Scan(&o.ref, &o.addr)
		return o, err
	}
	refs, err := queryAll(ctx, tx, scanOwned, `SELECT DISTINCT m.blob_ref, a.address FROM messages m
		JOIN mailboxes b ON b.id = m.mailbox JOIN accounts a ON a.id = b.account
		UNION SELECT DISTINCT blob_ref, '' FROM queue`)
	if err != nil {
		return sealpost.Inventory{}, dbErr(op, err)
	}
	for _, o := range refs {
		addInventoryBlob(inv.Blobs, sealpost.BlobRef(o.ref), o.addr)
	}

	queries := []struct {
		query  string
		format func(row interface{ Scan(...any) error }) (string, error)
	}{
		{`SELECT b.id, b.name, b.account FROM mailboxes b
			WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = b.account) ORDER BY b.id`, orphanMailbox},
		{`SELECT k.id, k.account FROM account_keys k
			WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = k.account) ORDER BY k.id`, orphanKey},
		{`SELECT o.kind, o.name, o.account FROM account_objects o
			WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = o.account) ORDER BY o.account, o.kind, o.name`, column.OrphanObject},
		{`SELECT m.id, m.blob_ref, b.id, b.account FROM messages m JOIN mailboxes b ON b.id = m.mailbox
			WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = b.account) ORDER BY m.id`, orphanMessageOfAccount},
		{`SELECT m.id, m.blob_ref, m.mailbox FROM messages m
			WHERE NOT EXISTS (SELECT 1 FROM mailboxes b WHERE b.id = m.mailbox) ORDER BY m.id`, orphanMessage},
	}
	for _, q := range queries {
		lines, err := queryAll(ctx, tx, q.format, q.query)
		if err != nil {
			return sealpost.Inventory{}, dbErr(op, err)
		}
		inv.Orphans = append(inv.Orphans, lines...)
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

func orphanMailbox(row interface{ Scan(...any) error }) (string, error) {
	var id, acct int64
	var name string
	err := row.Scan(&id, &name, &acct)
	return fmt.Sprintf("mailbox %d (%q) of missing account %d", id, name, acct), err
}

func orphanKey(row interface{ Scan(...any) error }) (string, error) {
	var id, acct int64
	err := row.Scan(&id, &acct)
	return fmt.Sprintf("key %d of missing account %d", id, acct), err
}

func orphanMessageOfAccount(row interface{ Scan(...any) error }) (string, error) {
	var id, mb, acct int64
	var ref string
	err := row.Scan(&id, &ref, &mb, &acct)
	return fmt.Sprintf("message %d (blob %q) in mailbox %d of missing account %d", id, ref, mb, acct), err
}

func orphanMessage(row interface{ Scan(...any) error }) (string, error) {
	var id, mb int64
	var ref string
	err := row.Scan(&id, &ref, &mb)
	return fmt.Sprintf("message %d (blob %q) in missing mailbox %d", id, ref, mb), err
}
