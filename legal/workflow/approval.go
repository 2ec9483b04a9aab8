package workflow

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// Item is one thing a disclosure may hand over: one category of one
// target's data.
type Item struct {
	Target   string         `json:"target"`
	Category legal.Category `json:"category"`
}

func (it Item) String() string { return it.Target + " " + string(it.Category) }

// Approval is one legal officer's approval to disclose some categories of
// some targets' data: every pair of Targets × Categories. An approval of a
// whole demand names all its targets and categories; a partial one fewer.
// Nothing is implied: an approval names what it approves.
type Approval struct {
	Officer    string           `json:"officer"`
	At         time.Time        `json:"at"`
	Targets    []string         `json:"targets"` // normalized addresses
	Categories []legal.Category `json:"categories"`
	Note       string           `json:"note,omitempty"`
}

// Items returns the pairs an approval covers.
func (a Approval) Items() []Item { return Items(a.Targets, a.Categories) }

// Items returns every pair of targets × categories, targets normalized
// (sealpost.NormalizeAddress), in the order given.
func Items(targets []string, cats []legal.Category) []Item {
	out := make([]Item, 0, len(targets)*len(cats))
	for _, t := range targets {
		for _, c := range cats {
			out = append(out, Item{sealpost.NormalizeAddress(t), c})
		}
	}
	return out
}

// Scope returns everything a demand asks for: its targets × categories.
func Scope(d legal.Demand) []Item { return Items(d.Targets, d.Categories) }

// officerKey is how officers are told apart: their names trimmed and
// case-folded, so that "Ann" and "ann" are one officer, not two.
func officerKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// Approve returns actor's approval of targets × categories at time at,
// given the approvals already made on the demand; the caller stores it.
// Targets are normalized and duplicates dropped. Errors:
//   - Permission: actor is not a named legal officer;
//   - Invalid: no targets, an empty target, no categories or an unknown
//     one, a zero time, a note too long;
//   - Exist: actor has already approved every pair this approval names
//     (an officer's second approval adds nothing: disclosure needs another
//     officer).
func Approve(existing []Approval, actor Actor, targets []string, cats []legal.Category, note string, at time.Time) (Approval, error) {
	const op = "workflow.Approve"
	if err := checkActor(op, actor); err != nil {
		return Approval{}, err
	}
	a := Approval{Officer: strings.TrimSpace(actor.Name), At: at, Note: note}
	for _, t := range targets {
		t = sealpost.NormalizeAddress(t)
		if t == "" {
			return Approval{}, errors.E(op, errors.Invalid, errors.Str("an empty target"))
		}
		if !slices.Contains(a.Targets, t) {
			a.Targets = append(a.Targets, t)
		}
	}
	for _, c := range cats {
		if !slices.Contains(legal.Categories, c) {
			return Approval{}, errors.E(op, errors.Invalid, errors.Errorf("%q is not a category", c))
		}
		if !slices.Contains(a.Categories, c) {
			a.Categories = append(a.Categories, c)
		}
	}
	switch {
	case len(a.Targets) == 0:
		return Approval{}, errors.E(op, errors.Invalid, errors.Str("an approval names at least one target"))
	case len(a.Categories) == 0:
		return Approval{}, errors.E(op, errors.Invalid, errors.Str("an approval names at least one category"))
	case at.IsZero():
		return Approval{}, errors.E(op, errors.Invalid, errors.Str("an approval needs a time"))
	}
	if err := checkNote(op, note); err != nil {
		return Approval{}, err
	}
	mine := approvers(existing)
	adds := false
	for _, it := range a.Items() {
		if !mine[it][officerKey(a.Officer)] {
			adds = true
			break
		}
	}
	if !adds {
		return Approval{}, errors.E(op, errors.Exist, errors.Errorf("%s has already approved all of this; a second legal officer must approve", a.Officer))
	}
	return a, nil
}

// approvers maps each item to the officers (officerKey) who approved it.
func approvers(approvals []Approval) map[Item]map[string]bool {
	m := make(map[Item]map[string]bool)
	for _, a := range approvals {
		o := officerKey(a.Officer)
		if o == "" {
			continue
		}
		for _, it := range a.Items() {
			if m[it] == nil {
				m[it] = make(map[string]bool)
			}
			m[it][o] = true
		}
	}
	return m
}

// Cleared returns the items two different legal officers approved: what a
// disclosure may hold (the policy permitting). They are sorted by target,
// then in the order of legal.Categories.
func Cleared(approvals []Approval) []Item {
	var out []Item
	for it, officers := range approvers(approvals) {
		if len(officers) >= 2 {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b Item) int {
		return cmp.Or(strings.Compare(a.Target, b.Target),
			cmp.Compare(slices.Index(legal.Categories, a.Category), slices.Index(legal.Categories, b.Category)))
	})
	return out
}

// CanDisclose returns nil if every item in want was approved by two
// different legal officers. Errors: Invalid if want is empty; Permission
// otherwise, naming each item that lacks an approval and who has approved
// it so far.
func CanDisclose(approvals []Approval, want []Item) error {
	const op = "workflow.CanDisclose"
	if len(want) == 0 {
		return errors.E(op, errors.Invalid, errors.Str("nothing to disclose"))
	}
	by := approvers(approvals)
	names := make(map[string]string) // officerKey → name as first given
	for _, a := range approvals {
		if k := officerKey(a.Officer); k != "" && names[k] == "" {
			names[k] = strings.TrimSpace(a.Officer)
		}
	}
	var missing []string
	for _, it := range want {
		it.Target = sealpost.NormalizeAddress(it.Target)
		officers := by[it]
		switch len(officers) {
		case 0:
			missing = append(missing, it.String()+": approved by no legal officer")
		case 1:
			for o := range officers {
				missing = append(missing, it.String()+": approved by "+names[o]+" only")
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	const show = 10
	more := ""
	if len(missing) > show {
		more = errors.Errorf("; and %d more", len(missing)-show).Error()
		missing = missing[:show]
	}
	return errors.E(op, errors.Permission, errors.Errorf("disclosure needs approval by two different legal officers: %s%s",
		strings.Join(missing, "; "), more))
}
