package sqlite

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// groupT runs a no-op call through the group commit and sends, when it
// returns, the transaction it ran in.
func groupT(t *testing.T, s *Store) chan *sql.Tx {
	c := make(chan *sql.Tx, 1)
	go func() {
		var in *sql.Tx
		err := s.group(context.Background(), "test", func(_ context.Context, tx *sql.Tx) error {
			in = tx
			return nil
		})
		if err != nil {
			t.Errorf("group: %v", err)
		}
		c <- in
	}()
	return c
}

func waitTx(t *testing.T, c chan *sql.Tx) *sql.Tx {
	t.Helper()
	select {
	case tx := <-c:
		return tx
	case <-time.After(30 * time.Second):
		t.Fatal("call still waiting for its commit after 30 s")
		return nil
	}
}

// A busy store's committer waits for a call that comes soon after the
// first, and commits both in one transaction.
func TestGroupWaitsWhenBusy(t *testing.T) {
	s, _ := open(t)
	// Before any call: the committer reads these after the first job.
	s.company, s.commitGap, s.commitWait = 2*busyCompany, time.Second, time.Hour
	first := groupT(t, s)
	select {
	case <-first:
		t.Fatal("the first call was committed without waiting for company")
	case <-time.After(100 * time.Millisecond):
	}
	second := groupT(t, s)
	if a, b := waitTx(t, first), waitTx(t, second); a != b {
		t.Errorf("two calls 100 ms apart, within the gap, committed in two transactions")
	}
}

// The wait is bounded by commitWait however calls keep coming.
func TestGroupWaitBounded(t *testing.T) {
	s, _ := open(t)
	s.company, s.commitGap, s.commitWait = 2*busyCompany, time.Hour, 50*time.Millisecond
	waitTx(t, groupT(t, s))
}

// A store whose calls come one at a time never waits.
func TestGroupNotBusy(t *testing.T) {
	s, _ := open(t)
	s.commitGap, s.commitWait = time.Hour, time.Hour // company 0: not busy
	for i := 0; i < 3; i++ {
		waitTx(t, groupT(t, s))
	}
	if s.company >= busyCompany {
		t.Errorf("company %.2f after calls one at a time, want under %.1f", s.company, busyCompany)
	}
}
