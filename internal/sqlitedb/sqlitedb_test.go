package sqlitedb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

func open(t *testing.T, o Options) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func pragma(t *testing.T, db *sql.DB, name string) int {
	t.Helper()
	var v int
	if err := db.QueryRow(`PRAGMA ` + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// TestPragmas checks what durability rests on, on the writer and the
// readers: the file is in WAL mode (seen by a connection that sets nothing
// itself), the synchronous level asked for, foreign keys on, a busy
// timeout, and the readers read only.
func TestPragmas(t *testing.T) {
	for _, tc := range []struct {
		sync Sync
		want int
	}{{SyncFull, 2}, {SyncNormal, 1}} {
		db, path := open(t, Options{Sync: tc.sync, Readers: 2})
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode of the file = %q, %v; want wal", mode, err)
		}
		raw.Close()
		for name, c := range map[string]*sql.DB{"writer": db.W, "reader": db.R} {
			if got := pragma(t, c, "synchronous"); got != tc.want {
				t.Errorf("%s: synchronous = %d, want %d", name, got, tc.want)
			}
			if got := pragma(t, c, "foreign_keys"); got != 1 {
				t.Errorf("%s: foreign_keys = %d, want 1", name, got)
			}
			if got := pragma(t, c, "busy_timeout"); got != 10000 {
				t.Errorf("%s: busy_timeout = %d, want 10000", name, got)
			}
		}
		if pragma(t, db.W, "query_only") != 0 || pragma(t, db.R, "query_only") != 1 {
			t.Error("query_only: want the writer writable and the readers read-only")
		}
		if _, err := db.R.Exec(`CREATE TABLE t (x)`); err == nil {
			t.Error("a reader wrote")
		}
		if s := db.W.Stats(); s.MaxOpenConnections != 1 {
			t.Errorf("writer pool of %d, want 1", s.MaxOpenConnections)
		}
		if s := db.R.Stats(); s.MaxOpenConnections != 2 {
			t.Errorf("reader pool of %d, want 2", s.MaxOpenConnections)
		}
	}
}

// TestImmediate checks that the writer's transactions take the write lock
// at BEGIN: while one is open, another process's write waits and fails
// busy, even though the transaction has not written yet.
func TestImmediate(t *testing.T) {
	db, path := open(t, Options{})
	if _, err := db.W.Exec(`CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.W.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`INSERT INTO t VALUES (1)`); err == nil {
		t.Error("another connection wrote during an open writer transaction: BEGIN was not IMMEDIATE")
	}
}

func TestNoReaders(t *testing.T) {
	db, _ := open(t, Options{})
	if db.R != nil {
		t.Error("readers opened without Options.Readers")
	}
	if err := db.Close(); err != nil {
		t.Error(err)
	}
}

func TestOpenBad(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"", ":memory:", "file:x.db", "file:" + filepath.Join(dir, "x.db"), filepath.Join(dir, "a?b.db")} {
		if db, err := Open(p, Options{}); !errors.Is(errors.Invalid, err) {
			if err == nil {
				db.Close()
			}
			t.Errorf("Open(%q) = %v, want an Invalid error", p, err)
		}
	}
	ok := filepath.Join(dir, "ok.db")
	for _, o := range []Options{{Sync: 7}, {Readers: -1}} {
		if db, err := Open(ok, o); !errors.Is(errors.Invalid, err) {
			if err == nil {
				db.Close()
			}
			t.Errorf("Open with %+v = %v, want an Invalid error", o, err)
		}
	}
	// A path the driver cannot create fails when the writer first
	// connects, not later.
	if db, err := Open(filepath.Join(dir, "missing", "x.db"), Options{}); err == nil {
		db.Close()
		t.Error("Open in a missing directory succeeded")
	}
}

// KindOf gives each constraint failure the kind callers branch on.
func TestKindOf(t *testing.T) {
	db, _ := open(t, Options{})
	for _, q := range []string{
		`CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL CHECK (name <> ''))`,
		`CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES p(id))`,
		`INSERT INTO p (id, name) VALUES (1, 'a')`,
	} {
		if _, err := db.W.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	_, errCanceled := db.W.ExecContext(canceled, `INSERT INTO p (id, name) VALUES (9, 'z')`)
	for _, tt := range []struct {
		what string
		err  error
		want errors.Kind
	}{
		{"duplicate key", exec(db, `INSERT INTO p (id, name) VALUES (1, 'b')`), errors.Exist},
		{"duplicate unique", exec(db, `INSERT INTO p (id, name) VALUES (2, 'a')`), errors.Exist},
		{"foreign key", exec(db, `INSERT INTO c (id, p) VALUES (1, 7)`), errors.NotExist},
		{"check", exec(db, `INSERT INTO p (id, name) VALUES (3, '')`), errors.Invalid},
		{"not null", exec(db, `INSERT INTO p (id) VALUES (4)`), errors.Invalid},
		{"no rows", db.W.QueryRow(`SELECT id FROM p WHERE id = 5`).Scan(new(int)), errors.NotExist},
		{"canceled", errCanceled, errors.Unavailable},
		{"syntax", exec(db, `INSERT INTO`), errors.Internal},
		{"kind kept", errors.E(errors.Permission, errors.Str("x")), errors.Permission},
	} {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("%s: KindOf(%v) = %v, want %v", tt.what, tt.err, got, tt.want)
		}
		if err := E("op", tt.err); !errors.Is(tt.want, err) {
			t.Errorf("%s: E = %v, want kind %v", tt.what, err, tt.want)
		}
	}
	if E("op", nil) != nil {
		t.Error("E of nil is not nil")
	}
}

func exec(db *DB, q string) error {
	_, err := db.W.Exec(q)
	return err
}

// TestFilesPrivate: the database and its WAL and shared-memory files are
// readable by their owner alone, whatever the umask.
func TestFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	os.WriteFile(path, nil, 0o644) // an existing file, too open
	db, err := Open(path, Options{Readers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.W.Exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(f), m)
		}
	}
}
