// Package workflow is the state machine of a demand's review: which state
// may follow which, who may move a demand, and the rule that disclosure
// needs two different legal officers. It is pure: it decides on the
// history and approvals it is given and stores nothing (legal/store keeps
// them), so every rule is testable without a server.
//
// The states are legal.State. The graph, with the moves the issue names
// and the few this package adds (marked *):
//
//	received ──► in_review ─┬─► rejected ───────────────► challenged *
//	                        ├─► approved ──► complied
//	                        └─► challenged
//
//	challenged ─┬─► stayed ─┬─► upheld
//	            │           └─► overturned
//	            ├─► upheld ─┬─► complied
//	            │           ├─► appealed
//	            │           └─► held_in_contempt ─┬─► appealed
//	            │                                 └─► complied *
//	            └─► overturned ──► appealed *
//
//	appealed ─┬─► won ──► appealed *
//	          └─► lost ─┬─► approved
//	                    └─► appealed *
//
//	every state but closed ──► closed (closed is final)
//
// In words: a demand is received and taken into review; the review rejects
// it, approves it (wholly or partly: the approvals say which targets and
// categories, see Approval), or challenges it in court. A challenge may be
// stayed; it ends with the order upheld or overturned. An upheld order is
// complied with, appealed, or defied and the provider held in contempt,
// which is then appealed (as Microsoft did in 2014) or purged by complying*.
// An appeal is won or lost; a lost appeal leads to approval and
// compliance. The added moves cover what courts do: the authority may
// contest a rejection in court* (a motion to compel, litigated like a
// challenge) or appeal a decision that went against it* (overturned, won),
// and the provider may appeal further after losing*.
//
// Closed is final and reachable from every other state: a demand ends by
// its outcome (rejected, overturned, complied, won) or because the
// authority withdraws it or it becomes moot — at any stage, as the
// Microsoft Ireland warrant did at the Supreme Court when the CLOUD Act
// passed in 2018. The transition's note says which.
//
// Won and lost are from the provider's side: won means the order was
// found not to reach the data.
package workflow

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// States lists every state of a demand, in the order of a review.
var States = []legal.State{
	legal.Received, legal.InReview, legal.Rejected, legal.Challenged, legal.Approved,
	legal.Stayed, legal.Upheld, legal.Overturned, legal.Appealed, legal.Complied,
	legal.HeldInContempt, legal.Won, legal.Lost, legal.Closed,
}

// graph maps each state to the states that may follow it (closed aside:
// it may follow every state but itself).
var graph = map[legal.State][]legal.State{
	legal.Received:       {legal.InReview},
	legal.InReview:       {legal.Rejected, legal.Challenged, legal.Approved},
	legal.Rejected:       {legal.Challenged},
	legal.Challenged:     {legal.Stayed, legal.Upheld, legal.Overturned},
	legal.Stayed:         {legal.Upheld, legal.Overturned},
	legal.Upheld:         {legal.Appealed, legal.Complied, legal.HeldInContempt},
	legal.HeldInContempt: {legal.Appealed, legal.Complied},
	legal.Overturned:     {legal.Appealed},
	legal.Appealed:       {legal.Won, legal.Lost},
	legal.Won:            {legal.Appealed},
	legal.Lost:           {legal.Approved, legal.Appealed},
	legal.Approved:       {legal.Complied},
	legal.Complied:       {},
	legal.Closed:         {},
}

// Allowed reports whether a demand in state from may move to state to.
// Unknown states allow nothing.
func Allowed(from, to legal.State) bool {
	next, ok := graph[from]
	if !ok || from == legal.Closed {
		return false
	}
	return to == legal.Closed || slices.Contains(next, to)
}

// Next returns the states a demand in state from may move to, in the order
// of States (for a UI's buttons). It is empty for closed and unknown
// states.
func Next(from legal.State) []legal.State {
	var out []legal.State
	for _, to := range States {
		if Allowed(from, to) {
			out = append(out, to)
		}
	}
	return out
}

// Disclosable reports whether a disclosure may be made in state s: the
// demand was approved, or a court upheld the order (complying is then one
// of the ways forward, and purging a contempt another). Disclosure also
// needs two officers' approvals (CanDisclose).
func Disclosable(s legal.State) bool {
	return s == legal.Approved || s == legal.Upheld || s == legal.HeldInContempt
}

