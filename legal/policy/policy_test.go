package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

func TestDefaultParses(t *testing.T) {
	e, err := Parse(DefaultSource())
	if err != nil {
		t.Fatalf("the embedded default policy does not parse: %v", err)
	}
	if e.Version() == "" || e.Version() != Default().Version() {
		t.Errorf("Version() = %q, Default().Version() = %q", e.Version(), Default().Version())
	}
	if !bytes.Contains(DefaultSource(), []byte("version: \""+e.Version()+"\"")) {
		t.Errorf("DefaultSource does not hold version %q", e.Version())
	}
	// DefaultSource hands out a copy.
	src := DefaultSource()
	src[0] ^= 0xff
	if bytes.Equal(src, DefaultSource()) {
		t.Error("DefaultSource shares its bytes with the caller")
	}
	// Every instrument of the default has a name and every agreement kind
	// is used (Parse checks the latter; the former keeps reasons readable).
	for _, in := range legal.Instruments {
		if name := e.instruments[in].Name; name == "" || name == strings.ReplaceAll(string(in), "_", " ") {
			t.Errorf("default policy: instrument %s has no name of its own", in)
		}
	}
}

func TestParseMinimal(t *testing.T) {
	src, err := os.ReadFile("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(minimal.yaml): %v", err)
	}
	if e.Version() != "test-1" {
		t.Errorf("Version() = %q, want test-1", e.Version())
	}
}

// TestParseErrors checks that every broken file in testdata is refused with
// an error of kind Invalid naming the rule (or entry) and the problem.
func TestParseErrors(t *testing.T) {
	want := map[string][]string{
		"bad-cel.yaml":                   {`rule "interception" (screening, line `, "when:", "Syntax error"},
		"bad-decision.yaml":              {`rule "sufficient" (disclosure`, `unknown decision "approve"`, `"eligible"`},
		"bad-version.yaml":               {"version: missing"},
		"bad-field.yaml":                 {`rule "interception"`, "instrumnt"},
		"bad-category-in-screening.yaml": {`rule "interception"`, "category"},
		"bad-placeholder.yaml":           {`rule "home" (jurisdiction`, "unknown placeholder {nation}"},
		"bad-not-bool.yaml":              {`rule "home"`, "not true or false"},
		"bad-route.yaml":                 {`rule "sufficient"`, "route"},
		"bad-duplicate.yaml":             {`rule "home"`, "unique"},
		"bad-rule-field.yaml":            {`rule "home" (line 21)`, `unknown field "decison"`},
		"bad-top-field.yaml":             {"countreis"},
		"bad-kind.yaml":                  {`"the US-Ireland treaty"`, `kind "mlta"`},
		"bad-instrument.yaml":            {`"search_warant" is not an instrument`},
		"bad-agreement-placeholder.yaml": {`rule "sufficient"`, "{agreement} needs an agreement condition"},
		"bad-no-condition.yaml":          {`rule "sufficient"`, "needs a when condition"},
		"bad-screening-eligible.yaml":    {`rule "interception" (screening`, `unknown decision "eligible"`},
		"bad-yaml.yaml":                  {"policy file:"},
	}
	files, err := filepath.Glob("testdata/bad-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("testdata has %d bad-*.yaml files, the table %d", len(files), len(want))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Parse(src)
			if err == nil {
				t.Fatalf("Parse accepted %s (version %q)", name, e.Version())
			}
			if errors.KindOf(err) != errors.Invalid {
				t.Errorf("kind = %v, want invalid", errors.KindOf(err))
			}
			wants, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for %s; error: %v", name, err)
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	big := append([]byte("version: x\n#"), bytes.Repeat([]byte("a"), maxPolicySize)...)
	if _, err := Parse(big); errors.KindOf(err) != errors.TooLarge {
		t.Errorf("Parse(%d bytes) = %v, want too large", len(big), err)
	}
}

// edit returns the default policy with each old text replaced once by new,
// as an operator would edit a copy. It fails the test if a text is absent.
func edit(t testing.TB, pairs ...string) *Engine {
	t.Helper()
	src := string(DefaultSource())
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(src, pairs[i]) {
			t.Fatalf("default.yaml has no %q to edit", pairs[i])
		}
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	e, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("edited policy: %v", err)
	}
	return e
}

