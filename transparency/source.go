package transparency

import (
	"context"
	"sync"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/journal"
)

// SliceSource is a Source held in memory, numbered from 1: for tests and for
// events made in the process.
type SliceSource struct {
	mu  sync.Mutex
	evs []SourceEvent
}

// Add appends an event and returns its number.
func (s *SliceSource) Add(e sealpost.Event) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := int64(len(s.evs) + 1)
	s.evs = append(s.evs, SourceEvent{Seq: seq, Event: e})
	return seq
}

// Events implements Source.
func (s *SliceSource) Events(ctx context.Context, after int64, limit int) ([]SourceEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return window(s.evs, after, limit), nil
}

func window(evs []SourceEvent, after int64, limit int) []SourceEvent {
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
	return append([]SourceEvent(nil), out...)
}

// JournalSource is the operator's event journal (package journal) as a
// Source: event n is the journal's n'th line.
type JournalSource struct{ Path string }

// Events implements Source.
func (j JournalSource) Events(ctx context.Context, after int64, limit int) ([]SourceEvent, error) {
	all, err := journal.Events(j.Path)
	if err != nil {
		return nil, err
	}
	evs := make([]SourceEvent, len(all))
	for i, e := range all {
		evs[i] = SourceEvent{Seq: int64(i + 1), Event: e}
	}
	return window(evs, after, limit), nil
}
