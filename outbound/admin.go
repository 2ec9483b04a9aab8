package outbound

import (
	"context"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Action is what an operator does to a queued message (Postfix's postqueue
// and postsuper).
type Action int

// The actions.
const (
	Retry   Action = iota // try now (postqueue -i)
	Hold                  // keep it, untried, until released (postsuper -h)
	Release               // undo Hold and try now (postsuper -H)
	Delete                // drop it, with no notice to anyone (postsuper -d)
)

// ParseAction reads an action's name.
func ParseAction(s string) (Action, error) {
	switch s {
	case "retry":
		return Retry, nil
	case "hold":
		return Hold, nil
	case "release":
		return Release, nil
	case "delete":
		return Delete, nil
	}
	return 0, errors.E("outbound.ParseAction", errors.Invalid, errors.Errorf("unknown action %q", s))
}

func (a Action) String() string {
	return [...]string{"retry", "hold", "release", "delete"}[a]
}

// Apply does act to entry id of a queue directly, for a queue that no
// Service is delivering (the server is stopped); a running server's queue
// is changed through its Service's Act. NotExist for an unknown entry.
func Apply(ctx context.Context, q sealpost.QueueStore, blobs sealpost.BlobStore, id int64, act Action, now time.Time) error {
	const op = "outbound.Apply"
	all, err := q.Queue(ctx)
	if err != nil {
		return errors.E(op, err)
	}
	var m *sealpost.QueuedMessage
	for i := range all {
		if all[i].ID == id {
			m = &all[i]
		}
	}
	if m == nil {
		return errors.E(op, errors.NotExist, errors.Errorf("no queued message %d", id))
	}
	switch act {
	case Delete:
		refs, err := q.Dequeue(ctx, id)
		if err != nil {
			return errors.E(op, err)
		}
		for _, r := range refs {
			if err := blobs.Delete(ctx, r); err != nil {
				return errors.E(op, err)
			}
		}
		return nil
	case Hold:
		m.Held = true
	case Release:
		m.Held, m.NextTry = false, now
	case Retry:
		m.NextTry = now
	}
	if err := q.UpdateQueued(ctx, *m); err != nil {
		return errors.E(op, err)
	}
	return nil
}

// Act does act to entry id. An entry being delivered right now is changed
// once its attempt is recorded (later is then true; a delivered entry is
// then gone and the action with it). NotExist for an unknown entry.
func (s *Service) Act(ctx context.Context, id int64, act Action) (later bool, err error) {
	s.mu.Lock()
	if s.inflight[id] {
		s.hold[id] = func() {
			ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
			defer cancel()
			if err := Apply(ctx, s.o.Queue, s.o.Blobs, id, act, s.o.Now()); err != nil && !errors.Is(errors.NotExist, err) {
				s.log.Warn("queue action after delivery", "id", id, "action", act, "err", err)
			}
			s.Wake()
		}
		s.mu.Unlock()
		return true, nil
	}
	s.inflight[id] = true // the scheduler leaves it alone meanwhile
	s.forget(id)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, id)
		s.mu.Unlock()
		s.Wake()
	}()
	return false, Apply(ctx, s.o.Queue, s.o.Blobs, id, act, s.o.Now())
}
