package report

import (
	"testing"

	"github.com/sealpost/sealpost/internal/kindtest"
)

// TestEveryKindUsed checks that the report has decided, for every kind of
// event, what it counts of it.
func TestEveryKindUsed(t *testing.T) {
	kindtest.Covers(t, "the report's uses", uses, nil)
}
