package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// PostgresBin returns the directory holding initdb and pg_ctl (Debian keeps
// them off PATH, under /usr/lib/postgresql/VERSION/bin), or "".
func PostgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(dirs) // newest version first, near enough
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

// StartPostgres starts a throwaway PostgreSQL cluster for t (initdb and
// pg_ctl in a temporary folder, listening only on a Unix socket there),
// creates the databases named, and returns a DSN per database. The cluster
// is stopped and removed at the end of t. It skips t when PostgreSQL is not
// installed, or fails it when SEALPOST_REQUIRE_TOOLS is set. As root (initdb
// refuses root) the server runs as the postgres user.
func StartPostgres(t testing.TB, dbs ...string) []string {
	t.Helper()
	bin := PostgresBin()
	if bin == "" {
		msg := "initdb not found in /usr/lib/postgresql/*/bin or PATH: install Debian's postgresql package (make test does) to run this test"
		if os.Getenv("SEALPOST_REQUIRE_TOOLS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Not t.TempDir: its parents are private to us, and the server may run
	// as another user.
	dir, err := os.MkdirTemp("", "sealpost-pg")
	if err != nil {
		t.Fatal(err)
	}
	var runAs []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			t.Fatalf("running as root and no postgres user to run the server: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
		runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) error {
		args = append(append([]string(nil), runAs...), args...)
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %v\n%s", args, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -p 5432 -c fsync=on", dir)
	if err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "start"); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	})
	psql := filepath.Join(bin, "psql")
	var dsns []string
	for _, db := range dbs {
		if err := run(psql, "-h", dir, "-p", "5432", "-U", "postgres", "-d", "postgres", "-qc", "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		dsns = append(dsns, fmt.Sprintf("host=%s port=5432 user=postgres dbname=%s", dir, db))
	}
	return dsns
}
