package policy

import (
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

func TestTransparencySection(t *testing.T) {
	e := Default()
	if !slices.Equal(e.Withhold(), []legal.Instrument{legal.NationalSecurityRequest}) {
		t.Errorf("default withholds %v", e.Withhold())
	}
	if !slices.Equal(e.CanaryLapsesOn(), []legal.Instrument{legal.NationalSecurityRequest}) {
		t.Errorf("default canary lapses on %v", e.CanaryLapsesOn())
	}
	src := strings.Replace(string(DefaultSource()), "canary_lapses_on: [national_security_request]", "canary_lapses_on: [national_security_request, gag_letter]", 1)
	_, err := Parse([]byte(src))
	if !errors.Is(errors.Invalid, err) || !strings.Contains(err.Error(), `transparency.canary_lapses_on: "gag_letter" is not an instrument`) {
		t.Errorf("an unknown instrument: %v", err)
	}
	src = strings.Replace(string(DefaultSource()), "  withhold: [national_security_request]\n", "  withhold: [national_security_request]\n  publish: all\n", 1)
	if _, err := Parse([]byte(src)); !errors.Is(errors.Invalid, err) {
		t.Errorf("an unknown field in transparency: %v", err)
	}
}
