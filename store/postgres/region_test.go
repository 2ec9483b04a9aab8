package postgres

import (
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// TestClaimPersists checks that a claim outlives the process that made it:
// a store reopened under another region refuses it.
func TestClaimPersists(t *testing.T) {
	s, d := open(t)
	if err := s.Claim(ctx, "ie"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(ctx, d)
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
	d := newDB(t)
	raw, err := pgxpool.New(ctx, d)
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
		if _, err := raw.Exec(ctx, q); err != nil {
			raw.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	s, err := Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := schemaVersion(t, s); v != len(migrations) {
		t.Fatalf("schema_version = %d, want %d", v, len(migrations))
	}
	if _, err := s.Account(ctx, "alice@demo.example"); err != nil {
		t.Fatalf("account after migration: %v", err)
	}
	if err := s.Claim(ctx, "ie"); err != nil {
		t.Fatalf("Claim after migration: %v", err)
	}
}

// TestInventoryOrphans writes rows no account owns, with foreign keys off
// (session_replication_role = replica skips their triggers: a hand edit,
// or a restore gone wrong), and checks that Inventory names each and keeps
// their blobs out of Blobs.
func TestInventoryOrphans(t *testing.T) {
	s, _ := open(t)
	inbox := setup(t, s)
	if _, err := s.AddMessages(ctx, []sealpost.NewMessage{{Mailbox: inbox.ID, Blob: "alice-blob", Size: 1}}); err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{
		`SET LOCAL session_replication_role = replica`,
		`INSERT INTO mailboxes (id, account, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq)
			VALUES (700, 3, 'INBOX', '\Inbox', TRUE, 5, 2, 2)`,
		`INSERT INTO account_keys (id, account, created, public_key, active) VALUES (400, 3, 0, '\x01', TRUE)`,
		`INSERT INTO messages (id, mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id)
			VALUES (900, 2000, 1, '', 0, 1, 1, 'lost-blob', 0)`,
		`INSERT INTO messages (id, mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id)
			VALUES (901, 700, 1, '', 0, 1, 1, 'stray-blob', 400)`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
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
	if len(inv.Blobs) != 1 || inv.Blobs["alice-blob"] != "alice@demo.example" {
		t.Fatalf("Blobs = %q, want alice-blob only", inv.Blobs)
	}
	if len(inv.Accounts) != 1 || inv.Accounts[0].ID != inbox.Account {
		t.Fatalf("Accounts = %+v", inv.Accounts)
	}
}

// TestImportRaisesSequence checks uidvalidity_seq directly: an import sets
// it a margin past the greatest imported value, capped at 2^32-1, and
// never lowers it.
func TestImportRaisesSequence(t *testing.T) {
	s, _ := open(t)
	if err := s.AddDomain(ctx, "demo.example"); err != nil {
		t.Fatal(err)
	}
	last := func() int64 {
		t.Helper()
		var v int64
		if err := s.pool.QueryRow(ctx, `SELECT last_value FROM uidvalidity_seq`).Scan(&v); err != nil {
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
	for _, tt := range []struct {
		addr     string
		validity uint32
		want     int64
	}{
		{"a@demo.example", 4_000_000_000, 4_000_000_000 + uidValidityMargin},
		{"b@demo.example", 7, 4_000_000_000 + uidValidityMargin},
		{"c@demo.example", 4_294_967_000, 4_294_967_295},
	} {
		if _, err := s.ImportAccount(ctx, img(tt.addr, tt.validity)); err != nil {
			t.Fatal(err)
		}
		if got := last(); got != tt.want {
			t.Fatalf("uidvalidity_seq after importing %d = %d, want %d", tt.validity, got, tt.want)
		}
	}
	// The space is used up: a new mailbox fails rather than reuse a value.
	if _, err := s.CreateMailbox(ctx, 1, "New", sealpost.UseNone); err == nil {
		t.Fatal("CreateMailbox succeeded with UIDVALIDITY exhausted")
	}
}
