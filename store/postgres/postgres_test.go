package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/store/storetest"
)

// The tests run against a real PostgreSQL server: TestMain starts a
// throwaway cluster (initdb, pg_ctl) listening only on a Unix socket in a
// temporary directory, and every test gets a fresh database in it.

// cluster is the throwaway server, or why there is none.
var cluster struct {
	dir     string // holds the data directory and the socket
	port    int
	missing string // the server binaries are not installed
	err     error  // they are, but the cluster did not start
	admin   *pgxpool.Pool
}

var ctx = context.Background()

func TestMain(m *testing.M) {
	code := func() int {
		bin := testenv.PostgresBin()
		if bin == "" {
			cluster.missing = "initdb not found in /usr/lib/postgresql/*/bin or PATH: install Debian's postgresql package (make test does) to run this test"
			return m.Run()
		}
		stop, err := startCluster(bin)
		if err != nil {
			cluster.err = err
		}
		defer stop()
		return m.Run()
	}()
	os.Exit(code)
}

// startCluster creates and starts the cluster, and returns what stops it
// and removes its directory. initdb refuses to run as root, so as root the
// server runs as the postgres user.
func startCluster(bin string) (stop func(), err error) {
	dir, err := os.MkdirTemp("", "sealpost-pg")
	if err != nil {
		return func() {}, err
	}
	stop = func() { os.RemoveAll(dir) }
	var runAs []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return stop, fmt.Errorf("running as root and no postgres user to run the server: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return stop, err
		}
		runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) error {
		args = append(runAs, args...)
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %v\n%s", args, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return stop, err
	}
	cluster.dir, cluster.port = dir, 5432 // no TCP: the port only names the socket
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -p %d -c fsync=on -c deadlock_timeout=50ms", dir, cluster.port)
	if err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "start"); err != nil {
		return stop, err
	}
	stop = func() {
		if cluster.admin != nil {
			cluster.admin.Close()
		}
		run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	}
	cluster.admin, err = pgxpool.New(ctx, dsn("postgres"))
	return stop, err
}

// dsn names a database of the cluster.
func dsn(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s", cluster.dir, cluster.port, db)
}

var dbSeq atomic.Int64

// newDB creates an empty database for t, dropped at its end, and returns its
// DSN. It skips t when PostgreSQL is not installed, or fails it when
// SEALPOST_REQUIRE_TOOLS is set (as testenv.NeedTool does).
func newDB(t testing.TB) string {
	t.Helper()
	if cluster.missing != "" {
		if os.Getenv("SEALPOST_REQUIRE_TOOLS") != "" {
			t.Fatal(cluster.missing)
		}
		t.Skip(cluster.missing)
	}
	if cluster.err != nil {
		t.Fatalf("starting PostgreSQL: %v", cluster.err)
	}
	name := fmt.Sprintf("t_%d", dbSeq.Add(1))
	if _, err := cluster.admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := cluster.admin.Exec(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	return dsn(name)
}

// open opens a Store on a fresh database, closed at the end of t.
func open(t testing.TB) (*Store, string) {
	t.Helper()
	d := newDB(t)
	s, err := Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, d
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.ByName(
		func(t *testing.T) (sealpost.Store, string) { return open(t) },
		func(d string) (sealpost.Store, error) { return Open(ctx, d) },
		// session_replication_role = replica skips the foreign keys'
		// triggers: a hand edit, or a restore gone wrong.
		func(t *testing.T, d string) {
			s, err := Open(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
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
				`INSERT INTO account_objects (account, kind, name, active, data, updated) VALUES (3, 2, 'lost', TRUE, NULL, 0)`,
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
		}))
}

// setup creates alice@demo.example and returns her INBOX.
func setup(t *testing.T, s *Store) sealpost.Mailbox {
	t.Helper()
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
	return inbox
}

func schemaVersion(t *testing.T, s *Store) int {
	t.Helper()
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSchemaVersion(t *testing.T) {
	s, d := open(t)
	if v := schemaVersion(t, s); v != len(migrations) {
		t.Fatalf("schema_version = %d, want %d", v, len(migrations))
	}
	setup(t, s)
	s.Close()
	// Reopening applies nothing twice, and keeps the data.
	s2, err := Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if doms, err := s2.Domains(ctx); err != nil || !slices.Equal(doms, []string{"demo.example"}) {
		t.Fatalf("Domains after reopen: %q, %v", doms, err)
	}
	var rows int
	if err := s2.pool.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("schema_version has %d rows, %v; want 1", rows, err)
	}
	if _, err := s2.pool.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	// A database from a newer program is refused.
	if s3, err := Open(ctx, d); err == nil {
		s3.Close()
		t.Fatal("Open accepted a newer schema")
	} else if !errors.Is(errors.Invalid, err) {
		t.Fatalf("Open of a newer schema: %v, want Invalid", err)
	}
}

// TestConcurrentOpen opens one fresh database from several goroutines at
// once: the advisory lock makes one migrate and the others find the schema
// current.
func TestConcurrentOpen(t *testing.T) {
	for range 3 {
		d := newDB(t)
		const n = 4
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = Open(ctx, d) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Open #%d: %v", i, errs[i])
			}
			defer stores[i].Close()
		}
		if v := schemaVersion(t, stores[0]); v != len(migrations) {
			t.Fatalf("schema_version = %d, want %d", v, len(migrations))
		}
	}
}

func TestOpenBadDSN(t *testing.T) {
	if s, err := Open(ctx, "host=/nonexistent/socket/dir port=1 user=postgres dbname=x connect_timeout=2"); err == nil {
		s.Close()
		t.Fatal("Open of an unreachable server succeeded")
	}
	if s, err := Open(ctx, "no_such_parameter=1 ="); err == nil {
		s.Close()
		t.Fatal("Open of a malformed DSN succeeded")
	}
}

// BenchmarkAddMessagesParallel is storetest.BenchAddMessages on a real
// PostgreSQL server, beside store/sqlite's.
func BenchmarkAddMessagesParallel(b *testing.B) {
	s, _ := open(b)
	storetest.BenchAddMessages(b, s)
}
