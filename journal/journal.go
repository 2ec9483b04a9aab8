// Package journal is the operator's append-only record of events
// (sealpost.Event): mailbox moves between regions and, later, every access
// by anyone other than an account's owner and every step of a lawful
// demand. Each event is one JSON line, appended and fsynced before Record
// returns. It is the hook the transparency log takes over: that log will
// read the same events and make them verifiable by anyone.
package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Journal appends events to a file.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

var _ sealpost.Recorder = (*Journal)(nil)

// Open opens (creating, mode 0600) the journal file at path. A torn last
// line, left by a crash in the middle of an append (of an event whose
// Record therefore never returned), is cut off first, so that what is
// appended next starts on a line of its own.
func Open(path string) (*Journal, error) {
	if err := cutTornTail(path); err != nil {
		return nil, errors.E("journal.Open", errors.Internal, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, errors.E("journal.Open", errors.Internal, err)
	}
	return &Journal{f: f, path: path}, nil
}

type line struct {
	Time    string             `json:"time"`
	Kind    sealpost.EventKind `json:"kind"`
	Account string             `json:"account,omitempty"`
	Actor   string             `json:"actor,omitempty"`
	Detail  map[string]string  `json:"detail,omitempty"`
}

// Record appends e durably.
func (j *Journal) Record(ctx context.Context, e sealpost.Event) error {
	const op = "journal.Record"
	b, err := json.Marshal(line{Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"), Kind: e.Kind, Account: e.Account, Actor: e.Actor, Detail: e.Detail})
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	if err := j.f.Sync(); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	return nil
}

// Events reads every event in the journal at path, oldest first.
func Events(path string) ([]sealpost.Event, error) {
	const op = "journal.Events"
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	var out []sealpost.Event
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var l line
		if err := dec.Decode(&l); err != nil {
			// A torn last line (a crash mid-append) ends the journal.
			break
		}
		e := sealpost.Event{Kind: l.Kind, Account: l.Account, Actor: l.Actor, Detail: l.Detail}
		e.Time, _ = time.Parse(time.RFC3339Nano, l.Time)
		out = append(out, e)
	}
	return out, nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// cutTornTail truncates path after its last newline.
func cutTornTail(path string) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) || (err == nil && (len(data) == 0 || data[len(data)-1] == '\n')) {
		return nil
	}
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(int64(bytes.LastIndexByte(data, '\n') + 1)); err != nil {
		return err
	}
	return f.Sync()
}
