package junk

import (
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The SpamAssassin public corpus, fetched by scripts/spamcorpus.sh.
//
// HELD-OUT SET: easy-ham-2 and spam-2 are never read by any test, tuning
// or benchmark of ours; they are kept for a final evaluation that no
// choice of ours has seen. loadGroup refuses their names. Train, tune and
// test only on the groups below.
var (
	hamGroups  = []string{"easy-ham-1", "hard-ham-1"}
	spamGroups = []string{"spam-1"}
	heldOut    = []string{"easy-ham-2", "spam-2"}
)

// corpusPath returns where the corpus is (or would be).
func corpusPath() string {
	if dir := os.Getenv("SEALPOST_SPAM_CORPUS"); dir != "" {
		return dir
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(cache, "sealpost", "spam-assassin")
}

// corpusPresent reports whether the corpus has been fetched.
func corpusPresent() bool {
	dir := corpusPath()
	_, err := os.Stat(filepath.Join(dir, ".complete"))
	return dir != "" && err == nil
}

// corpusDir returns the corpus folder, or skips (fails under
// SEALPOST_REQUIRE_TOOLS) when it is absent.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := corpusPath()
	if !corpusPresent() {
		msg := "spam corpus not found in " + dir + ": run scripts/spamcorpus.sh (or set SEALPOST_SPAM_CORPUS)"
		if os.Getenv("SEALPOST_REQUIRE_TOOLS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// corpusMsg is one message of the corpus.
type corpusMsg struct {
	name  string
	data  []byte
	spam  bool
	train bool // in the deterministic 70% training split
}

// loadGroup reads one allowed group of the corpus. It refuses the
// held-out groups.
func loadGroup(t testing.TB, dir, group string, spam bool) []corpusMsg {
	t.Helper()
	if slices.Contains(heldOut, group) || !slices.Contains(append(slices.Clone(hamGroups), spamGroups...), group) {
		t.Fatalf("corpus group %q may not be read: easy-ham-2 and spam-2 are the held-out set", group)
	}
	ents, err := os.ReadDir(filepath.Join(dir, group))
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusMsg
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".txt") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, group, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := fnv.New32a()
		h.Write([]byte(group + "/" + e.Name()))
		out = append(out, corpusMsg{name: group + "/" + e.Name(), data: b, spam: spam, train: h.Sum32()%10 < 7})
	}
	if len(out) == 0 {
		t.Fatalf("no messages in %s/%s", dir, group)
	}
	return out
}

// loadCorpus returns the allowed groups' messages.
func loadCorpus(t testing.TB) []corpusMsg {
	dir := corpusDir(t)
	var all []corpusMsg
	for _, g := range hamGroups {
		all = append(all, loadGroup(t, dir, g, false)...)
	}
	for _, g := range spamGroups {
		all = append(all, loadGroup(t, dir, g, true)...)
	}
	return all
}

// trainSplit trains a model on the training split.
func trainSplit(all []corpusMsg, k Key) *Model {
	m := &Model{}
	for _, c := range all {
		if c.train {
			m.Train(k, c.data, c.spam)
		}
	}
	return m
}

func TestLoadGroupRefusesHeldOut(t *testing.T) {
	dir := corpusDir(t)
	for _, g := range heldOut {
		ok := t.Run(g, func(t *testing.T) {
			// loadGroup must fail the (sub)test before reading anything.
			ft := &fatalRecorder{TB: t}
			func() {
				defer func() { recover() }()
				loadGroup(ft, dir, g, false)
			}()
			if !ft.failed {
				t.Errorf("loadGroup read held-out group %s", g)
			}
		})
		if !ok {
			t.Fail()
		}
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatalf(string, ...any) { f.failed = true; panic("fatal") }
func (f *fatalRecorder) Fatal(...any)          { f.failed = true; panic("fatal") }
func (f *fatalRecorder) Helper()               {}

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
		if c.train {
			continue
		}
		p := m.Score(k, c.data)
		v := m.Verdict(p)
		if c.spam {
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
				t.Logf("ham misfiled: %s (%.4f)", c.name, p)
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
		if c.train {
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
				m.Train(k, c.data, c.spam)
			}
		}
		for i, c := range train {
			if i%folds != f {
				continue
			}
			p := m.Score(k, c.data)
			if c.spam {
				nspam++
			} else {
				nham++
			}
			for j, th := range thresholds {
				if p >= th && c.spam {
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
