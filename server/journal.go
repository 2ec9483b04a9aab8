package server

import (
	"context"
	"path/filepath"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/journal"
)

// JournalPath is the deployment's event journal (journal package).
func (s *Server) JournalPath() string { return filepath.Join(s.cfg.DataDir, "events.jsonl") }

// Record appends an administrative event (a reset, a deletion) to the
// event journal, durably. Time is set if zero.
func (s *Server) Record(ctx context.Context, e sealpost.Event) error {
	j, err := journal.Open(s.JournalPath())
	if err != nil {
		return err
	}
	defer j.Close()
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	return j.Record(ctx, e)
}
