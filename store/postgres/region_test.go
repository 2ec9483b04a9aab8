package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sealpost/sealpost"
)

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
	if _, err := s.CreateMailbox(ctx, 1, "New", sealpost.UseNone, 0); err == nil {
		t.Fatal("CreateMailbox succeeded with UIDVALIDITY exhausted")
	}
}
