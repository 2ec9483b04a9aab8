package interp

// Sealpost patch 61: the hasflag test of imap4flags (RFC 5232 section 4),
// which this fork's imap4flags lacked.

import (
	"context"
	"strings"

	"github.com/migadu/go-sieve/parser"
)

// TestHasFlag is
//
//	hasflag [MATCH-TYPE] [COMPARATOR] [<variable-list: string-list>]
//	        <list-of-flags: string-list>
//
// It is true if any flag in the named variables (without a variable list,
// the internal variable) matches any key; with :count, the number of
// distinct flags is compared.
type TestHasFlag struct {
	matcherTest
	Variables []string
}

func (t TestHasFlag) Check(ctx context.Context, d *RuntimeData) (bool, error) {
	var flags []string
	if len(t.Variables) == 0 {
		flags = d.Flags
	} else {
		var values []string
		for _, name := range t.Variables {
			v, err := d.Var(name)
			if err != nil {
				return false, err
			}
			values = append(values, v)
		}
		flags = canonicalFlags(values, nil, d.FlagAliases)
	}
	if t.isCount() {
		n := uint64(0)
		for _, f := range flags {
			if f != "" {
				n++
			}
		}
		return t.countMatches(d, n), nil
	}
	for _, f := range flags {
		if f == "" {
			continue
		}
		ok, err := t.tryMatch(ctx, d, f)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func loadHasFlagTest(s *Script, test parser.Test) (Test, error) {
	if !s.RequiresExtension("imap4flags") {
		return nil, parser.ErrorAt(test.Position, "missing require 'imap4flags'")
	}
	loaded := TestHasFlag{matcherTest: newMatcherTest()}
	var lists [][]string
	collect := func(val []string) { lists = append(lists, val) }
	err := LoadSpec(s, loaded.addSpecTags(&Spec{
		Pos: []SpecPosArg{
			{MatchStr: collect, MinStrCount: 1},
			{MatchStr: collect, MinStrCount: 1, Optional: true},
		},
	}), test.Position, test.Args, test.Tests, nil)
	if err != nil {
		return nil, err
	}
	key := lists[len(lists)-1]
	if len(lists) == 2 {
		if !s.RequiresExtension("variables") {
			return nil, parser.ErrorAt(test.Position, "hasflag: a variable list needs require 'variables'")
		}
		for _, name := range lists[0] {
			if _, gettable := s.IsVarUsable(name); !gettable {
				return nil, parser.ErrorAt(test.Position, "hasflag: invalid variable name %q", name)
			}
		}
		loaded.Variables = lists[0]
	}
	// Flags compare one by one: a key naming several flags matches none.
	for i, k := range key {
		key[i] = strings.TrimSpace(k)
	}
	if err := loaded.setKey(s, key); err != nil {
		return nil, parser.ErrorAt(test.Position, "hasflag: %v", err)
	}
	if loaded.match == MatchRegex && !s.RequiresExtension("regex") {
		return nil, parser.ErrorAt(test.Position, "missing require 'regex'")
	}
	return loaded, nil
}
