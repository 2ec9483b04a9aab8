package junk

import (
	"os"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// The SpamAssassin public corpus, fetched by scripts/spamcorpus.sh and
// read by testenv.SpamCorpus, which refuses the held-out groups
// (easy-ham-2 and spam-2: never read by any test, tuning or benchmark of
// ours).
type corpusMsg = testenv.CorpusMessage

// corpusPresent reports whether the corpus has been fetched.
func corpusPresent() bool { return testenv.SpamCorpusPresent() }

// loadCorpus returns the allowed groups' messages.
func loadCorpus(t testing.TB) []corpusMsg { return testenv.SpamCorpus(t) }

// trainSplit trains a new model on the training split.
func trainSplit(all []corpusMsg, k Key) *Model { return trainSplitHash(all, k, hashSipHash) }

// trainSplitHash trains a model of the given token hash on the training
// split.
func trainSplitHash(all []corpusMsg, k Key, kind tokenHash) *Model {
	m := &Model{hash: kind}
	for _, c := range all {
		if c.Train {
			m.Train(k, c.Data, c.Spam)
		}
	}
	return m
}

// TestCorpusAccuracy trains on 70% of easy-ham-1, hard-ham-1 and spam-1
// (by a hash of each file's name) and measures the other 30% against the
// issue's aims: at least 90% of spam caught, under 1% of ham misfiled.
func TestCorpusAccuracy(t *testing.T) {
	all := loadCorpus(t)
	k := Key{1, 2, 3}
	m := trainSplit(all, k)
	st := m.Stats()
	var spam, caught, ham, misfiled, rejected, hamRejected, unsureHam, unsureSpam int
	for _, c := range all {
		if c.Train {
			continue
		}
		p := m.Score(k, c.Data)
		v := m.Verdict(p)
		if c.Spam {
			spam++
			if v >= Junk {
				caught++
			}
			if v == Reject {
				rejected++
			}
			if p > 0.2 && p < 0.8 {
				unsureSpam++
			}
		} else {
			ham++
			if v >= Junk {
				misfiled++
				t.Logf("ham misfiled: %s (%.4f)", c.Name, p)
			}
			if v == Reject {
				hamRejected++
			}
			if p > 0.2 && p < 0.8 {
				unsureHam++
			}
		}
	}
	b, _ := m.MarshalBinary()
	caughtRate, misRate := float64(caught)/float64(spam), float64(misfiled)/float64(ham)
	t.Logf("trained %d ham, %d spam, %d tokens, model %d bytes", st.Ham, st.Spam, st.Tokens, len(b))
	t.Logf("tested %d spam: %d caught (%.2f%%), %d rejected; %d ham: %d misfiled (%.2f%%), %d rejected; 0.2-0.8: %d spam, %d ham",
		spam, caught, 100*caughtRate, rejected, ham, misfiled, 100*misRate, hamRejected, unsureSpam, unsureHam)
	if caughtRate < 0.90 {
		t.Errorf("caught %.2f%% of spam, want at least 90%%", 100*caughtRate)
	}
	if misRate >= 0.01 {
		t.Errorf("misfiled %.2f%% of ham, want under 1%%", 100*misRate)
	}
	if hamRejected > 0 {
		t.Errorf("%d ham messages would be rejected", hamRejected)
	}
}

// TestCorpusTune is how the thresholds were chosen, on the training split
// alone: 5-fold cross-validation inside it, reporting caught and
// misfiled rates at several thresholds. It runs only when
// SEALPOST_JUNK_TUNE is set.
func TestCorpusTune(t *testing.T) {
	if os.Getenv("SEALPOST_JUNK_TUNE") == "" {
		t.Skip("set SEALPOST_JUNK_TUNE=1 to cross-validate on the training split")
	}
	var train []corpusMsg
	for _, c := range loadCorpus(t) {
		if c.Train {
			train = append(train, c)
		}
	}
	k := Key{9}
	thresholds := []float64{0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999, 0.99999, 0.999999, 1 - 1e-9}
	caught := make([]int, len(thresholds))
	mis := make([]int, len(thresholds))
	var nspam, nham int
	const folds = 5
	for f := range folds {
		m := &Model{}
		for i, c := range train {
			if i%folds != f {
				m.Train(k, c.Data, c.Spam)
			}
		}
		for i, c := range train {
			if i%folds != f {
				continue
			}
			p := m.Score(k, c.Data)
			if c.Spam {
				nspam++
			} else {
				nham++
			}
			for j, th := range thresholds {
				if p >= th && c.Spam {
					caught[j]++
				} else if p >= th {
					mis[j]++
				}
			}
		}
	}
	for j, th := range thresholds {
		t.Logf("threshold %.9f: spam caught %.2f%%, ham misfiled %.2f%% (%d)", th,
			100*float64(caught[j])/float64(nspam), 100*float64(mis[j])/float64(nham), mis[j])
	}
}
