package sieve

import (
	"context"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// FuzzCompile: Compile never panics, fails only with Invalid or TooLarge,
// and what compiles runs within its bounds without panicking.
func FuzzCompile(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzCompile.
	msg := testMessage(testHeader, testBody)
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Compile(src)
		if err != nil {
			if k := errors.KindOf(err); k != errors.Invalid && k != errors.TooLarge {
				t.Fatalf("Compile: %v", err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = s.Run(ctx, testEnv, msg)
		if errors.Is(errors.Internal, err) {
			t.Fatalf("Run: %v", err)
		}
	})
}