// Role is what a user of the gateway may do.
type Role string

// The roles. Only legal officers act on demands; the others exist so that
// refusals can be named and tested.
const (
	Officer Role = "legal_officer" // reviews demands, moves them, approves disclosures
	Admin   Role = "admin"         // runs the server; no rights over demands
	Support Role = "support"       // helps users; no rights over demands
)

// Actor is who asks for a transition or gives an approval.
type Actor struct {
	Name string // the legal officer's user name, as recorded
	Role Role
}

// MaxNote is the longest note a transition or approval carries, in bytes.
const MaxNote = 4000

// checkActor returns nil if actor may act on demands: a named legal
// officer. Errors: Permission otherwise.
func checkActor(op string, actor Actor) error {
	if actor.Role != Officer {
		return errors.E(op, errors.Permission, errors.Errorf("%q is not a legal officer (role %q): only legal officers act on demands", actor.Name, actor.Role))
	}
	if strings.TrimSpace(actor.Name) == "" {
		return errors.E(op, errors.Permission, errors.Str("a legal officer must be named"))
	}
	return nil
}

func checkNote(op, note string) error {
	if len(note) > MaxNote || !utf8.ValidString(note) {
		return errors.E(op, errors.Invalid, errors.Errorf("a note is valid UTF-8 of at most %d bytes", MaxNote))
	}
	return nil
}

// Current returns the state a history leaves a demand in: the last
// transition's To, or received if there is none.
func Current(history []legal.Transition) legal.State {
	if len(history) == 0 {
		return legal.Received
	}
	return history[len(history)-1].To
}

// Check verifies a history as read back from storage: it starts at
// received, each transition starts where the last ended and is allowed,
// each has an actor and a time, and times do not go back. Errors: Invalid,
// naming the first transition at fault.
func Check(history []legal.Transition) error {
	const op = "workflow.Check"
	from, last := legal.Received, time.Time{}
	for i, tr := range history {
		switch {
		case tr.From != from:
			return errors.E(op, errors.Invalid, errors.Errorf("transition %d starts at %s, but the demand was %s", i, tr.From, from))
		case !Allowed(tr.From, tr.To):
			return errors.E(op, errors.Invalid, errors.Errorf("transition %d: %s may not move to %s", i, tr.From, tr.To))
		case tr.Actor == "":
			return errors.E(op, errors.Invalid, errors.Errorf("transition %d has no actor", i))
		case tr.At.IsZero():
			return errors.E(op, errors.Invalid, errors.Errorf("transition %d has no time", i))
		case tr.At.Before(last):
			return errors.E(op, errors.Invalid, errors.Errorf("transition %d at %v is before the one it follows (%v)", i, tr.At, last))
		}
		from, last = tr.To, tr.At
	}
	return nil
}

// Apply returns the transition that moves a demand with the given history
// to state to, made by actor at time at with a note; the caller appends it
// to the history and stores it. Errors:
//   - Permission: actor is not a named legal officer;
//   - Invalid: the move is not allowed from the current state (the error
//     names both states), at is zero or before the last transition, the
//     note is too long, or the history itself is broken (Check).
func Apply(history []legal.Transition, to legal.State, actor Actor, note string, at time.Time) (legal.Transition, error) {
	const op = "workflow.Apply"
	if err := checkActor(op, actor); err != nil {
		return legal.Transition{}, err
	}
	if err := Check(history); err != nil {
		return legal.Transition{}, errors.E(op, err)
	}
	from := Current(history)
	if !Allowed(from, to) {
		return legal.Transition{}, errors.E(op, errors.Invalid, errors.Errorf("a demand that is %s may not move to %s (next: %s)", from, to, list(Next(from))))
	}
	if at.IsZero() {
		return legal.Transition{}, errors.E(op, errors.Invalid, errors.Str("a transition needs a time"))
	}
	if len(history) > 0 && at.Before(history[len(history)-1].At) {
		return legal.Transition{}, errors.E(op, errors.Invalid, errors.Errorf("%v is before the last transition (%v)", at, history[len(history)-1].At))
	}
	if err := checkNote(op, note); err != nil {
		return legal.Transition{}, err
	}
	return legal.Transition{From: from, To: to, Actor: strings.TrimSpace(actor.Name), At: at, Note: note}, nil
}

func list(states []legal.State) string {
	if len(states) == 0 {
		return "none"
	}
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
