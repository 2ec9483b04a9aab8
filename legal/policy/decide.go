package policy

import (
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/sealpost/sealpost/legal"
)

// Engine is a compiled policy. It is immutable and safe for concurrent use.
type Engine struct {
	version     string
	countries   map[string]string
	instruments map[legal.Instrument]instrumentEntry
	agreements  []agreementEntry
	rules       [3][]*rule
	nrules      int
	perTarget   bool // some rule reads `target`: no sharing within a region
	env         *celEnv

	withhold       []legal.Instrument // demands published as commitments only
	canaryLapsesOn []legal.Instrument // demands whose receipt ends the canary

	// Built once by prepare.
	agreementsVal  ref.Val
	agreementVals  []ref.Val
	instrumentsVal ref.Val
	sufficient     map[legal.Category]string
}

// rule is one compiled rule.
type rule struct {
	idx          int // in the whole policy, for memos
	name         string
	stage        stage
	line         int
	whenSrc      string
	agreementSrc string
	when         cel.Program // nil: no condition
	agreement    cel.Program // nil: no agreement condition
	usesTarget   bool
	decision     legal.DecisionKind
	reason       template
	route        template
	preserve     bool
}

func (r *rule) String() string {
	if r.name == "" {
		return fmt.Sprintf("rule without a name (%s, line %d)", r.stage, r.line)
	}
	return fmt.Sprintf("rule %q (%s, line %d)", r.name, r.stage, r.line)
}

// YieldsReason is the sentence every eligible content decision carries.
const YieldsReason = "Content is sealed to the account owner's key as it arrives and the provider holds no key that opens it: only ciphertext can be handed over."

