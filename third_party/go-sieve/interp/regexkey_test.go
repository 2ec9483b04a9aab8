package interp

import (
	"context"
	"reflect"
	"testing"
)

// Sealpost patch 77's test: a :regex key compiled at load answers as
// testString, which compiles it per value, does.

var regexComparators = []Comparator{ComparatorOctet, ComparatorASCIICaseMap, ComparatorUnicodeCaseMap}

func checkRegexKey(t *testing.T, key, value string) {
	t.Helper()
	ctx := context.Background()
	for _, c := range regexComparators {
		m := compileRegexKey(c, key)
		wantOK, want, wantErr := testString(ctx, c, MatchRegex, "", value, key)
		if m == nil {
			if wantErr == nil {
				t.Fatalf("%s %q: not compiled, but testString compiles it", c, key)
			}
			continue
		}
		ok, got, err := m(ctx, value)
		if ok != wantOK || !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) {
			t.Fatalf("%s %q on %q: %v %q %v, testString %v %q %v", c, key, value, ok, got, err, wantOK, want, wantErr)
		}
	}
	if compileRegexKey(ComparatorASCIINumeric, key) != nil {
		t.Fatalf("%q: compiled for i;ascii-numeric", key)
	}
}

func TestRegexKey(t *testing.T) {
	for _, c := range [][2]string{
		{`^re: \[(ticket)-([0-9]+)\]`, "RE: [TICKET-12] x"},
		{`^re: \[(ticket)-([0-9]+)\]`, "re: [ticket-12] x"},
		{`(?i)ÉTÉ`, "été"},
		{`été`, "ÉTÉ"},
		{`a(`, "a("},
		{``, ""},
	} {
		checkRegexKey(t, c[0], c[1])
	}
}

func FuzzRegexKey(f *testing.F) {
	f.Add(`^re: \[(ticket)-([0-9]+)\]`, "RE: [TICKET-12] x")
	f.Add(`(?i)straße`, "STRASSE")
	f.Add(`[[:upper:]]+`, "ABC")
	f.Fuzz(func(t *testing.T, key, value string) {
		if len(key) > DefaultRegexLimits.MaxPatternLength || len(value) > syncMatchInputThreshold {
			return
		}
		checkRegexKey(t, key, value)
	})
}
