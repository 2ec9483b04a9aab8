package junk

import (
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testkit"
)

// plainMessage is testkit's 10 KiB plain-text message, the one postbox's
// delivery benchmark sends: the text the tokenizer's word path sees most.
func plainMessage(i int) []byte { return testkit.PlainMessage(i) }

// BenchmarkTokenizePlain10KiB hashes the tokens of 10 KiB plain-text
// messages, as scoring does (the tokenizer alone, no model lookups).
func BenchmarkTokenizePlain10KiB(b *testing.B) {
	k := Key{3}
	msgs := make([][]byte, 16)
	for i := range msgs {
		msgs[i] = plainMessage(i)
	}
	var m Model
	b.SetBytes(int64(len(msgs[0])))
	for i := 0; b.Loop(); i++ {
		m.putTokenizer(m.hashTokens(k, hashSipHash, msgs[i%len(msgs)]))
	}
}

// BenchmarkScorePlain10KiB scores 10 KiB plain-text messages with a
// trained model.
func BenchmarkScorePlain10KiB(b *testing.B) {
	k := Key{4}
	m := trained(k, 1000)
	msgs := make([][]byte, 16)
	for i := range msgs {
		msgs[i] = plainMessage(i)
	}
	b.SetBytes(int64(len(msgs[0])))
	for i := 0; b.Loop(); i++ {
		m.Score(k, msgs[i%len(msgs)])
	}
}

// BenchmarkWordsPlain10KiB hashes the words and bigrams of the text of a
// 10 KiB plain-text message: the tokenizer's word path alone.
func BenchmarkWordsPlain10KiB(b *testing.B) {
	k := Key{3}
	msg := string(plainMessage(1))
	_, text, _ := strings.Cut(msg, "\r\n\r\n")
	t := newHashTokenizer()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		t.start(k, hashSipHash)
		t.words("", text)
	}
}
