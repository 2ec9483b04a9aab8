package web

import (
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/transparency"
)

// TestEveryAccountKindInWords checks that every kind of event that can be
// about an account, and so shown on its owner's page, has its own words
// there rather than its name in words.
func TestEveryAccountKindInWords(t *testing.T) {
	aboutAccount := func(k sealpost.EventKind) bool {
		tr, known := transparency.TreatmentOf(k)
		return tr.Account || !known // an unknown kind may be about one too
	}
	testkit.Covers(t, "the owner's page's words (kinds)", kinds, aboutAccount, transparency.KindWithheld)
}
