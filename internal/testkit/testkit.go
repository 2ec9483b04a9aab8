// Package testkit holds the small helpers unit tests across the project
// share: failing on an error, wanting an error of a kind, a clock a test
// moves by hand, a buffer safe for concurrent use, a plain 10 KiB message
// for benchmarks, and the check that every table keyed by event kind covers
// every kind. It is imported only by tests.
package testkit

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// Must fails the test at once if err is not nil.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WantKind reports an error (and goes on) unless err has the given kind.
func WantKind(t testing.TB, what string, err error, kind errors.Kind) {
	t.Helper()
	if !errors.Is(kind, err) {
		t.Errorf("%s: got %v, want a %v error", what, err, kind)
	}
}

// Clock is a clock that moves only when told. Its zero value reads the
// zero time; it is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now reads the clock; pass c.Now wherever a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Buffer is a bytes.Buffer safe for concurrent writers and readers: a
// log handler's output, or a command's, read while it still runs.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
