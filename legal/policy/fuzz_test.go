package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/legal"
)

// FuzzParse checks that Parse never panics, whatever the bytes, and that a
// policy it accepts decides without panicking and within the contract: one
// decision per target, each with reasons and the policy's version.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add(DefaultSource())
	targets := []Target{{"a@demo.example", regions["ie"]}, {"b@demo.example", regions["us"]},
		{"c@demo.example", regions["de-us"]}, {"d@demo.example", nil}}
	demands := []legal.Demand{
		demand(legal.SearchWarrant, "US", "", legal.Subscriber, legal.Content),
		demand(legal.MLATRequest, "IE", "US", legal.Traffic),
		demand(legal.PreservationOrder, "DE", "", legal.Categories...),
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		e, err := Parse(src)
		if err != nil {
			return
		}
		for _, d := range demands {
			got := e.Decide(d, targets)
			if len(got) != len(targets) {
				t.Fatalf("%d decisions for %d targets", len(got), len(targets))
			}
			for _, g := range got {
				if len(g.Reasons) == 0 || g.PolicyVersion != e.Version() || g.Decision == "" {
					t.Fatalf("incomplete decision: %+v", g)
				}
			}
		}
	})
}
