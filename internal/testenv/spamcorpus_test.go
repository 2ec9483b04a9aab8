package testenv

import "testing"

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatalf(string, ...any) { f.failed = true; panic("fatal") }
func (f *fatalRecorder) Fatal(...any)          { f.failed = true; panic("fatal") }
func (f *fatalRecorder) Helper()               {}

// TestSpamCorpusRefusesHeldOut: the held-out groups are never read.
func TestSpamCorpusRefusesHeldOut(t *testing.T) {
	SpamCorpusDir(t)
	for _, g := range append(corpusHeldOut, "no-such-group") {
		ft := &fatalRecorder{TB: t}
		func() {
			defer func() { recover() }()
			SpamCorpus(ft, g)
		}()
		if !ft.failed {
			t.Errorf("SpamCorpus read group %s", g)
		}
	}
}
