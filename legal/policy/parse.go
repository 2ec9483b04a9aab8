package policy

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// The file's shape. Unknown fields are errors at every level.
type file struct {
	Version     string                     `yaml:"version"`
	Countries   map[string]string          `yaml:"countries"`
	Instruments map[string]instrumentEntry `yaml:"instruments"`
	Agreements  []agreementEntry           `yaml:"agreements"`
	Rules       struct {
		Screening    []ruleEntry `yaml:"screening"`
		Jurisdiction []ruleEntry `yaml:"jurisdiction"`
		Disclosure   []ruleEntry `yaml:"disclosure"`
	} `yaml:"rules"`
	Transparency struct {
		Withhold       []string `yaml:"withhold"`
		CanaryLapsesOn []string `yaml:"canary_lapses_on"`
	} `yaml:"transparency"`
}

type instrumentEntry struct {
	Name    string   `yaml:"name"`
	Compels []string `yaml:"compels"`
}

type agreementEntry struct {
	Name        string   `yaml:"name"`
	Kind        string   `yaml:"kind"`
	Parties     []string `yaml:"parties"`
	Categories  []string `yaml:"categories"`
	Instruments []string `yaml:"instruments"`
	Zones       []string `yaml:"zones"`
}

type ruleEntry struct {
	Name      string `yaml:"name"`
	When      string `yaml:"when"` // a scalar: `when: true` is the text "true"
	Agreement string `yaml:"agreement"`
	Decision  string `yaml:"decision"`
	Reason    string `yaml:"reason"`
	Route     string `yaml:"route"`
	Preserve  bool   `yaml:"preserve"`
	line      int
}

// UnmarshalYAML records the rule's line, for errors. (A custom unmarshaler
// loses the decoder's KnownFields setting, so the fields are checked here.)
func (r *ruleEntry) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		label := fmt.Sprintf("the rule at line %d", n.Line)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "name" {
				label = fmt.Sprintf("rule %q (line %d)", n.Content[i+1].Value, n.Line)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i].Value; k {
			case "name", "when", "agreement", "decision", "reason", "route", "preserve":
			default:
				return fmt.Errorf("%s: unknown field %q at line %d; a rule has name, when, agreement, decision, reason, route and preserve", label, k, n.Content[i].Line)
			}
		}
	}
	type plain ruleEntry
	if err := n.Decode((*plain)(r)); err != nil {
		return err
	}
	r.line = n.Line
	return nil
}

// stage is one of the three lists of rules.
type stage int

const (
	screening stage = iota
	jurisdiction
	disclosure
)

func (s stage) String() string {
	return [...]string{"screening", "jurisdiction", "disclosure"}[s]
}

// inReach is the jurisdiction rules' positive outcome; it is not a
// legal.DecisionKind because it decides nothing on its own.
const inReach legal.DecisionKind = "in_reach"

// allowed lists the decisions each stage may make.
var allowed = [...][]legal.DecisionKind{
	screening:    {legal.NeedsReview, legal.RejectOutOfJurisdiction, legal.RejectInsufficientInstrument},
	jurisdiction: {inReach, legal.RejectOutOfJurisdiction, legal.NeedsReview},
	disclosure:   {legal.Eligible, legal.RejectInsufficientInstrument, legal.NeedsReview},
}

var (
	ruleName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	countryCode = regexp.MustCompile(`^[A-Z]{2}$`)
)

// maxPolicySize bounds the file Parse accepts.
const maxPolicySize = 1 << 20

