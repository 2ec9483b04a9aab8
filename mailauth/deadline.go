package mailauth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// lazyDeadline is a context with a deadline whose timer is made only when
// something waits on it (Done). A check's steps are each bounded in time,
// but most of their lookups are answered from the resolver's cache and
// never wait, and a timer per step, several per message, cost more than
// the step: arming one that is sooner than the sleeping network poller's
// next wake-up makes the runtime interrupt it (a system call and a thread
// switch). Deadline, Err and Value are exact whether or not the timer was
// made. Stop must be called when the step is over.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time
	once     sync.Once
	made     atomic.Pointer[madeDeadline]
	stopped  atomic.Bool
}

// stoppedDone is the Done of a lazyDeadline stopped before anything
// waited on it: closed, as a canceled context's is. It is never written.
var stoppedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// madeDeadline is the real context, once something waits.
type madeDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

var _ context.Context = (*lazyDeadline)(nil)

// withLazyTimeout is context.WithTimeout(parent, d) made lazily.
func withLazyTimeout(parent context.Context, d time.Duration) *lazyDeadline {
	return &lazyDeadline{parent: parent, deadline: time.Now().Add(d)}
}

func (l *lazyDeadline) Deadline() (time.Time, bool) {
	if d, ok := l.parent.Deadline(); ok && d.Before(l.deadline) {
		return d, true
	}
	return l.deadline, true
}

func (l *lazyDeadline) Done() <-chan struct{} {
	l.once.Do(func() {
		ctx, cancel := context.WithDeadline(l.parent, l.deadline)
		l.made.Store(&madeDeadline{ctx, cancel})
	})
	if m := l.made.Load(); m != nil {
		return m.ctx.Done()
	}
	return stoppedDone
}

func (l *lazyDeadline) Err() error {
	if m := l.made.Load(); m != nil {
		return m.ctx.Err()
	}
	if l.stopped.Load() {
		return context.Canceled
	}
	if err := l.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(l.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (l *lazyDeadline) Value(key any) any { return l.parent.Value(key) }

// Stop releases the timer, if one was made.
func (l *lazyDeadline) Stop() {
	// Once more, so that a Done racing with Stop cannot make a timer
	// after it.
	l.once.Do(func() {})
	l.stopped.Store(true)
	if m := l.made.Load(); m != nil {
		m.cancel()
	}
}
