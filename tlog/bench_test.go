package tlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// benchEntry is a ~120-byte entry, the size of a typical access event.
func benchEntry(i int) []byte {
	return fmt.Appendf(nil, `{"t":"2026-07-01T12:00:00Z","kind":"access","actor":"support","subject":"b64blindedid%032d"}`, i)
}

// BenchmarkAppendParallel: durable appends per second from many goroutines
// (each Append returns only when its entry is fsync'd and checkpointed).
func BenchmarkAppendParallel(b *testing.B) {
	for _, g := range []int{16, 256, 2048} {
		b.Run("goroutines="+strconv.Itoa(g), func(b *testing.B) {
			l, err := Open(b.TempDir(), testSKey, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ctx := context.Background()
			var next sync.Mutex
			i := 0
			b.ResetTimer()
			var wg sync.WaitGroup
			for range g {
				wg.Go(func() {
					for {
						next.Lock()
						n := i
						i++
						next.Unlock()
						if n >= b.N {
							return
						}
						if _, err := l.Append(ctx, benchEntry(n)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(l.jlen/jrecSize), "commits")
		})
	}
}

// BenchmarkAppendSingle: the latency of one durable append with no other
// load (two fsyncs, run together, and a signature).
func BenchmarkAppendSingle(b *testing.B) {
	l, err := Open(b.TempDir(), testSKey, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := l.Append(ctx, benchEntry(i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

// benchLog is a large log built once per test binary: TLOG_BENCH_SIZE
// entries (default 10,000,000), in a temporary directory TestMain removes.
var benchLog struct {
	once  sync.Once
	l     *Log
	dir   string
	build time.Duration
	err   error
}

func bigLog(b *testing.B) *Log {
	benchLog.once.Do(func() {
		size := 10_000_000
		if s := os.Getenv("TLOG_BENCH_SIZE"); s != "" {
			size, _ = strconv.Atoi(s)
		}
		benchLog.dir, benchLog.err = os.MkdirTemp("", "tlog-bench-")
		if benchLog.err != nil {
			return
		}
		t0 := time.Now()
		benchLog.l, benchLog.err = bulkLog(benchLog.dir, size)
		benchLog.build = time.Since(t0)
	})
	if benchLog.err != nil {
		b.Fatal(benchLog.err)
	}
	b.Logf("log of %d entries built in %v", benchLog.l.Size(), benchLog.build.Round(time.Millisecond))
	return benchLog.l
}

// bulkLog builds a log of n entries through the committer's own commit
// path, in batches of 64 Ki entries hashed on all cores.
func bulkLog(dir string, n int) (*Log, error) {
	l, err := Open(dir, testSKey, Options{})
	if err != nil {
		return nil, err
	}
	const batchSize = 1 << 16
	for first := 0; first < n; first += batchSize {
		bt := &batch{}
		for i := first; i < min(n, first+batchSize); i++ {
			bt.entries = append(bt.entries, benchEntry(i))
		}
		bt.hashes = make([]tlog.Hash, len(bt.entries))
		var wg sync.WaitGroup
		const workers = 4
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(bt.entries); i += workers {
					bt.hashes[i] = tlog.RecordHash(bt.entries[i])
				}
			})
		}
		wg.Wait()
		// The committer is idle (nothing is appended), so calling its
		// commit here is safe.
		if err := l.commit(bt); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// BenchmarkInclusionProof: proof generation latency at a large tree.
func BenchmarkInclusionProof(b *testing.B) {
	l := bigLog(b)
	ctx := context.Background()
	size := l.Size()
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		idx := rng.Uint64N(size)
		t0 := time.Now()
		if _, err := l.InclusionProof(ctx, idx, size); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
	b.ReportMetric(float64(size), "tree-size")
}

// BenchmarkProofBundle: a whole C2SP tlog-proof (entry, proof, checkpoint).
func BenchmarkProofBundle(b *testing.B) {
	l := bigLog(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := l.ProofBundle(ctx, rng.Uint64N(l.Size())); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkConsistencyProof: between random sizes of the large tree.
func BenchmarkConsistencyProof(b *testing.B) {
	l := bigLog(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		old := 1 + rng.Uint64N(l.Size()-1)
		t0 := time.Now()
		if _, err := l.ConsistencyProof(ctx, old, l.Size()); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkTileServing: full level-0 tiles and entry bundles served by
// Handler, from all cores; in process, and over loopback HTTP.
func BenchmarkTileServing(b *testing.B) {
	l := bigLog(b)
	h := l.Handler()
	nt := l.Size() / TileWidth
	paths := func(seed uint64) func() string {
		rng := rand.New(rand.NewPCG(seed, 7))
		return func() string {
			n := rng.Uint64N(nt)
			if rng.IntN(2) == 0 {
				return "/" + TileResource(0, n, 0).String()
			}
			return "/" + EntriesResource(n, 0).String()
		}
	}
	b.Run("handler", func(b *testing.B) {
		var seed uint64
		var mu sync.Mutex
		var bytes int64
		b.RunParallel(func(pb *testing.PB) {
			mu.Lock()
			seed++
			next := paths(seed)
			mu.Unlock()
			var n int64
			for pb.Next() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", next(), nil))
				if rec.Code != 200 {
					b.Errorf("status %d", rec.Code)
					return
				}
				n += int64(rec.Body.Len())
			}
			mu.Lock()
			bytes += n
			mu.Unlock()
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tiles/s")
		b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
	})
	b.Run("loopback", func(b *testing.B) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		var seed uint64
		var mu sync.Mutex
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			mu.Lock()
			seed++
			next := paths(seed + 100)
			mu.Unlock()
			buf := make([]byte, 64<<10)
			for pb.Next() {
				resp, err := client.Get(srv.URL + next())
				if err != nil {
					b.Error(err)
					return
				}
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tiles/s")
	})
}

// BenchmarkRecordHash: hashing alone, the ceiling for appends.
func BenchmarkRecordHash(b *testing.B) {
	e := benchEntry(1)
	for b.Loop() {
		tlog.RecordHash(e)
	}
}

// BenchmarkVerify: a full audit of the large log, in process (every entry
// rehashed, every tile compared).
func BenchmarkVerify(b *testing.B) {
	l := bigLog(b)
	f := HandlerFetcher(l.Handler())
	for b.Loop() {
		if _, err := Verify(context.Background(), f, testVKey, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(l.Size())*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
