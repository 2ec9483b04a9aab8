// Package authguard stands between clients and password checks, so that
// checking passwords cannot be turned against the server or its owners:
//
//   - Queue runs the expensive derivations (Argon2id) a few at a time, in a
//     fair, bounded queue: one line per source address, served round
//     robin, each line short, so a flood from one address waits behind
//     itself and never delays another address's login by more than about
//     one derivation per busy source.
//   - Guard throttles failures, per source address and per account, with
//     growing delays (as fail2ban or Dovecot's auth penalty do); an account
//     under attack stays open to its owner from an address that has logged
//     in to it before.
//
// It knows no protocol and holds no password: callers pass the source
// address, the account name as given, and the check to run.
package authguard

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/netlimit"
)

// QueueOptions bound a Queue.
type QueueOptions struct {
	// Concurrency is how many derivations run at once (each takes the
	// Argon2id memory); at least 1.
	Concurrency int
	// PerSource is how many derivations of one source may wait (0: 8);
	// more are refused with errors.Unavailable.
	PerSource int
	// Total is how many may wait in all (0: 1024).
	Total int
	// Waited, if set, is told how long each run waited for its place
	// (zero when a place was free), before the run (metrics).
	Waited func(time.Duration)
}

// Queue runs functions a few at a time, serving the sources that wait in
// turn. It is safe for concurrent use.
type Queue struct {
	o QueueOptions

	mu      sync.Mutex
	running int
	waiting int
	lines   map[netip.Prefix]*line
	ring    []netip.Prefix // sources with a non-empty line, in serving order
}

// A line is one source's waiting derivations, oldest first.
type line struct{ waiters []chan struct{} }

// NewQueue returns a queue bounded by o.
func NewQueue(o QueueOptions) *Queue {
	o.Concurrency = max(o.Concurrency, 1)
	if o.PerSource <= 0 {
		o.PerSource = 8
	}
	if o.Total <= 0 {
		o.Total = 1024
	}
	return &Queue{o: o, lines: make(map[netip.Prefix]*line)}
}

// Do runs f once a place is free and every source waiting longer than
// source has had its turn. It fails with errors.Unavailable, without
// running f, when source's line or the queue is full or ctx ends first.
func (q *Queue) Do(ctx context.Context, source netip.Addr, f func() error) error {
	const op = "authguard.Queue"
	key := netlimit.Source(source)
	q.mu.Lock()
	if q.running < q.o.Concurrency && q.waiting == 0 {
		q.running++
		q.mu.Unlock()
		defer q.done()
		q.waited(0)
		return f()
	}
	l := q.lines[key]
	switch {
	case l != nil && len(l.waiters) >= q.o.PerSource:
		q.mu.Unlock()
		return errors.E(op, errors.Unavailable, errors.Str("too many logins waiting from this address"))
	case q.waiting >= q.o.Total:
		q.mu.Unlock()
		return errors.E(op, errors.Unavailable, errors.Str("too many logins waiting"))
	}
	if l == nil {
		l = &line{}
		q.lines[key] = l
		q.ring = append(q.ring, key)
	}
	turn := make(chan struct{})
	l.waiters = append(l.waiters, turn)
	q.waiting++
	q.mu.Unlock()

	start := time.Now()
	select {
	case <-turn:
		defer q.done()
		q.waited(time.Since(start))
		return f()
	case <-ctx.Done():
	}
	q.mu.Lock()
	select {
	case <-turn:
		// Our turn came as we gave up: pass it on.
		q.mu.Unlock()
		q.done()
	default:
		q.remove(key, turn)
		q.mu.Unlock()
	}
	return errors.E(op, errors.Unavailable, ctx.Err())
}

func (q *Queue) waited(d time.Duration) {
	if q.o.Waited != nil {
		q.o.Waited(d)
	}
}

// done ends a run: its place goes to the first waiter of the next source
// in the ring, or is freed.
func (q *Queue) done() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ring) == 0 {
		q.running--
		return
	}
	key := q.ring[0]
	l := q.lines[key]
	turn := l.waiters[0]
	l.waiters = l.waiters[1:]
	q.waiting--
	q.ring = q.ring[1:]
	if len(l.waiters) == 0 {
		delete(q.lines, key)
	} else {
		q.ring = append(q.ring, key) // back of the ring: the others go first
	}
	close(turn) // the place passes on; running is unchanged
}

// remove takes turn out of key's line (its waiter gave up).
func (q *Queue) remove(key netip.Prefix, turn chan struct{}) {
	l := q.lines[key]
	if l == nil {
		return
	}
	for i, w := range l.waiters {
		if w == turn {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			q.waiting--
			break
		}
	}
	if len(l.waiters) > 0 {
		return
	}
	delete(q.lines, key)
	for i, k := range q.ring {
		if k == key {
			q.ring = append(q.ring[:i], q.ring[i+1:]...)
			break
		}
	}
}

// Busy reports how many runs are running or waiting.
func (q *Queue) Busy() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running + q.waiting
}

// Waiting reports how many runs wait, for tests and metrics.
func (q *Queue) Waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiting
}
