package interp

// Sealpost patch 68: :index and :last on the header and address tests
// (RFC 5260 section 6), which this fork offered on the date test only.

import (
	"fmt"
)

// fieldIndex is the :index and :last arguments of a test.
type fieldIndex struct {
	Index int // 1-based; 0 means every field
	Last  bool
}

// addTags adds :index and :last to a test's spec.
func (fi *fieldIndex) addTags(s *Spec) *Spec {
	if s.Tags == nil {
		s.Tags = make(map[string]SpecTag, 2)
	}
	s.Tags["index"] = SpecTag{NeedsValue: true, MatchNum: func(v int) { fi.Index = v }}
	s.Tags["last"] = SpecTag{MatchBool: func() { fi.Last = true }}
	return s
}

// check refuses :index without require, :last without :index, and an
// index below 1.
func (fi *fieldIndex) check(s *Script) error {
	if fi.Last && fi.Index == 0 {
		return fmt.Errorf(":last requires :index")
	}
	if fi.Index != 0 || fi.Last {
		if !s.RequiresExtension("index") {
			return fmt.Errorf("missing require 'index'")
		}
		if fi.Index < 1 {
			return fmt.Errorf(":index must be at least 1")
		}
	}
	return nil
}

// pick returns the field values the test looks at: all of them, or the
// one :index names, counted from the end with :last.
func (fi *fieldIndex) pick(values []string) []string {
	if fi.Index == 0 {
		return values
	}
	if fi.Index > len(values) {
		return nil
	}
	i := fi.Index - 1
	if fi.Last {
		i = len(values) - fi.Index
	}
	return values[i : i+1]
}
