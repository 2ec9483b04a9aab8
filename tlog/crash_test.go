package tlog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

// crashAt opens a log with 300 committed entries, then crashes it at stage
// while committing 50 more: the committer stops there, as if the process
// died. It returns the directory, the checkpoint before the crash and the
// entries file's length before the crash.
func crashAt(t *testing.T, stage string, opts Options) (dir string, before []byte, entriesLen int64) {
	t.Helper()
	l, dir := openTest(t, "", opts)
	appendN(t, l, 0, 300, 8)
	before = l.Checkpoint()
	entriesLen = int64(l.cur.Load().entriesLen)
	l.testHook = func(s string) bool {
		// The invariant under test: while entries are written but not
		// yet durable, no checkpoint covers them.
		if !bytes.Equal(l.Checkpoint(), before) {
			t.Errorf("at stage %q the checkpoint moved before the commit was durable", s)
		}
		return s != stage
	}
	errs := make(chan error, 50)
	for i := range 50 {
		go func() {
			_, err := l.Append(context.Background(), testEntry(300+i))
			errs <- err
		}()
	}
	for range 50 {
		if err := <-errs; !errors.Is(errors.Internal, err) {
			t.Fatalf("Append during a crash = %v, want an internal error", err)
		}
	}
	if _, err := l.Append(context.Background(), []byte("after")); !errors.Is(errors.Internal, err) {
		t.Fatalf("Append after a crash = %v, want the log to stay failed", err)
	}
	if !bytes.Equal(l.Checkpoint(), before) {
		t.Fatal("checkpoint moved though the commit failed")
	}
	l.Close() // closes the files, writes nothing more
	return dir, before, entriesLen
}

// reopenCheck reopens dir and checks that the log is whole, extends before
// and still takes appends.
func reopenCheck(t *testing.T, dir string, before []byte) *Log {
	t.Helper()
	l, _ := openTest(t, dir, Options{})
	ctx := context.Background()
	if _, err := Verify(ctx, HandlerFetcher(l.Handler()), testVKey, before); err != nil {
		t.Fatalf("Verify after recovery: %v", err)
	}
	appendN(t, l, int(l.Size()), 20, 4)
	if _, err := Verify(ctx, HandlerFetcher(l.Handler()), testVKey, before); err != nil {
		t.Fatalf("Verify after recovery and appends: %v", err)
	}
	return l
}

func TestCrashBeforeSync(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string, entriesLen int64)
	}{
		{"unsynced writes survived", func(*testing.T, string, int64) {}},
		{"unsynced writes lost", func(t *testing.T, dir string, n int64) {
			truncate(t, filepath.Join(dir, fileEntries), n)
		}},
		{"torn entry", func(t *testing.T, dir string, n int64) {
			truncate(t, filepath.Join(dir, fileEntries), n+7)
		}},
		{"zeroed tail", func(t *testing.T, dir string, n int64) {
			truncate(t, filepath.Join(dir, fileEntries), n)
			appendFile(t, filepath.Join(dir, fileEntries), make([]byte, 4096))
		}},
		{"torn journal record", func(t *testing.T, dir string, _ int64) {
			appendFile(t, filepath.Join(dir, fileJournal), []byte("tlj1 torn record"))
		}},
		{"derived files lost", func(t *testing.T, dir string, _ int64) {
			for _, name := range []string{fileBundles, slotName(0), slotName(1), slotName(2)} {
				if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
		}},
		{"derived files cut", func(t *testing.T, dir string, _ int64) {
			truncate(t, filepath.Join(dir, slotName(0)), 100*32+5)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, before, n := crashAt(t, "written", Options{HashSyncEntries: 100})
			tt.damage(t, dir, n)
			l := reopenCheck(t, dir, before)
			if l.Size() != 320 {
				t.Fatalf("size after recovery and 20 appends = %d, want 320 (the crashed batch was never durable)", l.Size())
			}
		})
	}
}

// The batch reached the disk but the process died before publishing it:
// the entries are in the log after recovery (their Appends failed, so the
// caller could not know), and the new checkpoint extends the old one.
func TestCrashAfterSync(t *testing.T) {
	dir, before, _ := crashAt(t, "synced", Options{})
	l := reopenCheck(t, dir, before)
	// The crashed commit held the first of the 50 appends queued, or more.
	if n := l.Size() - 20; n <= 300 || n > 350 {
		t.Fatalf("size before the 20 new appends = %d, want 301..350", n)
	}
}

// The journal record reached the disk but its entries did not (the two are
// synced together): recovery falls back to the previous commit.
func TestCrashJournalAheadOfEntries(t *testing.T) {
	dir, before, n := crashAt(t, "synced", Options{})
	truncate(t, filepath.Join(dir, fileEntries), n+3)
	l := reopenCheck(t, dir, before)
	if l.Size() != 320 {
		t.Fatalf("size = %d, want 320", l.Size())
	}
	if got := parseCP(t, before).Size; got != 300 {
		t.Fatal(got)
	}
}

// Entries altered on disk where recovery replays them do not hash to the
// journal's root, and Open refuses the log rather than serve it.
func TestRecoveryDetectsDamage(t *testing.T) {
	dir, _, _ := crashAt(t, "written", Options{HashSyncEntries: 1 << 20})
	p := filepath.Join(dir, fileEntries)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[1000] ^= 1
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, testSKey, Options{}); !errors.Is(errors.Internal, err) {
		t.Fatalf("Open of a damaged log = %v, want an internal error", err)
	}
}

func truncate(t *testing.T, p string, n int64) {
	t.Helper()
	if err := os.Truncate(p, n); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, p string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

// The journal is compacted to its last record when it grows; the log
// reopens the same, and a crash after compaction recovers as before.
func TestJournalCompaction(t *testing.T) {
	l, dir := openTest(t, "", Options{})
	l.compactAt = 5 * jrecSize
	for i := range 40 {
		if _, err := l.Append(context.Background(), testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, fileJournal))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= 5*jrecSize {
		t.Fatalf("journal of %d bytes after 40 commits, want < %d", fi.Size(), 5*jrecSize)
	}
	before := l.Checkpoint()
	l.testHook = func(s string) bool { return s != "written" }
	if _, err := l.Append(context.Background(), []byte("lost")); err == nil {
		t.Fatal("Append survived a crash")
	}
	l.Close()
	l2 := reopenCheck(t, dir, before)
	if l2.Size() != 60 {
		t.Fatalf("size %d, want 60", l2.Size())
	}
}
