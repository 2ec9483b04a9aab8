package pack

import (
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// countSyncs makes s count its fdatasyncs.
func countSyncs(s *Store) *atomic.Int64 {
	var n atomic.Int64
	s.mu.Lock()
	s.fsync = func(f *os.File) error {
		n.Add(1)
		return fdatasync(f)
	}
	s.mu.Unlock()
	return &n
}

// busy makes s's syncer take the store for busy. Call before any Put:
// the syncer reads company after a kick that comes later.
func busy(s *Store, delay time.Duration) {
	s.company = 2 * busyCompany
	s.syncDelay = delay
}

type putResult struct {
	ref sealpost.BlobRef
	err error
}

func goPut(s *Store, data []byte) chan putResult {
	c := make(chan putResult, 1)
	go func() {
		ref, err := s.Put(bg, data)
		c <- putResult{ref, err}
	}()
	return c
}

// waitPut waits for a Put started by goPut, failing after a long time
// rather than hanging the test.
func waitPut(t *testing.T, c chan putResult) sealpost.BlobRef {
	t.Helper()
	select {
	case r := <-c:
		if r.err != nil {
			t.Fatalf("Put: %v", r.err)
		}
		return r.ref
	case <-time.After(30 * time.Second):
		t.Fatal("Put still waiting after 30 s")
		return ""
	}
}

// A busy store's round waits for the writer still open, and one
// fdatasync then covers both records.
func TestGatherWaitsForOpenWriter(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	busy(s, time.Hour)
	syncs := countSyncs(s)
	w, err := s.Create(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("still being written")); err != nil {
		t.Fatal(err)
	}
	put := goPut(s, []byte("appended while a writer is open"))
	select {
	case r := <-put:
		t.Fatalf("Put returned (%v, %v) while the round should wait for the open writer", r.ref, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	ref, err := w.Commit(bg)
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, waitPut(t, put), []byte("appended while a writer is open"))
	mustGet(t, s, ref, []byte("still being written"))
	if n := syncs.Load(); n != 1 {
		t.Errorf("%d fdatasyncs for two records gathered in one round, want 1", n)
	}
}

// The wait is bounded: a writer that stays open delays a round by the
// store's delay, no more.
func TestGatherBounded(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	busy(s, 20*time.Millisecond)
	w, err := s.Create(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	mustGet(t, s, waitPut(t, goPut(s, []byte("not held by the open writer"))), []byte("not held by the open writer"))
}

// An aborted writer no longer holds rounds back.
func TestGatherAbort(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	busy(s, time.Hour)
	w, err := s.Create(bg)
	if err != nil {
		t.Fatal(err)
	}
	put := goPut(s, []byte("waits for the writer"))
	time.Sleep(20 * time.Millisecond)
	w.Abort()
	w.Abort() // twice: counted out once
	waitPut(t, put)
	if n := s.open.Load(); n != 0 {
		t.Errorf("%d writers open after Abort, want 0", n)
	}
}

// A store that is not busy never waits: writers that come one at a time
// (or a slow one open beside them) get no added latency.
func TestGatherNotBusy(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	s.syncDelay = time.Hour // company is 0: not busy
	w, err := s.Create(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i := 0; i < 3; i++ {
		waitPut(t, goPut(s, []byte("one at a time")))
	}
}

// Records per round make the store busy, and rounds that find nothing
// new leave it as it was.
func TestCompany(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	s.syncDelay = 0 // measure rounds as they come
	for i := 0; i < 8; i++ {
		s.mu.Lock()
		s.records = 4
		s.mu.Unlock()
		s.syncRound() // as the syncer would; its own rounds only add to the count
	}
	if s.company < busyCompany {
		t.Fatalf("company %.2f after rounds of four records, want at least %.1f", s.company, busyCompany)
	}
	c := s.company
	s.syncRound()
	if s.company != c {
		t.Errorf("an empty round changed company from %.2f to %.2f", c, s.company)
	}
	for i := 0; i < 12; i++ {
		s.mu.Lock()
		s.records = 1
		s.mu.Unlock()
		s.syncRound()
	}
	if s.company >= busyCompany {
		t.Errorf("company %.2f after rounds of one record, want under %.1f", s.company, busyCompany)
	}
}
