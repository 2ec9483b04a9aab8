package pack

import (
	"bytes"
	"context"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// listRefs returns the refs List reports, failing on duplicates.
func listRefs(t testing.TB, s *Store) map[sealpost.BlobRef]bool {
	t.Helper()
	got := map[sealpost.BlobRef]bool{}
	err := s.List(bg, func(ref sealpost.BlobRef) error {
		if got[ref] {
			t.Errorf("List reported %s twice", ref)
		}
		got[ref] = true
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return got
}

// wantRefs fails unless List reports exactly the refs in want.
func wantRefs(t testing.TB, s *Store, want ...sealpost.BlobRef) {
	t.Helper()
	got := listRefs(t, s)
	for _, ref := range want {
		if !got[ref] {
			t.Errorf("List did not report %s", ref)
		}
		delete(got, ref)
	}
	for ref := range got {
		t.Errorf("List reported %s, which is no stored blob", ref)
	}
}

func TestListAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	const limit = 4096
	s := openT(t, dir, limit)
	var refs []sealpost.BlobRef
	for i := range 30 {
		refs = append(refs, mustPut(t, s, randBytes(t, 700*(i%4))))
	}
	// Larger than the scan window: its CRC is checked in pieces.
	big := randBytes(t, 3*scanWindow+17)
	refs = append(refs, mustPut(t, s, big))
	refs = append(refs, mustPut(t, s, []byte("after the big one")))
	if last := mustLoc(t, refs[len(refs)-1]).seg; last < 5 {
		t.Fatalf("test needs many segments, got %d", last+1)
	}
	wantRefs(t, s, refs...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Another process sees the same, and ignores files that are not
	// segments.
	if err := os.WriteFile(dir+"/seg-1.pack", []byte(magic+"junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefs(t, openT(t, dir, limit), refs...)
}

func TestListDeleted(t *testing.T) {
	for _, punch := range []bool{true, false} {
		t.Run(map[bool]string{true: "punched", false: "zeroed"}[punch], func(t *testing.T) {
			s := openT(t, t.TempDir(), defaultLimit)
			s.noPunch.Store(!punch)
			var refs []sealpost.BlobRef
			for _, n := range []int{10, 0, 3 << 20, 0, 5000, 1, 70000, 2} {
				refs = append(refs, mustPut(t, s, randBytes(t, n)))
			}
			// Adjacent deletions, a large hole, the first and the last.
			del := map[int]bool{0: true, 2: true, 3: true, 6: true, 7: true}
			var keep []sealpost.BlobRef
			for i, ref := range refs {
				if del[i] {
					if err := s.Delete(bg, ref); err != nil {
						t.Fatal(err)
					}
				} else {
					keep = append(keep, ref)
				}
			}
			wantRefs(t, s, keep...)
			// Later Puts append after the deleted tail and are listed.
			keep = append(keep, mustPut(t, s, []byte("later")))
			wantRefs(t, s, keep...)
		})
	}
}

// TestListNested puts a blob whose data is itself a whole record. The scan
// steps over live and deleted records whole, so the inner one is never
// listed; it is seen only once the outer record is damaged and the scan
// resynchronizes through its bytes, as the List doc says.
func TestListNested(t *testing.T) {
	inner, _, err := newRecord([]byte("a record inside a blob"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		damage    func(t *testing.T, s *Store, ref sealpost.BlobRef)
		wantInner bool
	}{
		{"live", func(*testing.T, *Store, sealpost.BlobRef) {}, false},
		{"zeroed", func(t *testing.T, s *Store, ref sealpost.BlobRef) {
			s.noPunch.Store(true)
			if err := s.Delete(bg, ref); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"punched", func(t *testing.T, s *Store, ref sealpost.BlobRef) {
			if err := s.Delete(bg, ref); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"crc damaged", func(t *testing.T, s *Store, ref sealpost.BlobRef) {
			l := mustLoc(t, ref)
			flipByte(t, s.segPath(l.seg), l.off+l.recLen()-1)
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openT(t, t.TempDir(), defaultLimit)
			before := mustPut(t, s, []byte("before"))
			outer := mustPut(t, s, append(append([]byte("xy"), inner...), "z"...))
			after := mustPut(t, s, []byte("after"))
			tt.damage(t, s, outer)
			got := listRefs(t, s)
			if !got[before] || !got[after] {
				t.Errorf("neighbours missing from List: %v", got)
			}
			want := 3
			if tt.name != "live" {
				want = 2
			}
			if tt.wantInner {
				want++
			}
			if len(got) != want {
				t.Errorf("List reported %d refs, want %d (inner record listed: %v)", len(got), want, tt.wantInner)
			}
		})
	}
}

func TestListSkipsDamage(t *testing.T) {
	tests := []struct {
		name string
		at   func(n int) int64 // offset in the record of the byte to flip
	}{
		{"magic", func(int) int64 { return 0 }},
		{"id", func(int) int64 { return 4 + 3 }},
		{"length", func(int) int64 { return 4 + idLen + 3 }},
		{"data", func(n int) int64 { return headerLen + int64(n)/2 }},
		{"crc", func(n int) int64 { return headerLen + int64(n) + 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openT(t, t.TempDir(), defaultLimit)
			before := mustPut(t, s, []byte("before"))
			data := randBytes(t, 4000)
			ref := mustPut(t, s, data)
			after := mustPut(t, s, []byte("after"))
			l := mustLoc(t, ref)
			flipByte(t, s.segPath(l.seg), l.off+tt.at(len(data)))
			wantRefs(t, s, before, after)
		})
	}
}

// TestListTornTail lists a segment that ends in a torn record, as after a
// crash mid-append, and then has more records appended after it.
func TestListTornTail(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, defaultLimit)
	old := mustPut(t, s, randBytes(t, 3000))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	torn, _, err := newRecord(randBytes(t, 5000))
	if err != nil {
		t.Fatal(err)
	}
	appendFile(t, s.segPath(0), torn[:1234])

	s2 := openT(t, dir, defaultLimit)
	wantRefs(t, s2, old)
	newer := mustPut(t, s2, randBytes(t, 777))
	wantRefs(t, s2, old, newer)
}

// TestListResyncAcrossWindow puts garbage before a record so that the
// record's magic straddles the end of the first scan window.
func TestListResyncAcrossWindow(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, defaultLimit)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte("SPK"), scanWindow/3+1)[:scanWindow-1]
	appendFile(t, s.segPath(0), garbage)
	s2 := openT(t, dir, defaultLimit)
	ref := mustPut(t, s2, []byte("found"))
	if l := mustLoc(t, ref); l.off != scanWindow-1 {
		t.Fatalf("record at %d, want %d", l.off, scanWindow-1)
	}
	wantRefs(t, s2, ref)
	mustGet(t, s2, ref, []byte("found"))
}

func appendFile(t *testing.T, name string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestListConcurrent lists while Puts and Deletes run: every blob stored
// before List began and not deleted is reported, and every reported ref
// is one Put returned or was about to return.
func TestListConcurrent(t *testing.T) {
	s := openT(t, t.TempDir(), 64<<10)
	var stable []sealpost.BlobRef
	for range 50 {
		stable = append(stable, mustPut(t, s, randBytes(t, 1500)))
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		more = map[sealpost.BlobRef]bool{}
		stop = make(chan struct{})
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ref, err := s.Put(bg, randBytes(t, 3000))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				more[ref] = true
				mu.Unlock()
				if err := s.Delete(bg, ref); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 5 {
		got := listRefs(t, s)
		for _, ref := range stable {
			if !got[ref] {
				t.Fatalf("List during Puts missed %s", ref)
			}
		}
		mu.Lock()
		for ref := range got {
			if !more[ref] && !slices.Contains(stable, ref) {
				// Its Put may not have returned yet; it must still be
				// a record Get can read unless deleted meanwhile.
				if _, err := get(s, ref); err != nil && !errors.Is(errors.NotExist, err) {
					t.Errorf("listed ref %s: Get: %v", ref, err)
				}
			}
		}
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	wantRefs(t, s, stable...)
}

func TestListClosedAndCanceled(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	mustPut(t, s, []byte("x"))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := s.List(ctx, func(sealpost.BlobRef) error { return nil }); !errors.Is(errors.Unavailable, err) {
		t.Errorf("List with a canceled context: %v, want Unavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.List(bg, func(sealpost.BlobRef) error { return nil }); !errors.Is(errors.Unavailable, err) {
		t.Errorf("List after Close: %v, want Unavailable", err)
	}
}

func BenchmarkList(b *testing.B) {
	s := openT(b, b.TempDir(), defaultLimit)
	data := make([]byte, 10<<10)
	for range 2000 {
		mustPut(b, s, data)
	}
	b.SetBytes(2000 * int64(len(data)+overhead))
	for b.Loop() {
		n := 0
		if err := s.List(bg, func(sealpost.BlobRef) error { n++; return nil }); err != nil || n != 2000 {
			b.Fatalf("List: %d refs, %v", n, err)
		}
	}
}
