package report

import (
	"testing"

	"github.com/sealpost/sealpost/internal/testkit"
)

// TestEveryKindUsed checks that the report has decided, for every kind of
// event, what it counts of it.
func TestEveryKindUsed(t *testing.T) {
	testkit.Covers(t, "the report's uses", uses, nil)
}
