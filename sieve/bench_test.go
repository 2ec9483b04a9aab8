package sieve

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// rules50 is a realistic 50-rule script: list filing by List-Id and
// sender, subject and spam-score rules, envelope detail rules.
func rules50() string {
	var b strings.Builder
	b.WriteString(`require ["fileinto", "envelope", "subaddress", "imap4flags", "relational", "comparator-i;ascii-numeric", "mailbox"];` + "\n")
	for i := 0; i < 15; i++ {
		fmt.Fprintf(&b, "if header :contains \"list-id\" \"list%d.lists.example.org\" { fileinto \"Lists/%d\"; stop; }\n", i, i)
	}
	for i := 0; i < 15; i++ {
		fmt.Fprintf(&b, "if address :is :domain \"from\" \"vendor%d.example.com\" { fileinto :create \"Vendors/%d\"; stop; }\n", i, i)
	}
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "if header :matches \"subject\" \"*[ticket-%d*]*\" { addflag \"$Ticket\"; fileinto \"Tickets\"; stop; }\n", i)
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "if envelope :detail \"to\" \"tag%d\" { fileinto \"Tags/%d\"; stop; }\n", i, i)
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "if header :value \"ge\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"%d\" { fileinto \"Junk\"; stop; }\n", 10+i)
	}
	return b.String()
}

// BenchmarkRun50Rules: a 50-rule script over a 10 KiB message that no rule
// catches (every test runs), as most mail is.
func BenchmarkRun50Rules(b *testing.B) {
	s, err := Compile([]byte(rules50()))
	if err != nil {
		b.Fatal(err)
	}
	hdr := testHeader
	body := strings.Repeat("The quick brown fox jumps over the lazy dog again and again.\r\n", 10<<10/62)
	msg := testMessage(hdr, body)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(hdr) + len(body)))
	for b.Loop() {
		p, err := s.Run(ctx, testEnv, msg)
		if err != nil || !p.Keep {
			b.Fatalf("%+v %v", p, err)
		}
	}
}
