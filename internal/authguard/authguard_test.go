package authguard

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/netlimit"
	"github.com/sealpost/sealpost/internal/testkit"
)

var (
	attacker = netip.MustParseAddr("192.0.2.66")
	owner    = netip.MustParseAddr("198.51.100.7")
	other    = netip.MustParseAddr("2001:db8:1:2::1")
)

// TestQueueFair: with one place, a source that floods the queue does not
// go before another source that came later: the other is served next.
func TestQueueFair(t *testing.T) {
	q := NewQueue(QueueOptions{Concurrency: 1, PerSource: 8})
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	run := func(who string) func() error {
		return func() error {
			mu.Lock()
			order = append(order, who)
			mu.Unlock()
			<-release
			return nil
		}
	}
	var wg sync.WaitGroup
	start := func(src netip.Addr, who string) {
		wg.Add(1)
		go func() { defer wg.Done(); q.Do(context.Background(), src, run(who)) }()
	}
	start(attacker, "a0")
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 1 })
	for range 5 {
		start(attacker, "a")
	}
	waitFor(t, func() bool { return q.Waiting() == 5 })
	start(owner, "owner")
	waitFor(t, func() bool { return q.Waiting() == 6 })
	close(release)
	wg.Wait()
	// After the running one, one attacker's waiter had its turn before
	// the owner came; the owner is served at the latest third.
	i := 0
	for ; i < len(order) && order[i] != "owner"; i++ {
	}
	if i > 2 {
		t.Errorf("the owner ran %dth of %v", i+1, order)
	}
}

// TestQueueBounds: a source's line and the queue are bounded; past them,
// Unavailable at once, and a waiter whose context ends leaves the line.
func TestQueueBounds(t *testing.T) {
	q := NewQueue(QueueOptions{Concurrency: 1, PerSource: 2, Total: 3})
	block := make(chan struct{})
	defer close(block)
	go q.Do(context.Background(), attacker, func() error { <-block; return nil })
	waitFor(t, func() bool { return q.Waiting() == 0 && running(q) == 1 })
	for range 2 {
		go q.Do(context.Background(), attacker, func() error { return nil })
	}
	waitFor(t, func() bool { return q.Waiting() == 2 })
	err := q.Do(context.Background(), attacker, func() error { t.Error("ran past the line's bound"); return nil })
	testkit.WantKind(t, "check", err, errors.Unavailable)
	go q.Do(context.Background(), owner, func() error { return nil })
	waitFor(t, func() bool { return q.Waiting() == 3 })
	err = q.Do(context.Background(), other, func() error { t.Error("ran past the queue's bound"); return nil })
	testkit.WantKind(t, "check", err, errors.Unavailable)

	ctx, cancel := context.WithCancel(context.Background())
	q2 := NewQueue(QueueOptions{Concurrency: 1})
	go q2.Do(context.Background(), owner, func() error { <-block; return nil })
	waitFor(t, func() bool { return running(q2) == 1 })
	done := make(chan error)
	go func() { done <- q2.Do(ctx, attacker, func() error { return nil }) }()
	waitFor(t, func() bool { return q2.Waiting() == 1 })
	cancel()
	testkit.WantKind(t, "check", <-done, errors.Unavailable)
	if n := q2.Waiting(); n != 0 || len(q2.ring) != 0 || len(q2.lines) != 0 {
		t.Errorf("a waiter that gave up is still counted: waiting %d, ring %v", n, q2.ring)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
	}
}

// Source is netlimit.Source, for the tests' calls of delay.
func Source(a netip.Addr) netip.Prefix { return netlimit.Source(a) }

func running(q *Queue) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running
}

func fail(context.Context) error    { return errors.E("test", errors.Permission) }
func succeed(context.Context) error { return nil }

