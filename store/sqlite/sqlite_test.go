package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sealpost/sealpost/store/column"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/store/storetest"
)

func open(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sealpost.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.ByName(
		func(t *testing.T) (sealpost.Store, string) { return open(t) },
		func(path string) (sealpost.Store, error) { return Open(path) },
		func(t *testing.T, path string) {
			raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(0)")
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			for _, q := range []string{
				`INSERT INTO mailboxes (id, account, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq)
					VALUES (700, 3, 'INBOX', '\Inbox', TRUE, 5, 2, 2)`,
				`INSERT INTO account_keys (id, account, created, public_key, active) VALUES (400, 3, 0, X'01', TRUE)`,
				`INSERT INTO account_objects (account, kind, name, active, data, updated) VALUES (3, 2, 'lost', TRUE, NULL, 0)`,
				`INSERT INTO messages (id, mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id)
					VALUES (900, 2000, 1, '', 0, 1, 1, 'lost-blob', 0)`,
				`INSERT INTO messages (id, mailbox, uid, flags, internaldate, size, modseq, blob_ref, key_id)
					VALUES (901, 700, 1, '', 0, 1, 1, 'stray-blob', 400)`,
			} {
				if _, err := raw.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}))
}

var ctx = context.Background()

// TestPragmas checks what durability rests on: the file is in WAL mode (seen
// by a connection that sets nothing itself), commits are synchronous=FULL,
// and foreign keys are enforced on both the writer and the readers.
func TestPragmas(t *testing.T) {
	s, path := open(t)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode of the file = %q, %v; want wal", mode, err)
	}
	for _, db := range []*sql.DB{s.db.W, s.db.R} {
		var sync, fk int
		if err := db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
			t.Fatalf("synchronous = %d, %v; want 2 (FULL)", sync, err)
		}
		if err := db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Fatalf("foreign_keys = %d, %v; want 1", fk, err)
		}
	}
	// Readers are read-only.
	if _, err := s.db.R.Exec(`INSERT INTO domains (name) VALUES ('x.example')`); err == nil {
		t.Fatal("a reader connection wrote")
	}
}

