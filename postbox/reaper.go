package postbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
)

// DefaultExpungeGrace is how long an expunged message's sealed blob outlives
// the expunge (Options.ExpungeGrace).
const DefaultExpungeGrace = 2 * time.Minute

// maxReaping bounds the blobs waiting out their grace; past it the oldest
// go at once.
const maxReaping = 100_000

// A reaper deletes the blobs of expunged messages once their grace has
// passed. Until then a session that has not yet learned of the expunge can
// still read the message: RFC 2180 4.1 lets a server either answer such a
// FETCH with the data or refuse it (NO [EXPUNGEISSUED]); clients cope best
// with the data, which is what Dovecot gives while the file is open. The
// store's rows go at once (the message is gone from every listing, count and
// search); only the sealed bytes wait. After the grace the refusal remains.
//
// A crash inside the grace leaves those blobs unreferenced: `sealpost
// residency audit` lists them as orphans. Close deletes every pending blob.
type reaper struct {
	grace time.Duration
	now   func() time.Time
	del   func(context.Context, []sealpost.BlobRef)
	log   *slog.Logger

	mu      sync.Mutex
	pending []reaping // by due time
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	closed  bool
}

type reaping struct {
	ref sealpost.BlobRef
	due time.Time
}

func newReaper(grace time.Duration, now func() time.Time, del func(context.Context, []sealpost.BlobRef), log *slog.Logger) *reaper {
	r := &reaper{grace: grace, now: now, del: del, log: log,
		wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go r.run()
	return r
}

// later deletes refs once the grace has passed (at once when it is 0 or the
// reaper is closed).
func (r *reaper) later(ctx context.Context, refs []sealpost.BlobRef) {
	if len(refs) == 0 {
		return
	}
	r.mu.Lock()
	if r.grace <= 0 || r.closed {
		r.mu.Unlock()
		r.del(ctx, refs)
		return
	}
	due := r.now().Add(r.grace)
	for _, ref := range refs {
		r.pending = append(r.pending, reaping{ref, due})
	}
	var over []sealpost.BlobRef
	if n := len(r.pending) - maxReaping; n > 0 {
		for _, p := range r.pending[:n] {
			over = append(over, p.ref)
		}
		r.pending = append(r.pending[:0:0], r.pending[n:]...)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	if len(over) > 0 {
		r.del(ctx, over)
	}
}

// run deletes what is due, sleeping until the next due time.
func (r *reaper) run() {
	defer close(r.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.mu.Lock()
		now := r.now()
		i := 0
		for i < len(r.pending) && !r.pending[i].due.After(now) {
			i++
		}
		due := make([]sealpost.BlobRef, i)
		for k := range i {
			due[k] = r.pending[k].ref
		}
		r.pending = r.pending[i:]
		wait := time.Hour
		if len(r.pending) > 0 {
			wait = max(r.pending[0].due.Sub(now), time.Millisecond)
		}
		r.mu.Unlock()
		if len(due) > 0 {
			r.del(context.Background(), due)
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-r.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-r.done:
			return
		}
	}
}

// close stops the reaper and deletes every pending blob now.
func (r *reaper) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.done)
	r.mu.Unlock()
	<-r.stopped
	r.mu.Lock()
	refs := make([]sealpost.BlobRef, len(r.pending))
	for i, p := range r.pending {
		refs[i] = p.ref
	}
	r.pending = nil
	r.mu.Unlock()
	if len(refs) > 0 {
		r.log.Info("deleting expunged blobs at close", "blobs", len(refs))
		r.del(context.Background(), refs)
	}
}
