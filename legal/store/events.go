package store

import (
	"context"
	"encoding/json"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// The store's outbox is its events, each a sealpost.Event with its
// sequence number. Sequence numbers grow in commit order, so an event
// never appears behind one already read.
//
// The kinds (sealpost.EventKind, stored as these strings), each written in
// the transaction of its change:
//
//	demand.filed       File; Actor the filer
//	demand.decided     File, one per decision; Account the target, Actor "policy"
//	demand.transition  AddTransition; Actor the officer; detail from, to
//	demand.approval    AddApproval; Actor the officer; detail approvals (count)
//	demand.disclosure  AddDisclosure; Actor the officers; detail manifest_sha256
//	hold.placed        PlaceHold; Account the address
//	hold.released      ReleaseHold; Account the address
//	notice.queued      AddNotice; Account the address; detail notice, due
//	notice.sent        MarkNoticeSent; Account the address; detail notice
//	officer.added      AddOfficer; Actor "admin"; detail officer
//
// Every demand event's Detail holds demand (its ID), authority, country,
// instrument, received, and where present requesting_country, categories
// and nondisclosure_until: a consumer publishing entries can withhold
// what a nondisclosure order covers. Detail never holds a password, a
// document, a notice's text, a review note or anything of the mail.
var _ sealpost.EventSource = (*Store)(nil)

// Events returns up to limit events with a sequence number above after,
// in order (all of them if limit ≤ 0): the outbox as the transparency
// ledger reads it.
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]sealpost.SequencedEvent, error) {
	const op = "store.Events"
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT seq, at, kind, account, actor, detail FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []sealpost.SequencedEvent
	for rows.Next() {
		var e sealpost.SequencedEvent
		var at int64
		var detail string
		if err := rows.Scan(&e.Seq, &at, &e.Kind, &e.Account, &e.Actor, &detail); err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
		e.Time = fromNanos(at)
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, errors.E(op, errors.Internal, errors.Errorf("event %d: %w", e.Seq, err))
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return out, nil
}

// forwardBatch is how many events Forward reads at a time.
const forwardBatch = 256

// Forward sends every event with a sequence number above after to r, in
// order, one Record at a time, and returns the sequence number of the last
// event r accepted (after itself if none). On an error it returns that
// number too, so the caller can remember it and resume: delivery is at
// least once (an event r made durable just before a crash of the caller is
// sent again), never out of order, never skipping.
func (s *Store) Forward(ctx context.Context, r sealpost.Recorder, after int64) (int64, error) {
	const op = "store.Forward"
	for {
		evs, err := s.Events(ctx, after, forwardBatch)
		if err != nil {
			return after, errors.E(op, err)
		}
		for _, e := range evs {
			if err := r.Record(ctx, e.Event); err != nil {
				kind := errors.KindOf(err)
				if kind == errors.Other {
					kind = errors.Unavailable
				}
				return after, errors.E(op, kind, errors.Errorf("recording event %d: %w", e.Seq, err))
			}
			after = e.Seq
		}
		if len(evs) < forwardBatch {
			return after, nil
		}
	}
}
