package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/sealpost/sealpost/store/column"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// normalizeDomain is the stored form of a domain name.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// AddDomain records a hosted domain, in lower case. Exist if present.
func (s *Store) AddDomain(ctx context.Context, domain string) error {
	const op = "sqlite.AddDomain"
	d := normalizeDomain(domain)
	if d == "" || strings.ContainsAny(d, "@ \t\r\n") {
		return errors.E(op, errors.Invalid, errors.Errorf("bad domain %q", domain))
	}
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM domains WHERE name = ?`, d).Scan(&one)
		if err == nil {
			return exist("domain %s", d)
		}
		if !errors.IsErr(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO domains (name) VALUES (?)`, d)
		return err
	})
}

// Domains lists hosted domains, sorted.
func (s *Store) Domains(ctx context.Context) ([]string, error) {
	const op = "sqlite.Domains"
	rows, err := s.db.R.QueryContext(ctx, `SELECT name FROM domains ORDER BY name`)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, d)
	}
	return out, dbErr(op, rows.Err())
}

// CreateAccount creates an account, its first key generation (always
// active, whatever key.Active says) and the default mailboxes, all
// subscribed. The address is normalized; acct.ID and acct.Created are
// ignored and set.
func (s *Store) CreateAccount(ctx context.Context, acct sealpost.Account, key sealpost.Key) (sealpost.Account, error) {
	const op = "sqlite.CreateAccount"
	addr := sealpost.NormalizeAddress(acct.Address)
	domain := sealpost.DomainOf(addr)
	if domain == "" || len(addr) == len(domain)+1 || strings.ContainsAny(addr, " \t\r\n") {
		return sealpost.Account{}, errors.E(op, errors.Invalid, errors.Errorf("bad address %q", acct.Address))
	}
	acct.Address = addr
	acct.Created = column.Now()
	err := s.db.Write(ctx, op, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM domains WHERE name = ?`, domain).Scan(&one)
		if errors.IsErr(err, sql.ErrNoRows) {
			return notExist("domain %s is not hosted", domain)
		} else if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE address = ?`, addr).Scan(&one)
		if err == nil {
			return exist("account %s", addr)
		} else if !errors.IsErr(err, sql.ErrNoRows) {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO accounts (address, domain, created, verifier, own_key, save_sent, no_server_filter, quota_storage, quota_mailboxes)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
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

func scanAccount(row interface{ Scan(...any) error }) (sealpost.Account, error) {
	var a sealpost.Account
	var created int64
	if err := row.Scan(&a.ID, &a.Address, &created, &a.PasswordVerifier, &a.OwnKey, &a.Settings.SaveSent, &a.Settings.NoServerFilter, &a.Quota.Storage, &a.Quota.Mailboxes); err != nil {
		return sealpost.Account{}, err
	}
	a.Created = column.FromNanos(created)
	return a, nil
}

// Account returns the account with the given address. NotExist if none.
func (s *Store) Account(ctx context.Context, address string) (sealpost.Account, error) {
	const op = "sqlite.Account"
	addr := sealpost.NormalizeAddress(address)
	a, err := scanAccount(s.db.R.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE address = ?`, addr))
	if errors.IsErr(err, sql.ErrNoRows) {
		return sealpost.Account{}, errors.E(op, notExist("account %s", addr))
	}
	if err != nil {
		return sealpost.Account{}, dbErr(op, err)
	}
	return a, nil
}

// Accounts lists all accounts, sorted by address.
func (s *Store) Accounts(ctx context.Context) ([]sealpost.Account, error) {
	const op = "sqlite.Accounts"
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY address`)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []sealpost.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, a)
	}
	return out, dbErr(op, rows.Err())
}

// DeleteAccount removes the account with everything it owns (the foreign
// keys cascade) and returns the blobs nothing references any more.
func (s *Store) DeleteAccount(ctx context.Context, id sealpost.AccountID) ([]sealpost.BlobRef, error) {
	const op = "sqlite.DeleteAccount"
	var blobs []sealpost.BlobRef
	err := s.db.Write(ctx, op, func(tx *sql.Tx) error {
		candidates, err := blobSet(ctx, tx, `SELECT DISTINCT m.blob_ref FROM messages m
			JOIN mailboxes b ON b.id = m.mailbox WHERE b.account = ?`, id)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notExist("account %d", id)
		}
		blobs, err = unreferenced(ctx, tx.StmtContext(ctx, s.hot.blobUsed), candidates)
		return err
	})
	return blobs, err
}

