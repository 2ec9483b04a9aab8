package interp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// matcherTest contains code shared between tests
// such as 'header', 'address', 'envelope', 'string' -
// all tests that compare some values from message
// with pre-defined "key"
type matcherTest struct {
	comparator Comparator
	match      Match
	relational Relational
	key        []string

	// Used for keys without variables.
	keyCompiled []CompiledMatcher

	matchCnt int
}

func newMatcherTest() matcherTest {
	return matcherTest{
		comparator: DefaultComparator,
		match:      MatchIs,
	}
}

func (t *matcherTest) addSpecTags(s *Spec) *Spec {
	if s.Tags == nil {
		s.Tags = make(map[string]SpecTag, 4)
	}
	s.Tags["comparator"] = SpecTag{
		NeedsValue:  true,
		MinStrCount: 1,
		MaxStrCount: 1,
		MatchStr: func(val []string) {
			t.comparator = Comparator(val[0])
		},
		NoVariables: true,
	}
	s.Tags["is"] = SpecTag{
		MatchBool: func() {
			t.match = MatchIs
			t.matchCnt++
		},
	}
	s.Tags["contains"] = SpecTag{
		MatchBool: func() {
			t.match = MatchContains
			t.matchCnt++
		},
	}
	s.Tags["matches"] = SpecTag{
		MatchBool: func() {
			t.match = MatchMatches
			t.matchCnt++
		},
	}
	s.Tags["regex"] = SpecTag{
		MatchBool: func() {
			t.match = MatchRegex
			t.matchCnt++
		},
	}
	s.Tags["value"] = SpecTag{
		NeedsValue:  true,
		MinStrCount: 1,
		MaxStrCount: 1,
		NoVariables: true,
		MatchStr: func(val []string) {
			t.match = MatchValue
			t.matchCnt++
			t.relational = Relational(val[0])
		},
	}
	s.Tags["count"] = SpecTag{
		NeedsValue:  true,
		MinStrCount: 1,
		MaxStrCount: 1,
		NoVariables: true,
		MatchStr: func(val []string) {
			t.match = MatchCount
			t.matchCnt++
			t.relational = Relational(val[0])
		},
	}
	return s
}

func (t *matcherTest) setKey(s *Script, k []string) error {
	t.key = k

	if t.matchCnt > 1 {
		return fmt.Errorf("multiple match-types are not allowed")
	}

	if t.match == MatchCount || t.match == MatchValue {
		if !s.RequiresExtension("relational") {
			return fmt.Errorf("missing require 'relational'")
		}
		switch t.relational {
		case RelGreaterThan, RelGreaterOrEqual,
			RelLessThan, RelLessOrEqual, RelEqual,
			RelNotEqual:
		default:
			return fmt.Errorf("unknown relational operator: %v", t.relational)
		}
	}

	caseFold := false
	octet := false
	switch t.comparator {
	case ComparatorOctet:
		octet = true
	case ComparatorUnicodeCaseMap:
		caseFold = true
	case ComparatorASCIICaseMap:
		octet = true
		caseFold = true
	case ComparatorASCIINumeric:
	default:
		return fmt.Errorf("unsupported comparator: %v", t.comparator)
	}

	if t.match == MatchMatches {
		t.keyCompiled = make([]CompiledMatcher, len(t.key))
		for i := range t.key {
			if len(usedVars(s, t.key[i])) > 0 {
				continue
			}

			var err error
			t.keyCompiled[i], err = compileMatcher(t.key[i], octet, caseFold)
			if err != nil {
				return fmt.Errorf("malformed pattern (%v): %v", t.key[i], err)
			}
		}
	}

	if t.match == MatchRegex { // Sealpost patch 77
		t.keyCompiled = make([]CompiledMatcher, len(t.key))
		for i := range t.key {
			if len(usedVars(s, t.key[i])) == 0 {
				t.keyCompiled[i] = compileRegexKey(t.comparator, t.key[i])
			}
		}
	}

	// Note: :count always performs numeric comparison internally via countMatches(),
	// regardless of the comparator setting. The comparator is not used for :count.

	if (t.match == MatchContains || t.match == MatchMatches) && t.comparator == ComparatorASCIINumeric {
		return fmt.Errorf("numeric comparator cannot be used with :contains or :matches")
	}

	return nil
}

func (t *matcherTest) isCount() bool {
	return t.match == MatchCount
}

func (t *matcherTest) countMatches(d *RuntimeData, value uint64) bool {
	if !t.isCount() {
		panic("countMatches can be called only with MatchCount matcher")
	}

	for _, k := range t.key {
		kNum, err := strconv.ParseUint(expandVars(d, k), 10, 64)
		if err != nil {
			continue
		}

		if t.relational.CompareUint64(value, kNum) {
			return true
		}
	}

	return false
}

func (t *matcherTest) tryMatch(ctx context.Context, d *RuntimeData, source string) (bool, error) {
	for i, key := range t.key {
		// Honour the script execution deadline between keys so a test with
		// many keys/values can't run past the budget.
		if err := ctx.Err(); err != nil {
			return false, err
		}

		var (
			ok      bool
			matches []string
			err     error
		)
		if t.keyCompiled != nil && t.keyCompiled[i] != nil {
			ok, matches, err = t.keyCompiled[i](ctx, source)
		} else {
			key = expandVars(d, key)
			ok, matches, err = testString(ctx, t.comparator, t.match, t.relational, source, expandVars(d, key))

			// RFC 5231, Section 5.4:
			// With the "i;ascii-numeric" comparator, a numeric comparison is
			// performed.
			if t.match == MatchValue && t.comparator == ComparatorASCIINumeric {
				var lhs, rhs *uint64
				if l, err := strconv.ParseUint(source, 10, 64); err == nil {
					lhs = &l
				}
				if r, err := strconv.ParseUint(key, 10, 64); err == nil {
					rhs = &r
				}

				ok = t.relational.CompareNumericValue(lhs, rhs)
				// No match variables for :value
				matches = nil
				err = nil
			}

		}
		if err != nil {
			return false, err
		}
		if ok {
			if t.match == MatchMatches || t.match == MatchRegex {
				d.MatchVariables = matches
			}
			return true, nil
		}
	}
	return false, nil
}

// compileRegexKey compiles a :regex key without variables once, when the
// script is loaded (Sealpost patch 77: upstream compiled it for every
// value of every run). The matcher answers as testString does for the
// comparator: the value lower-cased under the case-insensitive ones, the
// pattern as written. It is nil where testString must answer (a
// comparator without :regex, a pattern that does not compile: the run
// reports that error, as upstream did).
func compileRegexKey(c Comparator, key string) CompiledMatcher {
	var fold func(string) string
	switch c {
	case ComparatorOctet:
		fold = func(v string) string { return v }
	case ComparatorASCIICaseMap:
		fold = toLowerASCII
	case ComparatorUnicodeCaseMap:
		fold = strings.ToLower
	default:
		return nil
	}
	m, err := CompileSafeRegex(key, DefaultRegexLimits)
	if err != nil {
		return nil
	}
	return func(ctx context.Context, value string) (bool, []string, error) {
		matches, err := m.FindSubmatch(ctx, fold(value))
		if err != nil || matches == nil {
			return false, nil, err
		}
		return true, matches, nil
	}
}
