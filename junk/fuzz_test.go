package junk

import (
	"testing"
	"unicode/utf8"
)

// FuzzTokenize feeds untrusted messages to Tokenize: it must not panic,
// must stay within its bounds, and yields only valid UTF-8 tokens, each
// once. Seeds are in testdata/fuzz/FuzzTokenize.
func FuzzTokenize(f *testing.F) {
	f.Add(hamMsg(1))
	f.Add(spamMsg(2))
	f.Fuzz(func(t *testing.T, msg []byte) {
		toks := Tokenize(msg)
		if len(toks) > MaxMessageTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		seen := make(map[string]bool, len(toks))
		for _, tok := range toks {
			if seen[tok] {
				t.Fatalf("token %q twice", tok)
			}
			seen[tok] = true
			if !utf8.ValidString(tok) {
				t.Fatalf("token %q is not UTF-8", tok)
			}
		}
		// Scoring and training the same input must not fail either.
		var m Model
		m.Train(Key{}, msg, true)
		m.Score(Key{}, msg)
	})
}