func TestSchemaVersion(t *testing.T) {
	s, path := open(t)
	var v int
	if err := s.db.R.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema_version = %d, %v; want %d", v, err, len(migrations))
	}
	s.Close()
	// Reopening applies nothing twice.
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.db.W.Exec(`UPDATE schema_version SET version = ?`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	// A database from a newer program is refused.
	if s3, err := Open(path); err == nil {
		s3.Close()
		t.Fatal("Open accepted a newer schema")
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", filepath.Join(t.TempDir(), "a?b.db")} {
		if s, err := Open(p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// TestBatchIsolation runs one group-commit batch by hand: a call into a
// deleted mailbox fails alone, and the calls around it commit.
func TestBatchIsolation(t *testing.T) {
	s, _ := open(t)
	if err := s.AddDomain(ctx, "demo.example"); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAccount(ctx, sealpost.Account{Address: "alice@demo.example"}, sealpost.Key{})
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := s.MailboxByName(ctx, a.ID, "INBOX")
	gone, err := s.CreateMailbox(ctx, a.ID, "gone", sealpost.UseNone, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteMailbox(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	type result struct {
		msgs []sealpost.Message
		err  error
	}
	results := make([]result, 4)
	req := func(i int, c context.Context, msgs ...sealpost.NewMessage) *job {
		return &job{ctx: c, res: make(chan error, 1), run: func(ctx context.Context, tx *sql.Tx) error {
			var err error
			results[i].msgs, err = s.hot.insertMessages(ctx, tx, msgs)
			return err
		}}
	}
	msg := func(mb sealpost.MailboxID, blob string) sealpost.NewMessage {
		return sealpost.NewMessage{Mailbox: mb, Blob: sealpost.BlobRef(blob), Size: 1}
	}
	batch := []*job{
		req(0, ctx, msg(inbox.ID, "a")),
		req(1, ctx, msg(inbox.ID, "b"), msg(gone.ID, "c")), // fails: second mailbox gone
		req(2, canceled, msg(inbox.ID, "d")),               // its caller gave up
		req(3, ctx, msg(inbox.ID, "e"), msg(inbox.ID, "f")),
	}
	tx, err := s.db.W.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.commitBatch(tx, batch)
	for i, r := range batch {
		results[i].err = <-r.res
	}
	if results[0].err != nil || len(results[0].msgs) != 1 || results[0].msgs[0].UID != 1 {
		t.Fatalf("first call: %+v", results[0])
	}
	if !errors.Is(errors.NotExist, results[1].err) {
		t.Fatalf("failing call: %v, want NotExist", results[1].err)
	}
	if results[2].err == nil {
		t.Fatal("a canceled call was committed")
	}
	if results[3].err != nil || len(results[3].msgs) != 2 || results[3].msgs[0].UID != 2 || results[3].msgs[1].UID != 3 {
		t.Fatalf("last call: %+v", results[3])
	}
	msgs, err := s.Messages(ctx, inbox.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var blobs []sealpost.BlobRef
	for _, m := range msgs {
		blobs = append(blobs, m.Blob)
	}
	if !slices.Equal(blobs, []sealpost.BlobRef{"a", "e", "f"}) {
		t.Fatalf("stored blobs %q, want [a e f]", blobs)
	}
	if mb, _ := s.MailboxByName(ctx, a.ID, "INBOX"); mb.UIDNext != 4 {
		t.Fatalf("UIDNEXT = %d, want 4", mb.UIDNext)
	}
}

func TestFlagOps(t *testing.T) {
	f := func(s ...sealpost.Flag) []sealpost.Flag { return s }
	tests := []struct {
		cur   []sealpost.Flag
		op    sealpost.FlagOp
		flags []sealpost.Flag
		want  []sealpost.Flag
	}{
		{nil, sealpost.FlagsAdd, f(`\Seen`, `\seen`, `\Recent`), f(`\Seen`)},
		{f(`$Work`), sealpost.FlagsAdd, f(`$WORK`, `$Home`), f(`$Work`, `$Home`)},
		{f(`$Work`, `\Seen`), sealpost.FlagsRemove, f(`$work`, `$none`), f(`\Seen`)},
		{f(`$Work`, `\Seen`), sealpost.FlagsSet, f(`\SEEN`, `$x`), f(`\Seen`, `$x`)},
		{f(`$Work`), sealpost.FlagsSet, nil, f()},
	}
	for _, tt := range tests {
		got := column.ApplyFlags(tt.cur, tt.op, tt.flags)
		if !slices.Equal(got, tt.want) {
			t.Errorf("column.ApplyFlags(%q, %d, %q) = %q, want %q", tt.cur, tt.op, tt.flags, got, tt.want)
		}
		if back := column.DecodeFlags(column.EncodeFlags(got)); !slices.Equal(back, got) && len(got) != 0 {
			t.Errorf("flags %q do not survive encoding: %q", got, back)
		}
	}
	for _, bad := range []sealpost.Flag{"", `\`, "a b", "a(b", `a"`, "é", `a\b`, "x\x00"} {
		if column.CheckFlag(bad) == nil {
			t.Errorf("column.CheckFlag(%q) accepted", bad)
		}
	}
	for _, good := range []sealpost.Flag{`\Seen`, `$Forwarded`, `NonJunk`, `$MDNSent`} {
		if err := column.CheckFlag(good); err != nil {
			t.Errorf("column.CheckFlag(%q): %v", good, err)
		}
	}
}

// BenchmarkAddMessagesParallel is storetest.BenchAddMessages: the
// msgs/s metric is what the group commit buys.
func BenchmarkAddMessagesParallel(b *testing.B) {
	s, _ := open(b)
	storetest.BenchAddMessages(b, s)
}
