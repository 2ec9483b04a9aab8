package imapserver

// Sealpost patch 51: IDLE without a goroutine waiting for updates.
//
// Upstream's IDLE runs Session.Idle in a goroutine of its own beside the
// connection's, which reads DONE: two goroutines (two stacks) for every
// idling client, most of whom wait hours for a message. A session that
// implements SessionIdleStart is instead told where to write and gives a
// function that ends it; its updates are written by a goroutine started
// when one is queued and gone once the queue is empty
// (SessionTracker.StartIdle), so an idling connection keeps only its own
// goroutine, blocked reading DONE.

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

var errIdleTwice = errors.New("imapserver: only a single SessionTracker.Idle call is allowed at a time")

// SessionIdleStart is a Session that can idle without a goroutine waiting
// for updates. When a session implements it, IDLE calls StartIdle instead
// of Idle.
type SessionIdleStart interface {
	Session

	// StartIdle begins IDLE (RFC 2177): until stop is called, the session
	// writes updates to w as they happen, from goroutines of its own, one
	// write at a time. stop returns once no write is in progress and none
	// will start, with the error of a write that failed, if any (after
	// which no more are written). An error from StartIdle itself ends IDLE
	// before it starts, with stop not called.
	StartIdle(w *UpdateWriter) (stop func() error, err error)
}

// idleNotify is a SessionTracker's StartIdle in progress. Its fields are
// guarded by the tracker's mutex.
type idleNotify struct {
	w       *UpdateWriter
	writing bool  // a goroutine is writing updates
	stopped bool  // stop was called
	err     error // the first failed write
	wg      sync.WaitGroup
}

// StartIdle writes mailbox updates as they are queued, until stop is called;
// updates already queued are written at once. Each batch is written by a
// goroutine started for it, so none waits while the mailbox is quiet. stop
// waits for a batch being written; what is queued after it stays for the
// next Poll. See SessionIdleStart.
//
// StartIdle and Idle cannot be in progress at the same time.
func (t *SessionTracker) StartIdle(w *UpdateWriter) (stop func() error, err error) {
	in := &idleNotify{w: w}
	t.mutex.Lock()
	if t.updates != nil || t.idle != nil {
		t.mutex.Unlock()
		return nil, errIdleTwice
	}
	t.idle = in
	t.startWriterLocked()
	t.mutex.Unlock()

	stop = func() error {
		t.mutex.Lock()
		in.stopped = true
		if t.idle == in {
			t.idle = nil
		}
		t.mutex.Unlock()
		in.wg.Wait()
		return in.err // written before wg.Done
	}
	return stop, nil
}

// startWriterLocked starts a goroutine writing the queued updates, unless
// one is running, the queue is empty, or IDLE has stopped or failed.
// Called with t.mutex held.
func (t *SessionTracker) startWriterLocked() {
	in := t.idle
	if in == nil || in.writing || in.stopped || in.err != nil || len(t.queue) == 0 {
		return
	}
	in.writing = true
	in.wg.Add(1)
	go t.writeIdle(in)
}

// writeIdle writes queued updates until the queue is empty or IDLE stops.
func (t *SessionTracker) writeIdle(in *idleNotify) {
	defer in.wg.Done()
	defer func() {
		if v := recover(); v != nil { // as upstream's IDLE goroutine does
			in.w.conn.server.logger().Printf("panic idling: %v\n%s", v, debug.Stack())
			t.mutex.Lock()
			in.err = fmt.Errorf("imapserver: panic idling")
			in.writing = false
			t.mutex.Unlock()
		}
	}()
	for {
		err := t.Poll(in.w, true)
		t.mutex.Lock()
		if err != nil {
			in.err = err
		}
		if err != nil || in.stopped || len(t.queue) == 0 {
			in.writing = false
			t.mutex.Unlock()
			return
		}
		t.mutex.Unlock()
	}
}
