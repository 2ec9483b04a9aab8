package outbound

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testkit"
)

// BenchmarkDeliverRelay measures delivery from the sealed queue: b.N
// messages of SEALPOST_BENCH_SIZE bytes (10 KiB) are sealed and queued
// first, untimed; then the timed part opens each one and hands it to the
// relay at SEALPOST_BENCH_RELAY (e.g. `sealpost bench sink`, to compare
// with Postfix relaying to the same sink, scripts/bench-outbound.sh), or
// to an in-process go-smtp server when unset. 20 connections to the one
// destination, 100 messages each, as Postfix's default destination
// concurrency of 20 allows it.
func BenchmarkDeliverRelay(b *testing.B) {
	size := 10240
	if v, err := strconv.Atoi(os.Getenv("SEALPOST_BENCH_SIZE")); err == nil && v > 0 {
		size = v
	}
	relay := os.Getenv("SEALPOST_BENCH_RELAY")
	if relay != "" && b.N == 1 {
		// The testing package's first, probing run: an outside sink
		// counts exactly the -benchtime Nx messages of the real one.
		return
	}
	if relay == "" {
		relay = newPeer(b, "127.0.0.1", peerOptions{}).addr
	}
	e := newEnv(b, Options{Relay: Relay{Addr: relay, TLS: RelayPlain}, Concurrency: 20, PerDomain: 20, PerConnection: 100})
	body := bytes.Repeat([]byte("All work and no play makes Jack a dull boy.\r\n"), size/45+1)
	const batch = 200
	ctx := context.Background()
	for i := 0; i < b.N; i += batch {
		var ms []sealpost.QueuedMessage
		for j := i; j < min(i+batch, b.N); j++ {
			msg := fmt.Appendf(nil, "From: bench@sealpost.example.test\r\nTo: sink@bench.test\r\nSubject: %d\r\nMessage-ID: <%d@bench>\r\n\r\n%s", j, j, body[:size])
			var sealed bytes.Buffer
			testkit.Must(b, e.key.Seal(&sealed, msg))
			ref, err := e.blobs.Put(ctx, sealed.Bytes())
			testkit.Must(b, err)
			ms = append(ms, sealpost.QueuedMessage{From: "bench@sealpost.example.test", Recipients: []string{"sink@bench.test"},
				Blob: ref, Size: int64(len(msg)), Queued: e.clock.Now(), NextTry: e.clock.Now()})
		}
		_, err := e.store.Enqueue(ctx, ms)
		testkit.Must(b, err)
	}
	// Count what leaves the queue, rather than read the queue to see.
	cq := &countingQueue{QueueStore: e.store, all: make(chan struct{}), want: int64(b.N)}
	o := e.svc.o
	o.Queue = cq
	svc, err := New(o)
	testkit.Must(b, err)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(run); close(done) }()
	<-cq.all
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if n := e.notices(); len(n) != 0 {
		b.Fatalf("%d bounces during the benchmark", len(n))
	}
}

// countingQueue closes all once want entries have been dequeued.
type countingQueue struct {
	sealpost.QueueStore
	n, want int64
	all     chan struct{}
	mu      sync.Mutex
}

func (q *countingQueue) Dequeue(ctx context.Context, id int64) ([]sealpost.BlobRef, error) {
	refs, err := q.QueueStore.Dequeue(ctx, id)
	if err == nil {
		q.mu.Lock()
		if q.n++; q.n == q.want {
			close(q.all)
		}
		q.mu.Unlock()
	}
	return refs, err
}
