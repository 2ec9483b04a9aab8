package postgres

import (
	"context"
	"strings"

	"github.com/sealpost/sealpost/store/column"

	"github.com/jackc/pgx/v5"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// normalizeDomain is the stored form of a domain name.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// AddDomain records a hosted domain, in lower case. Exist if present.
func (s *Store) AddDomain(ctx context.Context, domain string) error {
	const op = "postgres.AddDomain"
	d := normalizeDomain(domain)
	if d == "" || strings.ContainsAny(d, "@ \t\r\n") {
		return errors.E(op, errors.Invalid, errors.Errorf("bad domain %q", domain))
	}
	return s.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO domains (name) VALUES ($1) ON CONFLICT DO NOTHING`, d)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return exist("domain %s", d)
		}
		return nil
	})
}

// Domains lists hosted domains, sorted.
func (s *Store) Domains(ctx context.Context) ([]string, error) {
	const op = "postgres.Domains"
	if err := s.read(op); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT name FROM domains ORDER BY name`)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// CreateAccount creates an account, its first key generation (always
// active, whatever key.Active says) and the default mailboxes, all
// subscribed. The address is normalized; acct.ID and acct.Created are
// ignored and set. NotExist if the domain is not hosted, Exist if the
// address is taken.
func (s *Store) CreateAccount(ctx context.Context, acct sealpost.Account, key sealpost.Key) (sealpost.Account, error) {
	const op = "postgres.CreateAccount"
	addr := sealpost.NormalizeAddress(acct.Address)
	domain := sealpost.DomainOf(addr)
	if domain == "" || len(addr) == len(domain)+1 || strings.ContainsAny(addr, " \t\r\n") {
		return sealpost.Account{}, errors.E(op, errors.Invalid, errors.Errorf("bad address %q", acct.Address))
	}
	acct.Address = addr
	acct.Created = column.Now()
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM domains WHERE name = $1`, domain)
		if err != nil {
			return err
		}
		if !found {
			return notExist("domain %s is not hosted", domain)
		}
		found, err = exists(ctx, tx, `SELECT 1 FROM accounts WHERE address = $1`, addr)
		if err != nil {
			return err
		}
		if found {
			return exist("account %s", addr)
		}
		// A concurrent creation of the same address, or removal of the
		// domain, still fails here: 23505 is Exist, 23503 NotExist.
		err = tx.QueryRow(ctx, `INSERT INTO accounts (address, domain, created, verifier, own_key, save_sent, no_server_filter, quota_storage, quota_mailboxes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			addr, domain, column.Nanos(acct.Created), acct.PasswordVerifier, acct.OwnKey, acct.Settings.SaveSent, acct.Settings.NoServerFilter, acct.Quota.Storage, acct.Quota.Mailboxes).Scan(&acct.ID)
		if err != nil {
			return err
		}
		key.Account = acct.ID
		key.Active = true
		if _, err := insertKey(ctx, tx, key); err != nil {
			return err
		}
		for _, mb := range sealpost.DefaultMailboxes {
			if _, err := insertMailbox(ctx, tx, acct.ID, mb.Name, mb.Use); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return sealpost.Account{}, err
	}
	return acct, nil
}

const accountColumns = `id, address, created, verifier, own_key, save_sent, no_server_filter, quota_storage, quota_mailboxes`

func scanAccount(row pgx.Row) (sealpost.Account, error) {
	var a sealpost.Account
	var id, created int64
	if err := row.Scan(&id, &a.Address, &created, &a.PasswordVerifier, &a.OwnKey, &a.Settings.SaveSent, &a.Settings.NoServerFilter, &a.Quota.Storage, &a.Quota.Mailboxes); err != nil {
		return sealpost.Account{}, err
	}
	a.ID = sealpost.AccountID(id)
	a.Created = column.FromNanos(created)
	return a, nil
}

// Account returns the account with the given address. NotExist if none.
func (s *Store) Account(ctx context.Context, address string) (sealpost.Account, error) {
	const op = "postgres.Account"
	if err := s.read(op); err != nil {
		return sealpost.Account{}, err
	}
	addr := sealpost.NormalizeAddress(address)
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE address = $1`, addr))
	if errors.IsErr(err, pgx.ErrNoRows) {
		return sealpost.Account{}, errors.E(op, notExist("account %s", addr))
	}
	if err != nil {
		return sealpost.Account{}, dbErr(op, err)
	}
	return a, nil
}

// Accounts lists all accounts, sorted by address.
func (s *Store) Accounts(ctx context.Context) ([]sealpost.Account, error) {
	const op = "postgres.Accounts"
	if err := s.read(op); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY address`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealpost.Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// DeleteAccount removes the account with everything it owns (the foreign
// keys cascade) and returns the blobs nothing references any more. The
// account's mailboxes are locked first, so that no delivery slips in
// between listing their blobs and deleting them.
func (s *Store) DeleteAccount(ctx context.Context, id sealpost.AccountID) ([]sealpost.BlobRef, error) {
	const op = "postgres.DeleteAccount"
	var blobs []sealpost.BlobRef
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		blobs = nil
		found, err := exists(ctx, tx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, int64(id))
		if err != nil {
			return err
		}
		if !found {
			return notExist("account %d", id)
		}
		if _, err := tx.Exec(ctx, `SELECT id FROM mailboxes WHERE account = $1 ORDER BY id FOR UPDATE`, int64(id)); err != nil {
			return err
		}
		candidates, err := blobSet(ctx, tx, `SELECT DISTINCT m.blob_ref FROM messages m
			JOIN mailboxes b ON b.id = m.mailbox WHERE b.account = $1`, int64(id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, int64(id)); err != nil {
			return err
		}
		blobs, err = unreferenced(ctx, tx, candidates)
		return err
	})
	return blobs, err
}

// blobSet runs a query returning blob refs and collects them.
func blobSet(ctx context.Context, tx pgx.Tx, query string, args ...any) (map[sealpost.BlobRef]bool, error) {
	rows, _ := tx.Query(ctx, query, args...)
	refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	set := make(map[sealpost.BlobRef]bool, len(refs))
	for _, r := range refs {
		set[sealpost.BlobRef(r)] = true
	}
	return set, nil
}

// SetSettings replaces the account's settings. NotExist for an unknown
// account.
func (s *Store) SetSettings(ctx context.Context, id sealpost.AccountID, set sealpost.AccountSettings) error {
	const op = "postgres.SetSettings"
	return s.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET save_sent = $1, no_server_filter = $2 WHERE id = $3`, set.SaveSent, set.NoServerFilter, int64(id))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notExist("account %d", id)
		}
		return nil
	})
}

// SetPasswordVerifier replaces the account's password verifier. NotExist
// for an unknown account.
func (s *Store) SetPasswordVerifier(ctx context.Context, id sealpost.AccountID, verifier []byte) error {
	const op = "postgres.SetPasswordVerifier"
	return s.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET verifier = $1 WHERE id = $2`, verifier, int64(id))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notExist("account %d", id)
		}
		return nil
	})
}