// TestGuardPenalties: free failures, then doubling delays up to the
// ceiling, per source and per account; the owner's known address is not
// delayed by the account's failures; all forgotten after Forget.
func TestGuardPenalties(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	g := NewGuard(Options{BaseDelay: time.Nanosecond, MaxDelay: 64 * time.Nanosecond, Now: clock.Now})
	ctx := context.Background()
	// The owner logs in once from home.
	if err := g.Check(ctx, Attempt{Source: owner, Account: "alice@example.org"}, succeed); err != nil {
		t.Fatal(err)
	}
	var want []time.Duration
	var got []time.Duration
	// One attempt after the other: each waits its delay, and the clock
	// moves on by it before the next.
	attempt := func(src netip.Addr, acct string) error {
		d := g.Delay(src, acct)
		err := g.Check(ctx, Attempt{Source: src, Account: acct}, fail)
		clock.Add(d)
		return err
	}
	for i := range 8 {
		got = append(got, g.Delay(attacker, "Alice@example.org"))
		want = append(want, []time.Duration{0, 0, 0, 1, 2, 4, 8, 16}[i])
		testkit.WantKind(t, "check", attempt(attacker, "alice@example.org"), errors.Permission)
	}
	if !slices.Equal(got, want) {
		t.Errorf("delays from the attacker %v, want %v", got, want)
	}
	// Another address, never seen: the account's penalty (8 failures, 5
	// free: the 4th delay, 8 ns).
	if d := g.Delay(other, "alice@example.org"); d != 8 {
		t.Errorf("a new address on the attacked account waits %v, want 8ns", d)
	}
	// The same address on another account: the source's penalty only.
	if d := g.Delay(other, "bob@example.org"); d != 0 {
		t.Errorf("a new address on another account waits %v", d)
	}
	// The owner, from home: no delay; their login does not lift the
	// account's penalty for others.
	if d := g.Delay(owner, "alice@example.org"); d != 0 {
		t.Errorf("the owner from a known address waits %v", d)
	}
	g.Check(ctx, Attempt{Source: owner, Account: "alice@example.org"}, succeed)
	if d := g.Delay(other, "alice@example.org"); d != 8 {
		t.Errorf("after the owner's login a new address waits %v, want 8ns", d)
	}
	// An unknown account is counted as a known one is.
	for range 8 {
		attempt(other, "nobody@example.org")
	}
	if d, a := g.Delay(owner, "nobody@example.org"), g.Delay(other, "bob@example.org"); d != 8 || a != 32 {
		t.Errorf("unknown account: %v from a new address (want 8ns); the source: %v (want 32ns)", d, a)
	}
	clock.Add(15 * time.Minute)
	if d := g.Delay(attacker, "alice@example.org"); d != 0 {
		t.Errorf("after Forget the attacker still waits %v", d)
	}
	// An error that is not a wrong password is not a failure.
	for range 10 {
		g.Check(ctx, Attempt{Source: attacker, Account: "alice@example.org"}, func(context.Context) error {
			return errors.E("test", errors.Unavailable)
		})
	}
	if d := g.Delay(attacker, "alice@example.org"); d != 0 {
		t.Errorf("errors other than Permission counted: %v", d)
	}
}

// TestGuardParallel: a penalized source is let through once per penalty
// however many attempts it makes at once: the nth waits n penalties, and
// one that would wait more than maxWaits is refused after one penalty,
// without its check running.
func TestGuardParallel(t *testing.T) {
	g := NewGuard(Options{SourceFree: 1, BaseDelay: 10 * time.Millisecond, MaxDelay: 10 * time.Millisecond})
	ctx := context.Background()
	g.Check(ctx, Attempt{Source: attacker, Account: "a"}, fail)
	var waits []time.Duration
	var refused []bool
	for range maxWaits + 2 {
		d, refuse, _, _ := g.delay(Source(attacker), "b", true)
		waits, refused = append(waits, d.Round(10*time.Millisecond)), append(refused, refuse)
	}
	want := []time.Duration{10, 20, 30, 40, 10, 10}
	for i := range want {
		if waits[i] != want[i]*time.Millisecond || refused[i] != (i >= maxWaits) {
			t.Fatalf("parallel attempts wait %v (refused %v), want %v ms, the last two refused", waits, refused, want)
		}
	}
	err := g.Check(ctx, Attempt{Source: attacker, Account: "b"}, func(context.Context) error {
		t.Error("a refused attempt ran its check")
		return nil
	})
	testkit.WantKind(t, "check", err, errors.Unavailable)
	if d := g.Delay(owner, "b"); d != 0 {
		t.Errorf("another address waits %v", d)
	}
}

// TestGuardWaits: Check waits out the delay, and gives up with
// Unavailable when the context ends first (the check never runs).
func TestGuardWaits(t *testing.T) {
	g := NewGuard(Options{SourceFree: 2, BaseDelay: time.Hour, MaxDelay: time.Hour})
	ctx := context.Background()
	g.Check(ctx, Attempt{Source: attacker, Account: "a"}, fail)
	g.Check(ctx, Attempt{Source: attacker, Account: "a"}, fail)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	err := g.Check(ctx, Attempt{Source: attacker, Account: "b"}, func(context.Context) error {
		t.Error("the check ran before its delay")
		return nil
	})
	testkit.WantKind(t, "check", err, errors.Unavailable)
}

// TestGuardBounded: the tables stay under MaxTracked whatever the flood.
func TestGuardBounded(t *testing.T) {
	g := NewGuard(Options{MaxTracked: 100})
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		g.Check(context.Background(), Attempt{Source: a, Account: string(rune('a'+i%26)) + "x" + a.String()}, fail)
	}
	if len(g.sources) > 100 || len(g.accounts) > 100 {
		t.Errorf("tables grew to %d sources, %d accounts", len(g.sources), len(g.accounts))
	}
}

// TestGuardLogsBoundedNames: a client's account name reaches the log cut
// at 254 bytes, whatever its length.
func TestGuardLogsBoundedNames(t *testing.T) {
	var buf testkit.Buffer
	g := NewGuard(Options{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	long := strings.Repeat("x", 5000)
	g.Check(context.Background(), Attempt{Source: attacker, Account: long}, fail)
	if strings.Contains(buf.String(), long[:255]) || !strings.Contains(buf.String(), long[:254]) {
		t.Errorf("the logged name is not cut at 254 bytes: %d bytes logged", len(buf.String()))
	}
}
