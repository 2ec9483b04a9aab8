package sealpost

import (
	"context"
	"time"
)

// Event is something done to an account's mailbox by anyone other than its
// owner, or by its owner with effects beyond the mailbox (a move between
// regions), or a step of a lawful demand. Events go to a Recorder; the
// transparency log is one.
type Event struct {
	Time    time.Time
	Kind    EventKind         // what happened, one of EventKinds
	Account string            // the account's address, "" if none
	Actor   string            // who did it: "owner", "admin", an officer's name
	Detail  map[string]string // kind-specific facts; never content or secrets
}

// Recorder receives events. Record returns only once the event is durable.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// EventKind says what an Event was: lower-case words joined by dots, the
// first naming what it happened to ("demand.filed"). The string is stored
// and published as it is (the legal store's outbox, the journal, the
// transparency log), so a kind's string never changes once released.
type EventKind string

// The kinds of events. Every kind is declared here and listed by
// EventKinds; the packages that treat events (transparency, its report, the
// owner's privacy page in web) test that each kind has its treatment.
const (
	// In the legal store's outbox (legal/store), each written in the
	// transaction of its change.

	EventDemandFiled      EventKind = "demand.filed"      // a lawful demand was filed
	EventDemandDecided    EventKind = "demand.decided"    // the jurisdiction policy decided on one target of a demand
	EventDemandTransition EventKind = "demand.transition" // a demand moved from one review state to another
	EventDemandApproval   EventKind = "demand.approval"   // a legal officer approved a demand's disclosure
	EventDemandDisclosure EventKind = "demand.disclosure" // data was handed over under a demand (a signed disclosure package)
	EventHoldPlaced       EventKind = "hold.placed"       // a legal hold was placed on an account's mailbox
	EventHoldReleased     EventKind = "hold.released"     // the legal hold on an account's mailbox was released
	EventNoticeQueued     EventKind = "notice.queued"     // a notice of a demand to an account's owner was queued
	EventNoticeSent       EventKind = "notice.sent"       // a notice of a demand was sent to an account's owner
	EventOfficerAdded     EventKind = "officer.added"     // the operator added a legal officer

	// In the operator's journal (journal).

	EventMailboxMoveRequested EventKind = "mailbox.move.requested" // an owner asked for their mailbox to move to another region
	EventMailboxMoveCompleted EventKind = "mailbox.move.completed" // an owner's mailbox move finished: it lives in the new region only
	EventAccountReset         EventKind = "account.reset"          // an administrator reset an account's password (old mail stays sealed)
	EventAccountDeleted       EventKind = "account.deleted"        // an administrator deleted an account and its mail
	EventPolicyLoaded         EventKind = "policy.loaded"          // a jurisdiction policy (a new version or text) came into force
	EventResidencyAudit       EventKind = "residency.audit"        // an administrator read every region's storage to audit residency

	// Made by the transparency ledger itself.

	EventCanarySigned EventKind = "canary.signed" // a warrant canary statement was signed
)

// EventKinds returns every kind of event, in the order declared (a new
// slice on each call).
func EventKinds() []EventKind {
	return []EventKind{
		EventDemandFiled, EventDemandDecided, EventDemandTransition, EventDemandApproval, EventDemandDisclosure,
		EventHoldPlaced, EventHoldReleased, EventNoticeQueued, EventNoticeSent, EventOfficerAdded,
		EventMailboxMoveRequested, EventMailboxMoveCompleted, EventAccountReset, EventAccountDeleted,
		EventPolicyLoaded, EventResidencyAudit,
		EventCanarySigned,
	}
}

// SequencedEvent is an event with its number in its source.
type SequencedEvent struct {
	Seq int64
	Event
}

// An EventSource is where events come from in order: the legal store's
// outbox, the operator's journal. Events are numbered from 1 in the order
// they were made durable, and a source never changes an event once read.
// The transparency ledger reads every source from where it stopped.
type EventSource interface {
	// Events returns up to limit events numbered above after, in order
	// (all of them if limit ≤ 0).
	Events(ctx context.Context, after int64, limit int) ([]SequencedEvent, error)
}