// blobSet runs a query returning blob refs and collects them.
func blobSet(ctx context.Context, tx *sql.Tx, query string, args ...any) (map[sealpost.BlobRef]bool, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	set := map[sealpost.BlobRef]bool{}
	for rows.Next() {
		var ref string
		if err := rows.Scan(&ref); err != nil {
			return nil, err
		}
		set[sealpost.BlobRef(ref)] = true
	}
	return set, rows.Err()
}

// SetPasswordVerifier replaces the account's password verifier.
func (s *Store) SetPasswordVerifier(ctx context.Context, id sealpost.AccountID, verifier []byte) error {
	const op = "sqlite.SetPasswordVerifier"
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET verifier = ? WHERE id = ?`, verifier, id)
		if err != nil {
			return err
		}
		return mustAffect(res, "account %d", id)
	})
}

// SetSettings replaces the account's settings. NotExist if there is none.
func (s *Store) SetSettings(ctx context.Context, id sealpost.AccountID, set sealpost.AccountSettings) error {
	const op = "sqlite.SetSettings"
	return s.db.Write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET save_sent = ?, no_server_filter = ? WHERE id = ?`, set.SaveSent, set.NoServerFilter, id)
		if err != nil {
			return err
		}
		return mustAffect(res, "account %d", id)
	})
}

// mustAffect turns an update that touched no row into a NotExist error.
func mustAffect(res sql.Result, format string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notExist(format, args...)
	}
	return nil
}

// Keys lists the account's key generations, oldest first. An unknown
// account has none.
func (s *Store) Keys(ctx context.Context, id sealpost.AccountID) ([]sealpost.Key, error) {
	const op = "sqlite.Keys"
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+keyColumns+` FROM account_keys WHERE account = ? ORDER BY id`, id)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []sealpost.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, k)
	}
	return out, dbErr(op, rows.Err())
}

// PutKey adds a key generation (key.ID == 0) or updates an existing one's
// wraps and Active flag (the public key and creation time never change).
// Making a generation active makes the account's others inactive. NotExist
// if the account or the key is unknown; Invalid if key.Account names an
// account other than the key's.
func (s *Store) PutKey(ctx context.Context, key sealpost.Key) (sealpost.KeyID, error) {
	const op = "sqlite.PutKey"
	err := s.db.Write(ctx, op, func(tx *sql.Tx) error {
		if key.ID == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE id = ?`, key.Account).Scan(&one)
			if errors.IsErr(err, sql.ErrNoRows) {
				return notExist("account %d", key.Account)
			} else if err != nil {
				return err
			}
			key.ID, err = insertKey(ctx, tx, key)
			return err
		}
		var acct sealpost.AccountID
		err := tx.QueryRowContext(ctx, `SELECT account FROM account_keys WHERE id = ?`, key.ID).Scan(&acct)
		if errors.IsErr(err, sql.ErrNoRows) {
			return notExist("key %d", key.ID)
		} else if err != nil {
			return err
		}
		if key.Account != 0 && key.Account != acct {
			return invalid("key %d belongs to account %d, not %d", key.ID, acct, key.Account)
		}
		if key.Active {
			if _, err := tx.ExecContext(ctx, `UPDATE account_keys SET active = FALSE WHERE account = ? AND id <> ?`, acct, key.ID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE account_keys SET wrapped_password = ?, wrapped_recovery = ?, active = ? WHERE id = ?`,
			key.WrappedByPassword, key.WrappedByRecovery, key.Active, key.ID)
		return err
	})
	if err != nil {
		return 0, err
	}
	return key.ID, nil
}

// insertKey adds a key generation for key.Account, deactivating the others
// if it is active.
func insertKey(ctx context.Context, tx *sql.Tx, key sealpost.Key) (sealpost.KeyID, error) {
	if key.Active {
		if _, err := tx.ExecContext(ctx, `UPDATE account_keys SET active = FALSE WHERE account = ?`, key.Account); err != nil {
			return 0, err
		}
	}
	var id sealpost.KeyID
	err := tx.QueryRowContext(ctx, `INSERT INTO account_keys (account, created, public_key, wrapped_password, wrapped_recovery, active)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		key.Account, column.Nanos(column.Now()), key.PublicKey, key.WrappedByPassword, key.WrappedByRecovery, key.Active).Scan(&id)
	return id, err
}
