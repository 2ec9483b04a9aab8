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

// closeT closes s, failing the test on an error.
func closeT(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A busy store's next round waits for the delay after the last round
// began, and covers every record appended meanwhile: here two Puts, made
// durable by one fdatasync (the one Close's last round makes, the delay
// being an hour).
func TestGatherWaitsWhenBusy(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	busy(s, time.Hour)
	syncs := countSyncs(s)
	mustPut(t, s, []byte("first: a round at once")) // no round before it
	if n := syncs.Load(); n != 1 {
		t.Fatalf("%d fdatasyncs after the first Put, want 1", n)
	}
	a, b := goPut(s, []byte("second")), goPut(s, []byte("third"))
	select {
	case r := <-a:
		t.Fatalf("Put returned (%v, %v) before the delay since the last round", r.ref, r.err)
	case r := <-b:
		t.Fatalf("Put returned (%v, %v) before the delay since the last round", r.ref, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	s.mu.Lock()
	pending := s.records
	s.mu.Unlock()
	if pending != 2 {
		t.Fatalf("%d records appended and waiting, want 2", pending)
	}
	closeT(t, s) // ends the wait; the last round syncs both
	waitPut(t, a)
	waitPut(t, b)
	if n := syncs.Load(); n != 2 {
		t.Errorf("%d fdatasyncs for three Puts, the last two in one round, want 2", n)
	}
}

// The wait is bounded by the delay.
func TestGatherBounded(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	busy(s, 20*time.Millisecond)
	for i := 0; i < 3; i++ {
		data := []byte{byte(i)}
		mustGet(t, s, waitPut(t, goPut(s, data)), data)
	}
}

// A store that is not busy never waits: writers that come one at a time
// get no added latency.
func TestGatherNotBusy(t *testing.T) {
	s := openT(t, t.TempDir(), defaultLimit)
	s.syncDelay = time.Hour // company is 0: not busy
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
