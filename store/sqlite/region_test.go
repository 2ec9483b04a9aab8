package sqlite

import (
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// TestClaimPersists checks that a claim outlives the process that made it:
// a store reopened under another region refuses it.
func TestClaimPersists(t *testing.T) {
	s, path := open(t)
	if err := s.Claim(ctx, "ie"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Claim(ctx, "us"); !errors.Is(errors.WrongRegion, err) {
		t.Fatalf("Claim(us) of a reopened store claimed by ie: %v, want WrongRegion", err)
	}
	if err := s2.Claim(ctx, "ie"); err != nil {
		t.Fatalf("Claim(ie) of a reopened store claimed by ie: %v", err)
	}
}

// TestMigrateToStoreMeta opens a database at schema version 1 (before
// store_meta) holding an account: the new migration applies and the data
// stays.
func TestMigrateToStoreMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		migrations[0],
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO domains (name) VALUES ('demo.example')`,
		`INSERT INTO accounts (address, domain, created, own_key) VALUES ('alice@demo.example', 'demo.example', 1, FALSE)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			raw.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.db.R.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema_version = %d, %v; want %d", v, err, len(migrations))
	}
	if _, err := s.Account(ctx, "alice@demo.example"); err != nil {
		t.Fatalf("account after migration: %v", err)
	}
	if err := s.Claim(ctx, "ie"); err != nil {
		t.Fatalf("Claim after migration: %v", err)
	}
}

// TestInventoryOrphans writes rows no account owns, with foreign keys off
// (a hand edit, or a bug), and checks that Inventory names each and keeps
// their blobs out of Blobs.
func TestInventoryOrphans(t *testing.T) {
	s, path := open(t)
	if err := s.AddDomain(ctx, "demo.example"); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAccount(ctx, sealpost.Account{Address: "alice@demo.example"}, sealpost.Key{PublicKey: []byte("pk")})
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := s.MailboxByName(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMessages(ctx, []sealpost.NewMessage{{Mailbox: inbox.ID, Blob: "alice-blob", Size: 1}}); err != nil {
		t.Fatal(err)
	}

	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`INSERT INTO mailboxes (id, account, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq)
			VALUES (700, 3, 'INBOX', '\Inbox', TRUE, 5, 2, 2)`,
		`INSERT INTO account_keys (id, account, created, public_key, active) VALUES (400, 3, 0, X'01', TRUE)`,
		`INSERT INTO messages (id, mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id)
			VALUES (900, 2000, 1, '', 0, 1, 1, 'lost-blob', 0)`,
		`INSERT INTO messages (id, mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id)
			VALUES (901, 700, 1, '', 0, 1, 1, 'stray-blob', 400)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	inv, err := s.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`mailbox 700 ("INBOX") of missing account 3`,
		`key 400 of missing account 3`,
		`message 901 (blob "stray-blob") in mailbox 700 of missing account 3`,
		`message 900 (blob "lost-blob") in missing mailbox 2000`,
	}
	if !slices.Equal(inv.Orphans, want) {
		t.Fatalf("Orphans = %q, want %q", inv.Orphans, want)
	}
	if len(inv.Blobs) != 1 || inv.Blobs["alice-blob"] != a.Address {
		t.Fatalf("Blobs = %q, want alice-blob only", inv.Blobs)
	}
	if len(inv.Accounts) != 1 || inv.Accounts[0].ID != a.ID {
		t.Fatalf("Accounts = %+v", inv.Accounts)
	}
}

// TestImportRaisesCounter checks the UIDVALIDITY counter directly: an
// import raises it to the greatest imported value and never lowers it.
func TestImportRaisesCounter(t *testing.T) {
	s, _ := open(t)
	if err := s.AddDomain(ctx, "demo.example"); err != nil {
		t.Fatal(err)
	}
	counter := func() int64 {
		t.Helper()
		var v int64
		if err := s.db.R.QueryRow(`SELECT value FROM counters WHERE name = 'uidvalidity'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	img := func(addr string, validity uint32) sealpost.AccountImage {
		return sealpost.AccountImage{
			Account: sealpost.Account{Address: addr},
			Mailboxes: []sealpost.MailboxImage{{Mailbox: sealpost.Mailbox{
				Name: "INBOX", Use: sealpost.UseInbox, UIDValidity: validity, UIDNext: 1, HighestModSeq: 1}}},
		}
	}
	if _, err := s.ImportAccount(ctx, img("a@demo.example", 4_000_000_000)); err != nil {
		t.Fatal(err)
	}
	if got := counter(); got != 4_000_000_000 {
		t.Fatalf("counter after importing 4000000000 = %d", got)
	}
	if _, err := s.ImportAccount(ctx, img("b@demo.example", 7)); err != nil {
		t.Fatal(err)
	}
	if got := counter(); got != 4_000_000_000 {
		t.Fatalf("counter after importing 7 = %d, want it unchanged", got)
	}
}
