package transparency

import (
	"slices"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testkit"
)

// TestEveryKindTreated checks that every kind of event has its Treatment,
// so that adding a kind means deciding how the ledger publishes it.
func TestEveryKindTreated(t *testing.T) {
	testkit.Covers(t, "transparency's treatments", treatments, nil)
	for k, tr := range treatments {
		if tr.Reveals && !tr.Account {
			t.Errorf("kind %s reveals an account's entries but names no account", k)
		}
	}
	if slices.Contains(sealpost.EventKinds(), KindWithheld) {
		t.Errorf("KindWithheld (%s) is an event kind", KindWithheld)
	}
}
