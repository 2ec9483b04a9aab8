package pack

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/blobtest"
	"github.com/sealpost/sealpost/errors"
)

var bg = context.Background()

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) sealpost.BlobStore {
		return openT(t, t.TempDir(), defaultLimit)
	})
}

// openT opens a store closed at the end of the test.
func openT(t testing.TB, dir string, limit int64) *Store {
	t.Helper()
	s, err := open(dir, limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustPut(t testing.TB, s *Store, data []byte) sealpost.BlobRef {
	t.Helper()
	ref, err := s.Put(bg, data)
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(data), err)
	}
	return ref
}

func get(s *Store, ref sealpost.BlobRef) ([]byte, error) {
	rc, err := s.Get(bg, ref)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustGet(t testing.TB, s *Store, ref sealpost.BlobRef, want []byte) {
	t.Helper()
	got, err := get(s, ref)
	if err != nil {
		t.Fatalf("Get(%s): %v", ref, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s): %d bytes that differ from the %d put", ref, len(got), len(want))
	}
}

func mustLoc(t testing.TB, ref sealpost.BlobRef) loc {
	t.Helper()
	l, err := parseRef(ref)
	if err != nil {
		t.Fatalf("Put returned unparsable ref %q: %v", ref, err)
	}
	return l
}

func fileSize(t testing.TB, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, defaultLimit)
	blobs := map[sealpost.BlobRef][]byte{}
	for i := range 5 {
		data := randBytes(t, 100*i)
		blobs[mustPut(t, s, data)] = data
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	size := fileSize(t, s.segPath(0))

	s2 := openT(t, dir, defaultLimit)
	for ref, data := range blobs {
		mustGet(t, s2, ref, data)
	}
	data := []byte("after reopen")
	ref := mustPut(t, s2, data)
	if l := mustLoc(t, ref); l.seg != 0 || l.off != size {
		t.Errorf("new Put at segment %d offset %d, want segment 0 offset %d", l.seg, l.off, size)
	}
	mustGet(t, s2, ref, data)
}

func TestRollover(t *testing.T) {
	dir := t.TempDir()
	const limit = 4096
	s := openT(t, dir, limit)
	blobs := map[sealpost.BlobRef][]byte{}
	segs := map[uint32]bool{}
	for i := range 20 {
		data := randBytes(t, 900+i)
		ref := mustPut(t, s, data)
		blobs[ref] = data
		segs[mustLoc(t, ref).seg] = true
	}
	// A blob larger than the limit gets a segment of its own.
	big := randBytes(t, 3*limit)
	bigRef := mustPut(t, s, big)
	blobs[bigRef] = big
	if l := mustLoc(t, bigRef); l.off != 0 || segs[l.seg] {
		t.Errorf("oversized blob at segment %d offset %d, want offset 0 of a new segment", l.seg, l.off)
	}
	if len(segs) < 4 {
		t.Errorf("20 blobs of ~1 KB used %d segments with a 4 KiB limit", len(segs))
	}
	for num := range segs {
		if n := fileSize(t, s.segPath(num)); n > limit {
			t.Errorf("segment %d has %d bytes, over the limit %d", num, n, limit)
		}
	}
	for ref, data := range blobs {
		mustGet(t, s, ref, data)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openT(t, dir, limit)
	for ref, data := range blobs {
		mustGet(t, s2, ref, data)
	}
	last := mustLoc(t, bigRef).seg
	ref := mustPut(t, s2, []byte("next"))
	if l := mustLoc(t, ref); l.seg != last+1 {
		t.Errorf("Put after reopen went to segment %d, want %d (the big one is full)", l.seg, last+1)
	}
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, defaultLimit)
	old := randBytes(t, 3000)
	oldRef := mustPut(t, s, old)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash mid-append: a header and part of the data, no CRC.
	torn, _, err := newRecord(randBytes(t, 5000))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(s.segPath(0), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(torn[:1234]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	size := fileSize(t, s.segPath(0))

	s2 := openT(t, dir, defaultLimit)
	mustGet(t, s2, oldRef, old)
	data := randBytes(t, 777)
	ref := mustPut(t, s2, data)
	if l := mustLoc(t, ref); l.off != size {
		t.Errorf("Put after a torn tail at offset %d, want %d (the end of the file)", l.off, size)
	}
	mustGet(t, s2, ref, data)
	mustGet(t, s2, oldRef, old)
}

func TestCorruption(t *testing.T) {
	tests := []struct {
		name string
		at   func(n int) int64 // offset in the record of the byte to flip
		kind errors.Kind
	}{
		{"magic", func(int) int64 { return 1 }, errors.NotExist},
		{"id", func(int) int64 { return 4 + 7 }, errors.NotExist},
		{"length", func(int) int64 { return 4 + idLen + 3 }, errors.Internal},
		{"first data byte", func(int) int64 { return headerLen }, errors.Internal},
		{"last data byte", func(n int) int64 { return headerLen + int64(n) - 1 }, errors.Internal},
		{"crc", func(n int) int64 { return headerLen + int64(n) + 2 }, errors.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openT(t, t.TempDir(), defaultLimit)
			data := randBytes(t, 2000)
			before := mustPut(t, s, []byte("before"))
			ref := mustPut(t, s, data)
			after := mustPut(t, s, []byte("after"))
			l := mustLoc(t, ref)
			flipByte(t, s.segPath(l.seg), l.off+tt.at(len(data)))

			got, err := get(s, ref)
			if err == nil {
				t.Fatalf("Get of a record with a flipped %s byte returned %d bytes and no error", tt.name, len(got))
			}
			if !errors.Is(tt.kind, err) {
				t.Errorf("Get: %v, want kind %v", err, tt.kind)
			}
			mustGet(t, s, before, []byte("before"))
			mustGet(t, s, after, []byte("after"))
		})
	}
}

func flipByte(t *testing.T, name string, off int64) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteFreesSpace(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	small := mustPut(t, s, []byte("neighbour before"))
	const size = 1 << 20
	ref := mustPut(t, s, randBytes(t, size))
	small2 := mustPut(t, s, []byte("neighbour after"))
	name := s.segPath(mustLoc(t, ref).seg)
	before := blocks(t, name)
	if err := s.Delete(bg, ref); err != nil {
		t.Fatal(err)
	}
	if s.noPunch.Load() {
		t.Skip("file system does not punch holes")
	}
	after := blocks(t, name)
	// All but the two partial blocks at the record's ends are freed.
	if freed := (before - after) * 512; freed < size-16<<10 {
		t.Errorf("Delete of a 1 MiB blob freed %d bytes (%d -> %d blocks)", freed, before, after)
	}
	if _, err := get(s, ref); !errors.Is(errors.NotExist, err) {
		t.Errorf("Get after Delete: %v, want NotExist", err)
	}
	mustGet(t, s, small, []byte("neighbour before"))
	mustGet(t, s, small2, []byte("neighbour after"))
}

func blocks(t *testing.T, name string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(name, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks
}

func TestDeleteWithoutPunch(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	s.noPunch.Store(true) // as after EOPNOTSUPP
	a := mustPut(t, s, []byte("a"))
	b := mustPut(t, s, []byte("b"))
	c := mustPut(t, s, []byte("c"))
	for range 2 {
		if err := s.Delete(bg, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := get(s, b); !errors.Is(errors.NotExist, err) {
		t.Errorf("Get after Delete: %v, want NotExist", err)
	}
	mustGet(t, s, a, []byte("a"))
	mustGet(t, s, c, []byte("c"))
}

// TestDeleteForeignRef checks that a well-formed ref that does not name the
// record at its offset deletes nothing.
func TestDeleteForeignRef(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	a, b := randBytes(t, 5000), randBytes(t, 5000)
	refA, refB := mustPut(t, s, a), mustPut(t, s, b)
	la, lb := mustLoc(t, refA), mustLoc(t, refB)

	otherID := la
	otherID.id[0] ^= 1
	intoData := lb
	intoData.off += headerLen + 100
	intoData.n = 8192
	wrongLen := la // a's id, a length reaching into b
	wrongLen.n += 4000
	for _, l := range []loc{otherID, intoData, wrongLen} {
		if err := s.Delete(bg, l.ref()); err != nil {
			t.Errorf("Delete(%s): %v", l.ref(), err)
		}
	}
	mustGet(t, s, refB, b)
	if _, err := get(s, refA); err == nil {
		t.Error("a's record survived a Delete with its id and a damaged length")
	}
	for _, l := range []loc{{seg: 99, off: 0, n: 1}, {seg: 0, off: 1 << 40, n: 1}} {
		if err := s.Delete(bg, l.ref()); err != nil {
			t.Errorf("Delete(%s) of nothing: %v", l.ref(), err)
		}
		if _, err := get(s, l.ref()); !errors.Is(errors.NotExist, err) {
			t.Errorf("Get(%s) of nothing: %v, want NotExist", l.ref(), err)
		}
	}
}

func TestSyncFailure(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	kept := mustPut(t, s, []byte("synced before the failure"))
	failed := mustLoc(t, kept).seg

	s.mu.Lock()
	s.fsync = func(*os.File) error { return syscall.EIO }
	s.mu.Unlock()
	if ref, err := s.Put(bg, []byte("lost")); err == nil {
		t.Fatalf("Put succeeded (ref %s) though its sync failed", ref)
	}
	s.mu.Lock()
	s.fsync = fdatasync
	s.mu.Unlock()

	data := []byte("after the failure")
	ref := mustPut(t, s, data)
	if l := mustLoc(t, ref); l.seg == failed {
		t.Errorf("Put after a failed sync appended to the failed segment %d", failed)
	}
	mustGet(t, s, ref, data)
	mustGet(t, s, kept, []byte("synced before the failure"))
}

func TestLockAndPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s := openT(t, dir, defaultLimit)
	if _, err := Open(dir); !errors.Is(errors.Exist, err) {
		t.Fatalf("second Open of a directory in use: %v, want Exist", err)
	}
	mustPut(t, s, []byte("x"))
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{s.segPath(0), 0o600},
		{filepath.Join(dir, "LOCK"), 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestOpenErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f); err == nil {
		t.Error("Open on a regular file succeeded")
	}
	if _, err := Open(""); !errors.Is(errors.Invalid, err) {
		t.Errorf("Open(\"\"): %v, want Invalid", err)
	}
}

func TestClosedAndCanceled(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	ref := mustPut(t, s, []byte("x"))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.Put(ctx, []byte("x")); err == nil {
		t.Error("Put with a canceled context succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Put(bg, []byte("x")); !errors.Is(errors.Unavailable, err) {
		t.Errorf("Put after Close: %v, want Unavailable", err)
	}
	if _, err := s.Get(bg, ref); !errors.Is(errors.Unavailable, err) {
		t.Errorf("Get after Close: %v, want Unavailable", err)
	}
	if err := s.Delete(bg, ref); !errors.Is(errors.Unavailable, err) {
		t.Errorf("Delete after Close: %v, want Unavailable", err)
	}
}

// TestConcurrentMixed puts, reads and deletes from many goroutines across
// segment rollovers; run it with -race.
func TestConcurrentMixed(t *testing.T) {
	s := openT(t, t.TempDir(), 16<<10)
	const workers, each = 16, 20
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				data := fmt.Appendf(nil, "worker %d blob %d %x", w, i, make([]byte, 100*i))
				ref, err := s.Put(bg, data)
				if err == nil {
					var got []byte
					if got, err = get(s, ref); err == nil && !bytes.Equal(got, data) {
						err = fmt.Errorf("Get(%s) returned other bytes", ref)
					}
				}
				if err == nil && i%2 == 0 {
					if err = s.Delete(bg, ref); err == nil {
						if _, gerr := get(s, ref); !errors.Is(errors.NotExist, gerr) {
							err = fmt.Errorf("Get(%s) after Delete: %v", ref, gerr)
						}
					}
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func BenchmarkPut10KB(b *testing.B) {
	s := openT(b, b.TempDir(), defaultLimit)
	data := make([]byte, 10<<10)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(16) // 16 × GOMAXPROCS (2 here) = 32 concurrent Puts
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Put(bg, data); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}
