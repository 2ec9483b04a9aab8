package transparency

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
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
// Source: event n is the journal's n'th line. It rereads the file only when
// it has changed (size or modification time), since the ledger asks every
// few seconds and the journal rarely grows.
type JournalSource struct {
	path string

	mu    sync.Mutex
	size  int64
	mtime time.Time
	evs   []SourceEvent
}

// NewJournalSource returns the journal at path as a Source.
func NewJournalSource(path string) *JournalSource { return &JournalSource{path: path} }

// Events implements Source.
func (j *JournalSource) Events(ctx context.Context, after int64, limit int) ([]SourceEvent, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fi, err := os.Stat(j.path)
	switch {
	case os.IsNotExist(err):
		j.size, j.mtime, j.evs = 0, time.Time{}, nil
	case err != nil:
		return nil, errors.E("transparency.JournalSource", errors.Internal, err)
	case fi.Size() != j.size || !fi.ModTime().Equal(j.mtime):
		all, err := journal.Events(j.path)
		if err != nil {
			return nil, err
		}
		evs := make([]SourceEvent, len(all))
		for i, e := range all {
			evs[i] = SourceEvent{Seq: int64(i + 1), Event: e}
		}
		j.size, j.mtime, j.evs = fi.Size(), fi.ModTime(), evs
	}
	return window(j.evs, after, limit), nil
}
