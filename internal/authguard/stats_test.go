package authguard

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// Stats counts failed checks and the delays they earn; a success or an
// error of another kind is not a failure.
func TestGuardStats(t *testing.T) {
	g := NewGuard(Options{SourceFree: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	wrong := func(context.Context) error { return errors.E("check", errors.Permission) }
	ctx := context.Background()
	g.Check(ctx, Attempt{Service: "imap", Source: attacker, Account: "x"}, wrong) // free
	g.Check(ctx, Attempt{Service: "imap", Source: attacker, Account: "x"}, wrong) // delayed
	g.Check(ctx, Attempt{Service: "imap", Source: owner, Account: "y"}, func(context.Context) error { return nil })
	g.Check(ctx, Attempt{Service: "imap", Source: owner, Account: "y"}, func(context.Context) error {
		return errors.E("check", errors.Unavailable)
	})
	if st := g.Stats(); st != (Stats{Failures: 2, Delayed: 1}) {
		t.Fatalf("Stats %+v, want 2 failures, 1 delayed", st)
	}
}

// Waited hears each run's wait for its place: zero when one was free,
// the time in line otherwise.
func TestQueueWaited(t *testing.T) {
	var mu sync.Mutex
	var waits []time.Duration
	q := NewQueue(QueueOptions{Concurrency: 1, Waited: func(d time.Duration) {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
	}})
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		q.Do(context.Background(), attacker, func() error { <-release; return nil })
		close(done)
	}()
	waitFor(t, func() bool { return q.Busy() == 1 })
	second := make(chan struct{})
	go func() {
		q.Do(context.Background(), owner, func() error { return nil })
		close(second)
	}()
	waitFor(t, func() bool { return q.Waiting() == 1 })
	time.Sleep(20 * time.Millisecond)
	close(release)
	<-done
	<-second
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 2 || waits[0] != 0 || waits[1] < 20*time.Millisecond {
		t.Fatalf("waits %v, want [0 ≥20ms]", waits)
	}
}
