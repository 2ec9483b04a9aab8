package sieve

import (
	"context"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testkit"
)

// BenchmarkRun50Rules: a 50-rule script over a 10 KiB message that no rule
// catches (every test runs), as most mail is.
func BenchmarkRun50Rules(b *testing.B) {
	s, err := Compile([]byte(testkit.Rules50()))
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