// prepare adapts the policy's tables to CEL values once.
func (e *Engine) prepare() {
	ad := e.env.adapter
	e.agreementVals = make([]ref.Val, len(e.agreements))
	all := make([]*agreementVars, len(e.agreements))
	for i, a := range e.agreements {
		v := &agreementVars{Name: a.Name, Kind: a.Kind, Parties: nonNil(a.Parties),
			Categories: nonNil(a.Categories), Instruments: nonNil(a.Instruments), Zones: nonNil(a.Zones)}
		all[i] = v
		e.agreementVals[i] = ad.NativeToValue(v)
	}
	e.agreementsVal = ad.NativeToValue(all)
	ins := map[string]*instrumentVars{}
	for in, ie := range e.instruments {
		ins[string(in)] = &instrumentVars{Name: ie.Name, Compels: nonNil(ie.Compels)}
	}
	e.instrumentsVal = ad.NativeToValue(ins)
	e.sufficient = map[legal.Category]string{}
	for _, c := range legal.Categories {
		var names []string
		for _, in := range legal.Instruments {
			if slices.Contains(e.instruments[in].Compels, string(c)) {
				names = append(names, e.instruments[in].Name)
			}
		}
		if len(names) == 0 {
			e.sufficient[c] = "an instrument this policy does not list"
		} else {
			e.sufficient[c] = joinOr(names)
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Decide decides a demand for each target, in order, and records the
// policy's version in each decision. It depends only on its arguments:
// rules see the demand's dates, never the clock.
//
// Targets in one region share their rules' results: a rule that does not
// read `target` is evaluated at most once per region and category, and if
// no rule reads it the whole decision is made once per region.
func (e *Engine) Decide(d legal.Demand, targets []Target) []legal.Decision {
	run := e.newRun(&d)
	out := make([]legal.Decision, len(targets))
	states := map[regionKey]*regionState{}
	for i, t := range targets {
		var dec *legal.Decision
		if t.Region == nil {
			dec = run.whole(legal.NoSuchAccount, fmt.Sprintf("No account exists for %s in this deployment, so there is nothing to disclose or preserve.", t.Address), "", false)
		} else {
			k := keyOf(t.Region)
			st := states[k]
			if st == nil {
				st = run.newRegionState(t.Region)
				states[k] = st
			}
			if dec = st.decision; dec == nil {
				dec = run.decide(t, st)
				if !e.perTarget {
					st.decision = dec
				}
			}
		}
		out[i] = clone(dec)
		out[i].Target = t.Address
	}
	return out
}

// regionState is what targets in one region share within a Decide call.
type regionState struct {
	act  activation
	memo []matchResult // per rule and category slot; see run.slot
	// decision is the region's decision when no rule reads the target.
	decision *legal.Decision
}

// matchResult is a memoized rule evaluation.
type matchResult struct {
	done      bool
	ok        bool
	agreement string
	err       error
}

func (r *run) newRegionState(reg *Region) *regionState {
	e := r.e
	return &regionState{
		act: activation{
			demand:      r.demandVal,
			region:      e.env.adapter.NativeToValue(&regionVars{ID: reg.ID, Name: reg.Name, Country: reg.Country, Zones: nonNil(reg.Zones), Entity: reg.Entity, EntityCountry: reg.EntityCountry}),
			agreements:  e.agreementsVal,
			instruments: e.instrumentsVal,
		},
		memo: make([]matchResult, e.nrules*(len(r.categories)+1)),
	}
}

// slot is a rule's memo index for a category (-1: screening, no category).
func (r *run) slot(ru *rule, cat int) int { return ru.idx*(len(r.categories)+1) + cat + 1 }

// regionKey identifies a region's facts: targets with equal keys share an
// outcome (when no rule reads the target's address).
type regionKey struct {
	id, name, country, zones, entity, entityCountry string
}

func keyOf(r *Region) regionKey {
	return regionKey{r.ID, r.Name, r.Country, strings.Join(r.Zones, "\x00"), r.Entity, r.EntityCountry}
}

// clone copies a decision so that callers own every slice they get. The
// reasons share one backing array, each sub-slice capped at its length so
// that appending to one cannot overwrite another.
func clone(d *legal.Decision) legal.Decision {
	c := *d
	n := len(d.Reasons)
	for _, cd := range d.Categories {
		n += len(cd.Reasons)
	}
	buf := make([]string, 0, n)
	part := func(s []string) []string {
		if s == nil {
			return nil
		}
		i := len(buf)
		buf = append(buf, s...)
		return buf[i:len(buf):len(buf)]
	}
	c.Reasons = part(d.Reasons)
	c.Categories = slices.Clone(d.Categories)
	for i := range c.Categories {
		c.Categories[i].Reasons = part(d.Categories[i].Reasons)
	}
	return c
}

// run is one Decide call: the demand's facts, built once.
type run struct {
	e          *Engine
	d          *legal.Demand
	origin     string
	demandVal  ref.Val
	categories []legal.Category // requested, without repeats
}

func (e *Engine) newRun(d *legal.Demand) *run {
	origin := d.Country
	if d.Instrument == legal.MLATRequest && d.RequestingCountry != "" {
		origin = d.RequestingCountry
	}
	r := &run{e: e, d: d, origin: origin}
	cats := []string{}
	for _, c := range d.Categories {
		if !slices.Contains(r.categories, c) {
			r.categories = append(r.categories, c)
			cats = append(cats, string(c))
		}
	}
	dv := &demandVars{
		Instrument: string(d.Instrument), Country: d.Country, RequestingCountry: d.RequestingCountry,
		Origin: origin, Authority: d.Authority, Court: d.Court, LegalBasis: d.LegalBasis,
		Reference: d.Reference, Categories: cats, Targets: len(d.Targets),
		From: dateText(d.From), To: dateText(d.To), Received: dateText(&d.Received),
		NondisclosureUntil: dateText(d.NondisclosureUntil),
	}
	r.demandVal = e.env.adapter.NativeToValue(dv)
	return r
}

func dateText(d *legal.Date) string {
	if d == nil || d.IsZero() {
		return ""
	}
	return d.String()
}

// decide decides one target, whose region has an account.
func (r *run) decide(t Target, st *regionState) *legal.Decision {
	e := r.e
	if _, ok := e.instruments[r.d.Instrument]; !ok {
		return r.whole(legal.NeedsReview, fmt.Sprintf("The demand names the instrument %q, which this policy does not know, so a legal officer must decide.", r.d.Instrument), "", false)
	}
	if len(r.categories) == 0 {
		return r.whole(legal.NeedsReview, "The demand names no category of data, so a legal officer must decide what it asks for.", "", false)
	}
	reg := t.Region
	if reg.Country == "" || reg.EntityCountry == "" {
		return r.whole(legal.NeedsReview, fmt.Sprintf("Region %s has no country or no operating company's country configured, so the policy cannot tell whose jurisdiction its data is under; a legal officer must decide.", reg.ID), "", false)
	}
	st.act.target = types.String(t.Address)
	st.act.category = nil
	tf := &textFacts{e: e, demand: r.d, origin: r.origin, region: reg}

	ru, rr, err := r.first(screening, st, -1, tf)
	switch {
	case err != nil:
		return r.whole(legal.NeedsReview, e.failed(ru, err), "", false)
	case ru != nil:
		return r.whole(ru.decision, rr.reason, rr.route, ru.preserve)
	}

	dec := &legal.Decision{PolicyVersion: e.version}
	routes := make([]string, len(r.categories))
	for i, c := range r.categories {
		tf.category = c
		st.act.category = types.String(c)
		cd, route, preserve := r.decideCategory(st, i, tf, c)
		dec.Categories = append(dec.Categories, cd)
		routes[i] = route
		dec.Preserve = dec.Preserve || preserve
	}
	r.summarize(dec, routes)
	return dec
}

// decideCategory decides one category: jurisdiction, then disclosure.
func (r *run) decideCategory(st *regionState, ci int, tf *textFacts, c legal.Category) (cd legal.CategoryDecision, route string, preserve bool) {
	e := r.e
	cd.Category = c
	if !slices.Contains(legal.Categories, c) {
		cd.Decision = legal.NeedsReview
		cd.Reasons = []string{fmt.Sprintf("The demand asks for %q, which is not a category of data this policy knows, so a legal officer must decide.", c)}
		return cd, "", false
	}
	j, jr, err := r.first(jurisdiction, st, ci, tf)
	switch {
	case err != nil:
		cd.Decision, cd.Reasons = legal.NeedsReview, []string{e.failed(j, err)}
		return cd, "", false
	case j == nil:
		cd.Decision = legal.NeedsReview
		cd.Reasons = []string{fmt.Sprintf("No rule of this policy decides whether the demand reaches %s, so a legal officer must decide.", categoryName(c))}
		return cd, "", false
	case j.decision != inReach:
		cd.Decision, cd.Reasons = j.decision, []string{jr.reason}
		return cd, jr.route, j.preserve
	}
	cd.Reasons = []string{jr.reason}
	preserve = j.preserve
	ru, rr, err := r.first(disclosure, st, ci, tf)
	switch {
	case err != nil:
		cd.Decision = legal.NeedsReview
		cd.Reasons = append(cd.Reasons, e.failed(ru, err))
	case ru == nil:
		cd.Decision = legal.NeedsReview
		cd.Reasons = append(cd.Reasons, fmt.Sprintf("No rule of this policy decides whether %s may compel %s, so a legal officer must decide.", e.instruments[r.d.Instrument].Name, categoryName(c)))
	default:
		cd.Decision = ru.decision
		cd.Reasons = append(cd.Reasons, rr.reason)
		preserve = preserve || ru.preserve
	}
	if cd.Decision == legal.Eligible && c == legal.Content {
		cd.Yields = legal.YieldsCiphertextOnly
		cd.Reasons = append(cd.Reasons, YieldsReason)
	}
	return cd, "", preserve
}

// rendered is a matched rule's text.
type rendered struct{ reason, route string }

// first returns the first rule of a stage that matches for category slot
// ci, with its text; on an evaluation error, the failing rule and the error.
func (r *run) first(stg stage, st *regionState, ci int, tf *textFacts) (*rule, rendered, error) {
	for _, ru := range r.e.rules[stg] {
		m := &st.memo[r.slot(ru, ci)]
		if !m.done || ru.usesTarget {
			*m = matchResult{done: true}
			m.ok, m.agreement, m.err = r.e.match(ru, &st.act)
		}
		if m.err != nil {
			return ru, rendered{}, m.err
		}
		if !m.ok {
			continue
		}
		tf.agreement, tf.route = m.agreement, ""
		var out rendered
		if ru.route != nil {
			out.route = ru.route.render(tf)
			tf.route = out.route
		}
		out.reason = sentence(ru.reason.render(tf))
		return ru, out, nil
	}
	return nil, rendered{}, nil
}

// match evaluates a rule's conditions and returns the name of the
// agreement it matched, if it has an agreement condition.
func (e *Engine) match(ru *rule, act *activation) (bool, string, error) {
	if ru.when != nil {
		ok, err := evalBool(ru.when, act)
		if err != nil || !ok {
			return false, "", err
		}
	}
	if ru.agreement == nil {
		return true, "", nil
	}
	defer func() { act.a = nil }()
	for i, av := range e.agreementVals {
		act.a = av
		ok, err := evalBool(ru.agreement, act)
		if err != nil {
			return false, "", err
		}
		if ok {
			return true, e.agreements[i].Name, nil
		}
	}
	return false, "", nil
}

func (e *Engine) failed(ru *rule, err error) string {
	return fmt.Sprintf("Rule %q of policy %s could not be evaluated (%s), so a legal officer must decide.", ru.name, e.version, oneLine(err.Error()))
}

// whole is a decision for the whole target: every category shares it.
func (r *run) whole(k legal.DecisionKind, reason, route string, preserve bool) *legal.Decision {
	d := &legal.Decision{Decision: k, Reasons: []string{reason}, Preserve: preserve, PolicyVersion: r.e.version}
	if k == legal.RejectOutOfJurisdiction {
		d.Route = route
	}
	for _, c := range r.categories {
		d.Categories = append(d.Categories, legal.CategoryDecision{Category: c, Decision: k, Reasons: []string{reason}})
	}
	return d
}

// summarize sets the target's decision, reasons, route and yield from its
// categories'.
func (r *run) summarize(d *legal.Decision, routes []string) {
	var by = map[legal.DecisionKind][]legal.Category{}
	for _, cd := range d.Categories {
		by[cd.Decision] = append(by[cd.Decision], cd.Category)
		for _, why := range cd.Reasons {
			if !slices.Contains(d.Reasons, why) {
				d.Reasons = append(d.Reasons, why)
			}
		}
		if cd.Yields != "" {
			d.Yields = cd.Yields
		}
	}
	for _, k := range []legal.DecisionKind{legal.Eligible, legal.NeedsReview, legal.RejectOutOfJurisdiction, legal.RejectInsufficientInstrument} {
		if len(by[k]) > 0 {
			d.Decision = k
			break
		}
	}
	if d.Decision == legal.RejectOutOfJurisdiction {
		for i, cd := range d.Categories {
			if cd.Decision == legal.RejectOutOfJurisdiction && routes[i] != "" {
				d.Route = routes[i]
				break
			}
		}
	}
	if len(by) > 1 {
		var parts []string
		if cs := by[legal.Eligible]; len(cs) > 0 {
			parts = append(parts, categoryList(cs)+" may be disclosed")
		}
		var refused []legal.Category
		for _, cd := range d.Categories {
			if cd.Decision == legal.RejectOutOfJurisdiction || cd.Decision == legal.RejectInsufficientInstrument {
				refused = append(refused, cd.Category)
			}
		}
		if len(refused) > 0 {
			parts = append(parts, categoryList(refused)+" may not be disclosed")
		}
		if cs := by[legal.NeedsReview]; len(cs) > 0 {
			verb := " needs"
			if len(cs) > 1 {
				verb = " need"
			}
			parts = append(parts, categoryList(cs)+verb+" a legal officer's decision")
		}
		d.Reasons = append(d.Reasons, "Of the data asked for, "+strings.Join(parts, "; ")+".")
	}
}

// Withhold lists the instruments whose demands the transparency log
// publishes as commitments only (the policy's transparency.withhold), for
// requests whose very existence the law allows to be reported only in
// bands.
func (e *Engine) Withhold() []legal.Instrument { return slices.Clone(e.withhold) }

// CanaryLapsesOn lists the instruments whose receipt ends the renewal of
// the warrant canary (transparency.canary_lapses_on).
func (e *Engine) CanaryLapsesOn() []legal.Instrument { return slices.Clone(e.canaryLapsesOn) }
