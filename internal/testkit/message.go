package testkit

import (
	"fmt"
	"strings"
)

// PlainMessage is the i'th of a family of 10 KiB messages of ordinary
// lower-case words, addressed to ann@example.org: the text most mail is,
// which the delivery and classifier benchmarks share.
func PlainMessage(i int) []byte {
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
