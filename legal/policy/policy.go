// Package policy is the lawful-demand gateway's jurisdiction policy: for each
// account a demand names, it decides whether the demand can reach the
// account's data and which categories of data its instrument can compel,
// and says why in sentences a legal officer can read.
//
// The policy is data. It is a YAML file (the shipped default is default.yaml,
// printed by DefaultSource) whose rules are CEL expressions
// (https://cel.dev). Parse compiles every expression once; Decide evaluates
// them. The package is pure: it reads nothing but the bytes it is given,
// and Decide depends only on its arguments (it compares the demand's dates
// with the day the demand was received, never with the clock, so a decision
// explained again later comes out the same).
//
// # The policy file
//
//	version:      required; every decision records it (Decision.PolicyVersion)
//	countries:    ISO 3166-1 alpha-2 code -> name used in sentences
//	instruments:  instrument -> {name: phrase for sentences,
//	                             compels: [categories it compels on its own]}
//	agreements:   [{name, kind, parties, categories, instruments, zones}]
//	rules:
//	  screening:    per account, before anything else; first match decides
//	                for the whole account: needs_review,
//	                reject_out_of_jurisdiction, reject_insufficient_instrument
//	  jurisdiction: per category: in_reach, reject_out_of_jurisdiction,
//	                needs_review
//	  disclosure:   per category in reach: eligible,
//	                reject_insufficient_instrument, needs_review
//
// A rule is {name, when, agreement, decision, reason, route, preserve}.
// `when` is a CEL condition over the variables demand, region, target,
// category (not in screening), agreements and instruments; `agreement` is an
// optional CEL condition over one agreement `a` (the rule matches only if an
// agreement satisfies it, and that agreement names {agreement} in the
// reason). `reason` and `route` are sentences with {placeholders}. Within a
// list the first matching rule decides; if no jurisdiction or disclosure
// rule matches, the answer is needs_review: the policy never approves by
// default. A rule whose evaluation fails also yields needs_review, naming
// the rule. The comments at the top of default.yaml document every
// variable, field and placeholder.
//
// # Decisions
//
// Decide returns one legal.Decision per target, in order. A target without
// an account is no_such_account. A screening match decides the whole target.
// Otherwise each requested category gets a CategoryDecision, and the
// target's decision is the categories' common decision if they agree, else
// eligible if any category is eligible (partial approval is the workflow's
// business; a sentence says which categories were refused), else
// needs_review, reject_out_of_jurisdiction (with the route the rule names)
// or reject_insufficient_instrument, in that order. Eligible content yields
// ciphertext only (Yields "ciphertext_only"): mail is sealed to its owner's
// key and the provider holds no key that opens it. Preserve is set when a
// rule that decided allows preservation (a preservation order in reach, or
// a demand out of reach pending an MLAT request).
//
// Targets in the same region share an outcome, so unless a rule reads the
// target's address, Decide evaluates the rules once per region and
// category, not once per target; when some rule does read it, only those
// rules run per target and the others' results are still shared. Every
// evaluation of a CEL expression is bounded by a cost limit, so a runaway
// rule fails (needs_review, naming the rule) instead of stalling Decide.
package policy

import (
	_ "embed"
	"sync"
)

// Region is what the policy knows of a target's home region: where its data
// is held and which company operates it.
type Region struct {
	ID            string
	Name          string   // for people, e.g. "Ireland"
	Country       string   // ISO 3166-1 alpha-2 of where the data is held
	Zones         []string // legal zones, e.g. ["EU"]
	Entity        string   // the operating company, e.g. "Sealpost Ireland Ltd"
	EntityCountry string   // where that company is established, e.g. "IE"
}

// Target is one account a demand names. Region is nil when no account
// exists for Address.
type Target struct {
	Address string
	Region  *Region
}

//go:embed default.yaml
var defaultSource []byte

var (
	defaultOnce   sync.Once
	defaultEngine *Engine
)

// Default returns the engine of the shipped default policy. It panics only
// if the embedded default.yaml does not parse, which a test guards.
func Default() *Engine {
	defaultOnce.Do(func() {
		e, err := Parse(defaultSource)
		if err != nil {
			panic("policy: the embedded default policy is broken: " + err.Error())
		}
		defaultEngine = e
	})
	return defaultEngine
}

// DefaultSource returns the text of the shipped default policy, for
// operators to copy and edit. The caller may modify the returned slice.
func DefaultSource() []byte {
	return append([]byte(nil), defaultSource...)
}

// Version returns the policy's version, from the file's version field.
func (e *Engine) Version() string { return e.version }