// TestCustomPolicy proves the policy is data: operator edits change
// outcomes, and the decisions record the edited version.
func TestCustomPolicy(t *testing.T) {
	const newVersion = `version: "2027-01-15.1"`
	oldVersion := `version: "` + Default().Version() + `"`

	t.Run("subpoena compels traffic", func(t *testing.T) {
		e := edit(t, oldVersion, newVersion,
			"  subpoena:\n    name: a subpoena\n    compels: [subscriber]",
			"  subpoena:\n    name: a subpoena\n    compels: [subscriber, traffic]")
		d := demand(legal.Subpoena, "US", "", legal.Traffic)
		before := Default().Decide(d, []Target{{"bob@demo.example", regions["us"]}})[0]
		after := e.Decide(d, []Target{{"bob@demo.example", regions["us"]}})[0]
		if before.Decision != legal.RejectInsufficientInstrument || after.Decision != legal.Eligible {
			t.Errorf("subpoena for traffic: default %s, edited %s; want reject_insufficient_instrument then eligible", before.Decision, after.Decision)
		}
		if after.PolicyVersion != "2027-01-15.1" {
			t.Errorf("PolicyVersion = %q, want the edited version", after.PolicyVersion)
		}
	})

	t.Run("MLAT removed", func(t *testing.T) {
		e := edit(t, "  - name: the mutual legal assistance treaty between the United States and Ireland\n    kind: mlat\n    parties: [US, IE]\n", "")
		got := e.Decide(demand(legal.SearchWarrant, "US", "", legal.Content), []Target{{"alice@demo.example", regions["ie"]}})[0]
		if got.Decision != legal.RejectOutOfJurisdiction || got.Route != "Request through the authorities of Ireland" || got.Preserve {
			t.Errorf("without the US-IE MLAT: %s route %q preserve %v; want reject_out_of_jurisdiction through the Irish authorities, no preservation", got.Decision, got.Route, got.Preserve)
		}
	})

	t.Run("US-IE executive agreement added", func(t *testing.T) {
		e := edit(t, "agreements:\n", "agreements:\n  - name: a hypothetical US-Ireland CLOUD Act agreement\n    kind: cloud_act_agreement\n    parties: [US, IE]\n    categories: [subscriber]\n")
		got := e.Decide(demand(legal.SearchWarrant, "US", "", legal.Subscriber, legal.Content), []Target{{"alice@demo.example", regions["ie"]}})[0]
		if got.Decision != legal.Eligible || cat(got, legal.Subscriber) != legal.Eligible || cat(got, legal.Content) != legal.RejectOutOfJurisdiction {
			t.Errorf("with a US-IE agreement for subscriber data: %+v", got)
		}
		if !hasReason(got, "hypothetical US-Ireland CLOUD Act agreement lets") {
			t.Errorf("reasons do not name the agreement: %q", got.Reasons)
		}
	})

	t.Run("rule reading the target", func(t *testing.T) {
		e := edit(t, "  screening:\n", `  screening:
    - name: test-accounts
      when: target.endsWith("@test.example")
      decision: needs_review
      reason: Test accounts are reviewed by hand.
`)
		if !e.perTarget {
			t.Fatal("a rule reads target, but the engine shares outcomes per region")
		}
		got := e.Decide(demand(legal.SearchWarrant, "US", "", legal.Content), []Target{
			{"bob@demo.example", regions["us"]}, {"carol@test.example", regions["us"]}})
		if got[0].Decision != legal.Eligible || got[1].Decision != legal.NeedsReview {
			t.Errorf("same region, different targets: %s and %s; want eligible and needs_review", got[0].Decision, got[1].Decision)
		}
	})

	t.Run("evaluation error fails closed", func(t *testing.T) {
		e := edit(t, "  disclosure:\n", `  disclosure:
    - name: broken
      when: instruments["no_such_instrument"].compels.size() > 0
      decision: eligible
      reason: Never.
`)
		got := e.Decide(demand(legal.SearchWarrant, "US", "", legal.Content), []Target{{"bob@demo.example", regions["us"]}})[0]
		if got.Decision != legal.NeedsReview || !hasReason(got, `Rule "broken"`) {
			t.Errorf("a failing rule: %s %q; want needs_review naming the rule", got.Decision, got.Reasons)
		}
	})

	t.Run("runaway rule stopped", func(t *testing.T) {
		e := edit(t, "  screening:\n", `  screening:
    - name: runaway
      when: >-
        agreements.all(a, agreements.all(b, agreements.all(c,
          agreements.all(d, agreements.all(f, agreements.all(g,
            agreements.all(h, agreements.all(i, a.name != ""))))))))
      decision: needs_review
      reason: Never reached.
`)
		got := e.Decide(demand(legal.SearchWarrant, "US", "", legal.Content), []Target{{"bob@demo.example", regions["us"]}})[0]
		if got.Decision != legal.NeedsReview || !hasReason(got, `Rule "runaway"`) || !hasReason(got, "cost limit") {
			t.Errorf("a runaway rule: %s %q; want needs_review naming the rule and the cost limit", got.Decision, got.Reasons)
		}
	})

	t.Run("no rules fails closed", func(t *testing.T) {
		e, err := Parse([]byte("version: empty\n"))
		if err != nil {
			t.Fatal(err)
		}
		got := e.Decide(demand(legal.SearchWarrant, "US", "", legal.Content), []Target{{"bob@demo.example", regions["us"]}})[0]
		if got.Decision != legal.NeedsReview {
			t.Errorf("a policy without rules decided %s, want needs_review", got.Decision)
		}
	})
}
