package journal

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Source is the journal at a path as a sealpost.EventSource: event n is the
// journal's n'th line. It rereads the file only when it has changed (size
// or modification time), since the transparency ledger asks every few
// seconds and the journal rarely grows.
type Source struct {
	path string

	mu    sync.Mutex
	size  int64
	mtime time.Time
	evs   []sealpost.SequencedEvent
}

var _ sealpost.EventSource = (*Source)(nil)

// NewSource returns the journal at path as an event source.
func NewSource(path string) *Source { return &Source{path: path} }

// Events implements sealpost.EventSource.
func (s *Source) Events(ctx context.Context, after int64, limit int) ([]sealpost.SequencedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	switch {
	case os.IsNotExist(err):
		s.size, s.mtime, s.evs = 0, time.Time{}, nil
	case err != nil:
		return nil, errors.E("journal.Source", errors.Internal, err)
	case fi.Size() != s.size || !fi.ModTime().Equal(s.mtime):
		all, err := Events(s.path)
		if err != nil {
			return nil, err
		}
		evs := make([]sealpost.SequencedEvent, len(all))
		for i, e := range all {
			evs[i] = sealpost.SequencedEvent{Seq: int64(i + 1), Event: e}
		}
		s.size, s.mtime, s.evs = fi.Size(), fi.ModTime(), evs
	}
	return window(s.evs, after, limit), nil
}

// Memory is a journal held in memory, numbered from 1: a Recorder and an
// event source in one, for tests and for events made in the process.
type Memory struct {
	mu  sync.Mutex
	evs []sealpost.SequencedEvent
}

var (
	_ sealpost.EventSource = (*Memory)(nil)
	_ sealpost.Recorder    = (*Memory)(nil)
)

// Add appends an event and returns its number.
func (m *Memory) Add(e sealpost.Event) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	seq := int64(len(m.evs) + 1)
	m.evs = append(m.evs, sealpost.SequencedEvent{Seq: seq, Event: e})
	return seq
}

// Record implements sealpost.Recorder.
func (m *Memory) Record(ctx context.Context, e sealpost.Event) error {
	m.Add(e)
	return nil
}

// Events implements sealpost.EventSource.
func (m *Memory) Events(ctx context.Context, after int64, limit int) ([]sealpost.SequencedEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return window(m.evs, after, limit), nil
}

// window returns a copy of the events numbered above after (events are
// numbered from 1 by position), at most limit of them if limit > 0.
func window(evs []sealpost.SequencedEvent, after int64, limit int) []sealpost.SequencedEvent {
	if after < 0 {
		after = 0
	}
	if after >= int64(len(evs)) {
		return nil
	}
	out := evs[after:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return append([]sealpost.SequencedEvent(nil), out...)
}