// Keys lists the account's key generations, oldest first. An unknown
// account has none.
func (s *Store) Keys(ctx context.Context, id sealpost.AccountID) ([]sealpost.Key, error) {
	const op = "postgres.Keys"
	if err := s.read(op); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM account_keys WHERE account = $1 ORDER BY id`, int64(id))
	out, err := pgx.CollectRows(rows, scanKey)
	if err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// PutKey adds a key generation (key.ID == 0) or updates an existing one's
// wraps and Active flag (the public key and creation time never change).
// Making a generation active makes the account's others inactive. NotExist
// if the account or the key is unknown; Invalid if key.Account names an
// account other than the key's. The account row is locked, so concurrent
// calls for one account take turns and leave one generation active.
func (s *Store) PutKey(ctx context.Context, key sealpost.Key) (sealpost.KeyID, error) {
	const op = "postgres.PutKey"
	var id sealpost.KeyID
	err := s.write(ctx, op, func(tx pgx.Tx) error {
		if key.ID == 0 {
			found, err := exists(ctx, tx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, int64(key.Account))
			if err != nil {
				return err
			}
			if !found {
				return notExist("account %d", key.Account)
			}
			id, err = insertKey(ctx, tx, key)
			return err
		}
		var acct int64
		err := tx.QueryRow(ctx, `SELECT account FROM account_keys WHERE id = $1`, int64(key.ID)).Scan(&acct)
		if errors.IsErr(err, pgx.ErrNoRows) {
			return notExist("key %d", key.ID)
		} else if err != nil {
			return err
		}
		if key.Account != 0 && key.Account != sealpost.AccountID(acct) {
			return invalid("key %d belongs to account %d, not %d", key.ID, acct, key.Account)
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, acct); err != nil {
			return err
		}
		if key.Active {
			if _, err := tx.Exec(ctx, `UPDATE account_keys SET active = FALSE WHERE account = $1 AND id <> $2`, acct, int64(key.ID)); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE account_keys SET wrapped_password = $1, wrapped_recovery = $2, active = $3 WHERE id = $4`,
			key.WrappedByPassword, key.WrappedByRecovery, key.Active, int64(key.ID))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notExist("key %d", key.ID)
		}
		id = key.ID
		return nil
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// insertKey adds a key generation for key.Account, deactivating the others
// if it is active.
func insertKey(ctx context.Context, tx pgx.Tx, key sealpost.Key) (sealpost.KeyID, error) {
	if key.Active {
		if _, err := tx.Exec(ctx, `UPDATE account_keys SET active = FALSE WHERE account = $1`, int64(key.Account)); err != nil {
			return 0, err
		}
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO account_keys (account, created, public_key, wrapped_password, wrapped_recovery, active)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		int64(key.Account), column.Nanos(column.Now()), key.PublicKey, key.WrappedByPassword, key.WrappedByRecovery, key.Active).Scan(&id)
	return sealpost.KeyID(id), err
}
