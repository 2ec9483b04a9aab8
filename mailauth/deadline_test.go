package mailauth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestLazyDeadline: Err, Deadline and Done behave as context.WithTimeout's
// would, with no timer made until something waits.
func TestLazyDeadline(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	l := withLazyTimeout(parent, 50*time.Millisecond)
	if err := l.Err(); err != nil {
		t.Fatalf("fresh: Err %v", err)
	}
	if d, ok := l.Deadline(); !ok || time.Until(d) > 50*time.Millisecond || time.Until(d) < 0 {
		t.Fatalf("Deadline %v %v", d, ok)
	}
	if l.made.Load() != nil {
		t.Fatal("a timer was made before anything waited")
	}
	time.Sleep(60 * time.Millisecond)
	if err := l.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the deadline, unwaited: Err %v", err)
	}
	select {
	case <-l.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed past the deadline")
	}
	l.Stop()

	// Waited on: Done closes at the deadline.
	l = withLazyTimeout(parent, 30*time.Millisecond)
	start := time.Now()
	<-l.Done()
	if e := time.Since(start); e < 25*time.Millisecond || e > time.Second {
		t.Fatalf("Done after %v, want about 30ms", e)
	}
	if !errors.Is(l.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err %v", l.Err())
	}
	l.Stop()

	// The parent's cancellation shows, waited on or not, and the
	// parent's earlier deadline wins.
	l = withLazyTimeout(parent, time.Hour)
	l2 := withLazyTimeout(parent, time.Hour)
	done := l2.Done()
	pd, pcancel := context.WithTimeout(context.Background(), time.Minute)
	defer pcancel()
	if d, _ := withLazyTimeout(pd, time.Hour).Deadline(); time.Until(d) > time.Minute {
		t.Fatalf("Deadline %v ignores the parent's", d)
	}
	cancelParent()
	if !errors.Is(l.Err(), context.Canceled) {
		t.Fatalf("parent canceled, unwaited: Err %v", l.Err())
	}
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("parent canceled, Done not closed")
	}
	l.Stop()
	l2.Stop()

	// Stopped: canceled, and Done is closed even if nothing waited.
	l = withLazyTimeout(context.Background(), time.Hour)
	l.Stop()
	if !errors.Is(l.Err(), context.Canceled) {
		t.Fatalf("stopped: Err %v", l.Err())
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("stopped: Done not closed")
	}
	if l.Value("k") != nil {
		t.Fatal("Value from nowhere")
	}
}

// TestLazyDeadlineConcurrent: Done, Err and Stop from several goroutines
// (run with -race).
func TestLazyDeadlineConcurrent(t *testing.T) {
	for range 100 {
		l := withLazyTimeout(context.Background(), time.Hour)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				_ = l.Done()
				_ = l.Err()
			})
		}
		wg.Go(l.Stop)
		wg.Wait()
		select {
		case <-l.Done():
		case <-time.After(time.Second):
			t.Fatal("Done not closed after Stop")
		}
	}
}

// TestLookupBoundedLazily: a check's step still ends at its deadline when
// the DNS never answers: the resolver waits on the lazy context.
func TestLookupBoundedLazily(t *testing.T) {
	w := newWorld(t, nil)
	w.dns.Silence("_dmarc.silent.example", true)
	ctx := withLazyTimeout(context.Background(), 200*time.Millisecond)
	defer ctx.Stop()
	start := time.Now()
	p := lookupPolicy(ctx, guard{w.c.o.Resolver}, "silent.example", w.c.policies)
	if e := time.Since(start); e > time.Second {
		t.Fatalf("lookup took %v past a 200ms step", e)
	}
	if p.err == nil {
		t.Fatalf("a silent server gave %+v", p)
	}
}