// Parse reads and compiles a policy file. Every CEL expression and every
// reason template is compiled once, here. The error, of kind Invalid, lists
// every problem found, each naming the rule (by stage, name and line) or
// the entry at fault.
func Parse(policyYAML []byte) (*Engine, error) {
	const op = "policy.Parse"
	if len(policyYAML) > maxPolicySize {
		return nil, errors.E(op, errors.TooLarge, errors.Errorf("policy file is larger than %d bytes", maxPolicySize))
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(policyYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("policy file: %s", oneLine(err.Error())))
	}
	var probs problems
	e := &Engine{
		version:     strings.TrimSpace(f.Version),
		countries:   map[string]string{},
		instruments: map[legal.Instrument]instrumentEntry{},
	}
	for _, list := range []struct {
		name string
		vals []string
		dst  *[]legal.Instrument
	}{{"transparency.withhold", f.Transparency.Withhold, &e.withhold}, {"transparency.canary_lapses_on", f.Transparency.CanaryLapsesOn, &e.canaryLapsesOn}} {
		for _, v := range list.vals {
			if !slices.Contains(legal.Instruments, legal.Instrument(v)) {
				probs.add("%s: %q is not an instrument", list.name, v)
				continue
			}
			*list.dst = append(*list.dst, legal.Instrument(v))
		}
	}
	switch {
	case e.version == "":
		probs.add("version: missing; every policy needs a version, recorded in each decision")
	case strings.ContainsAny(e.version, "\r\n") || len(e.version) > 64:
		probs.add("version: must be one line of at most 64 characters")
	}
	for _, code := range slices.Sorted(maps.Keys(f.Countries)) {
		name := f.Countries[code]
		if !countryCode.MatchString(code) {
			probs.add("countries: %q is not an ISO 3166-1 alpha-2 code (two capital letters)", code)
		}
		if strings.TrimSpace(name) == "" {
			probs.add("countries: %s has no name", code)
		}
		e.countries[code] = strings.TrimSpace(name)
	}
	e.parseInstruments(f.Instruments, &probs)
	e.parseAgreements(f.Agreements, &probs)
	env, err := newEnv()
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	e.env = env
	seen := map[string]bool{}
	for st, list := range [...][]ruleEntry{f.Rules.Screening, f.Rules.Jurisdiction, f.Rules.Disclosure} {
		for i := range list {
			r := e.compileRule(stage(st), &list[i], &probs)
			if r == nil {
				continue
			}
			if seen[r.name] {
				probs.add("%s: the name is used by another rule; names must be unique", r)
			}
			seen[r.name] = true
			r.idx = e.nrules
			e.nrules++
			e.rules[st] = append(e.rules[st], r)
			if r.usesTarget {
				e.perTarget = true
			}
		}
	}
	// An agreement kind no rule names is almost certainly a typo, and would
	// be silently ignored.
	for _, a := range f.Agreements {
		if a.Kind != "" && !e.kindNamed(a.Kind) {
			probs.add("agreements: %q: kind %q is not named by any rule, so the agreement would have no effect", a.Name, a.Kind)
		}
	}
	if !probs.empty() {
		return nil, probs.err(op)
	}
	e.prepare()
	return e, nil
}

func (e *Engine) parseInstruments(m map[string]instrumentEntry, probs *problems) {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		ie := m[name]
		in := legal.Instrument(name)
		if !slices.Contains(legal.Instruments, in) {
			probs.add("instruments: %q is not an instrument; want one of %s", name, list(legal.Instruments))
			continue
		}
		for _, c := range ie.Compels {
			if !slices.Contains(legal.Categories, legal.Category(c)) {
				probs.add("instruments: %s: compels %q, which is not a category; want one of %s", name, c, list(legal.Categories))
			}
		}
		ie.Name = strings.TrimSpace(ie.Name)
		e.instruments[in] = ie
	}
	// An instrument the file leaves out compels nothing.
	for _, in := range legal.Instruments {
		if _, ok := e.instruments[in]; !ok {
			e.instruments[in] = instrumentEntry{}
		}
		if ie := e.instruments[in]; ie.Name == "" {
			ie.Name = strings.ReplaceAll(string(in), "_", " ")
			e.instruments[in] = ie
		}
	}
}

