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

// Rules50 is a 50-rule Sieve script of the kinds people write (lists by
// List-Id, vendors by sender domain, tickets by subject, +detail tags, a
// spam-level rule); PlainMessage matches none of them, so a run tests
// every rule. The Sieve and delivery benchmarks share it (and
// scripts/bench-filters.sh writes the same rules).
func Rules50() string {
	var b strings.Builder
	b.WriteString(`require ["fileinto", "envelope", "subaddress", "imap4flags", "relational", "comparator-i;ascii-numeric", "mailbox"];` + "\n")
	for i := range 15 {
		fmt.Fprintf(&b, "if header :contains \"list-id\" \"list%d.lists.example.org\" { fileinto :create \"Lists/%d\"; stop; }\n", i, i)
	}
	for i := range 15 {
		fmt.Fprintf(&b, "if address :is :domain \"from\" \"vendor%d.example.com\" { fileinto :create \"Vendors/%d\"; stop; }\n", i, i)
	}
	for i := range 10 {
		fmt.Fprintf(&b, "if header :matches \"subject\" \"*[ticket-%d*]*\" { addflag \"$Ticket\"; fileinto :create \"Tickets\"; stop; }\n", i)
	}
	for i := range 5 {
		fmt.Fprintf(&b, "if envelope :detail \"to\" \"tag%d\" { fileinto :create \"Tags/%d\"; stop; }\n", i, i)
	}
	for i := range 5 {
		fmt.Fprintf(&b, "if header :value \"ge\" :comparator \"i;ascii-numeric\" \"x-spam-level\" \"%d\" { fileinto \"Junk\"; stop; }\n", 10+i)
	}
	return b.String()
}
