package policy

import (
	"fmt"
	"testing"

	"github.com/sealpost/sealpost/legal"
)

// hundred is a 100-target demand's targets, spread over the test regions
// (a tenth without an account).
func hundred() []Target {
	ids := []string{"ie", "us", "de-us", "gb"}
	ts := make([]Target, 100)
	for i := range ts {
		ts[i].Address = fmt.Sprintf("user%d@demo.example", i)
		if i%10 != 9 {
			ts[i].Region = regions[ids[i%len(ids)]]
		}
	}
	return ts
}

func benchDecide(b *testing.B, e *Engine) {
	d := demand(legal.SearchWarrant, "US", "", legal.Categories...)
	ts := hundred()
	d.Targets = make([]string, len(ts))
	for i, t := range ts {
		d.Targets[i] = t.Address
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if got := e.Decide(d, ts); len(got) != len(ts) {
			b.Fatal(len(got))
		}
	}
	b.ReportMetric(float64(b.N*len(ts))/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkDecide100 decides a 100-target demand for all three categories
// with the default policy, compiled once. Targets in one region share an
// outcome, so the rules run once per region and category.
func BenchmarkDecide100(b *testing.B) { benchDecide(b, Default()) }

// BenchmarkDecide100PerTarget is the worst case: a rule reads the target's
// address, so nothing is shared and every target runs every rule.
func BenchmarkDecide100PerTarget(b *testing.B) {
	benchDecide(b, edit(b, "  screening:\n", `  screening:
    - name: test-accounts
      when: target.endsWith("@test.example")
      decision: needs_review
      reason: Test accounts are reviewed by hand.
`))
}

// BenchmarkParseDefault compiles the default policy.
func BenchmarkParseDefault(b *testing.B) {
	src := DefaultSource()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}
