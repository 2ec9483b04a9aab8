package transparency

import "github.com/sealpost/sealpost"

// A Treatment is how the ledger publishes the events of one kind. Every
// entry is built the same way (Blinder.Build): the role of its actor, its
// public detail, a blinded subject if the event names an account, no salt
// while a nondisclosure order covers it, a commitment only if its
// instrument is withheld. What differs by kind is said here.
type Treatment struct {
	// Account: events of the kind name an account (Event.Account), so
	// their entries carry a blinded subject and are indexed for its
	// owner's page. Events of other kinds name none.
	Account bool
	// Reveals: the entry of an event of the kind about an account and a
	// demand reveals the salts of that account's entries the demand's
	// nondisclosure order covered and, once a withheld instrument's order
	// has lapsed, opens the demand's withheld entries (Ledger.Sync
	// publishes it at the head of a batch of its own, after the entries
	// it reveals are indexed).
	Reveals bool
}

// treatments holds the Treatment of every kind in sealpost.EventKinds
// (TestEveryKindTreated). An event of a kind not listed (one from a newer
// or older journal) is published as a kind with the zero Treatment.
var treatments = map[sealpost.EventKind]Treatment{
	sealpost.EventDemandFiled:          {},
	sealpost.EventDemandDecided:        {Account: true},
	sealpost.EventDemandTransition:     {},
	sealpost.EventDemandApproval:       {},
	sealpost.EventDemandDisclosure:     {},
	sealpost.EventHoldPlaced:           {Account: true},
	sealpost.EventHoldReleased:         {Account: true},
	sealpost.EventNoticeQueued:         {Account: true},
	sealpost.EventNoticeSent:           {Account: true, Reveals: true},
	sealpost.EventOfficerAdded:         {},
	sealpost.EventMailboxMoveRequested: {Account: true},
	sealpost.EventMailboxMoveCompleted: {Account: true},
	sealpost.EventAccountReset:         {Account: true},
	sealpost.EventAccountDeleted:       {Account: true},
	sealpost.EventPolicyLoaded:         {},
	sealpost.EventResidencyAudit:       {},
	sealpost.EventCanarySigned:         {},
}

// TreatmentOf returns the Treatment of kind, and false if kind is not one
// the ledger knows (it is then published with the zero Treatment).
func TreatmentOf(kind sealpost.EventKind) (Treatment, bool) {
	t, ok := treatments[kind]
	return t, ok
}
