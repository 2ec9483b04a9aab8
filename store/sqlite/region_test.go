package sqlite

import (
	"database/sql"
	"path/filepath"

	"testing"
)

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
