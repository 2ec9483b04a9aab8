package junk

import (
	"fmt"
	"strings"
	"testing"
)

// plainMessage is a 10 KiB message of ordinary lowercase words, like
// postbox's benchMessage (the MX delivery benchmark's): the text the
// tokenizer's word path sees most.
func plainMessage(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Someone <someone%d@example.net>\r\nTo: <ann@example.org>\r\nSubject: the report for week %d\r\nMessage-ID: <%d@example.net>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", i, i, i)
	words := strings.Fields("the quarterly numbers show growth in every region and the team will meet on monday to review budget plans hiring and the roadmap for next year")
	for n := 0; b.Len() < 10<<10; n++ {
		b.WriteString(words[(n*7+i)%len(words)])
		if n%12 == 11 {
			b.WriteString("\r\n")
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

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
		m.putTokenizer(m.hashTokens(k, msgs[i%len(msgs)]))
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
		t.start(k)
		t.words("", text)
	}
}