func (e *Engine) parseAgreements(as []agreementEntry, probs *problems) {
	for i, a := range as {
		label := fmt.Sprintf("agreements[%d]", i)
		if a.Name = strings.TrimSpace(a.Name); a.Name == "" {
			probs.add("%s: missing name", label)
		} else {
			label = fmt.Sprintf("agreements: %q", a.Name)
		}
		if a.Kind == "" {
			probs.add("%s: missing kind", label)
		}
		if len(a.Parties) == 0 {
			probs.add("%s: no parties", label)
		}
		for _, p := range a.Parties {
			if !countryCode.MatchString(p) {
				probs.add("%s: party %q is not an ISO 3166-1 alpha-2 code", label, p)
			}
		}
		for _, c := range a.Categories {
			if !slices.Contains(legal.Categories, legal.Category(c)) {
				probs.add("%s: %q is not a category; want one of %s", label, c, list(legal.Categories))
			}
		}
		for _, in := range a.Instruments {
			if !slices.Contains(legal.Instruments, legal.Instrument(in)) {
				probs.add("%s: %q is not an instrument", label, in)
			}
		}
		e.agreements = append(e.agreements, a)
	}
}

// kindNamed reports whether some rule's text names kind as a string.
func (e *Engine) kindNamed(kind string) bool {
	for _, rs := range e.rules {
		for _, r := range rs {
			for _, src := range []string{r.whenSrc, r.agreementSrc} {
				if strings.Contains(src, `"`+kind+`"`) || strings.Contains(src, `'`+kind+`'`) {
					return true
				}
			}
		}
	}
	return false
}

// compileRule checks and compiles one rule; nil if it has problems (added
// to probs).
func (e *Engine) compileRule(st stage, re *ruleEntry, probs *problems) *rule {
	r := &rule{name: strings.TrimSpace(re.Name), stage: st, line: re.line,
		whenSrc: strings.TrimSpace(re.When), agreementSrc: strings.TrimSpace(re.Agreement),
		decision: legal.DecisionKind(strings.TrimSpace(re.Decision)), preserve: re.Preserve}
	n := probs.len()
	if r.name == "" {
		probs.add("%s: missing name", r)
	} else if !ruleName.MatchString(r.name) {
		probs.add("%s: the name must be letters, digits, - and _ (at most 64)", r)
	}
	if !slices.Contains(allowed[st], r.decision) {
		if r.decision == "" {
			probs.add("%s: missing decision; want one of %s", r, list(allowed[st]))
		} else {
			probs.add("%s: unknown decision %q; a %s rule decides one of %s", r, r.decision, st, list(allowed[st]))
		}
	}
	if r.whenSrc == "" && r.agreementSrc == "" {
		probs.add("%s: needs a when condition or an agreement condition (write `when: true` for a rule that always matches)", r)
	}
	if r.whenSrc != "" {
		prg, usesTarget, err := e.env.compile(st, false, r.whenSrc)
		if err != nil {
			probs.add("%s: when: %v", r, err)
		}
		r.when, r.usesTarget = prg, usesTarget
	}
	if r.agreementSrc != "" {
		prg, usesTarget, err := e.env.compile(st, true, r.agreementSrc)
		if err != nil {
			probs.add("%s: agreement: %v", r, err)
		}
		r.agreement = prg
		r.usesTarget = r.usesTarget || usesTarget
	}
	var err error
	hasRoute := strings.TrimSpace(re.Route) != ""
	if strings.TrimSpace(re.Reason) == "" {
		probs.add("%s: missing reason; every rule says why in a sentence", r)
	} else if r.reason, err = parseTemplate(re.Reason, st, r.agreementSrc != "", hasRoute); err != nil {
		probs.add("%s: reason: %v", r, err)
	}
	if hasRoute {
		if r.decision != legal.RejectOutOfJurisdiction {
			probs.add("%s: a route is named only by a reject_out_of_jurisdiction rule", r)
		} else if r.route, err = parseTemplate(re.Route, st, r.agreementSrc != "", false); err != nil {
			probs.add("%s: route: %v", r, err)
		}
	}
	if probs.len() > n {
		return nil
	}
	return r
}

// problems collects what is wrong with a policy file.
type problems struct{ list []string }

func (p *problems) add(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}
func (p *problems) len() int    { return len(p.list) }
func (p *problems) empty() bool { return len(p.list) == 0 }

func (p *problems) err(op string) error {
	return errors.E(op, errors.Invalid, errors.Str("policy file: "+strings.Join(p.list, "; ")))
}

// list writes values as "a, b or c" in quotes.
func list[T ~string](vs []T) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return joinOr(q)
}

func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
