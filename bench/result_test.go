package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func ds(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	ten := ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p0", ds(7), 0, 7 * time.Millisecond},
		{"one p50", ds(7), 50, 7 * time.Millisecond},
		{"one p100", ds(7), 100, 7 * time.Millisecond},
		{"ten p0 is min", ten, 0, 1 * time.Millisecond},
		{"ten p10", ten, 10, 1 * time.Millisecond},
		{"ten p11", ten, 11, 2 * time.Millisecond},
		{"ten p50", ten, 50, 5 * time.Millisecond},
		{"ten p90", ten, 90, 9 * time.Millisecond},
		{"ten p99", ten, 99, 10 * time.Millisecond},
		{"ten p100 is max", ten, 100, 10 * time.Millisecond},
		{"ten above 100", ten, 150, 10 * time.Millisecond},
		{"ten below 0", ten, -1, 1 * time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p90", hundred, 90, 90 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred p99.5", hundred, 99.5, 100 * time.Millisecond},
		{"four p50", ds(10, 20, 30, 40), 50, 20 * time.Millisecond},
		{"four p51", ds(10, 20, 30, 40), 51, 30 * time.Millisecond},
		{"three p90", ds(10, 20, 30), 90, 30 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestMergeAndRates(t *testing.T) {
	a := &recorder{}
	a.ok(30*time.Millisecond, 100)
	a.ok(10*time.Millisecond, 200)
	b := &recorder{}
	b.fail(errTest("boom"))
	b.ok(20*time.Millisecond, 700)
	b.fail(errTest("second"))
	r := &Result{Phase: phaseSMTP, Unit: "messages", Elapsed: 2 * time.Second}
	r.merge([]*recorder{a, nil, b})
	if r.Ops != 3 || r.Errors != 2 || r.Bytes != 1000 {
		t.Fatalf("merge: ops %d errors %d bytes %d, want 3 2 1000", r.Ops, r.Errors, r.Bytes)
	}
	if want := ds(10, 20, 30); !equalDurations(r.Latencies, want) {
		t.Errorf("latencies %v, want sorted %v", r.Latencies, want)
	}
	if r.FirstErr != "boom" {
		t.Errorf("FirstErr %q, want boom", r.FirstErr)
	}
	if got := r.OpsPerSecond(); got != 1.5 {
		t.Errorf("OpsPerSecond %v, want 1.5", got)
	}
	if got := r.MBPerSecond(); got != 0.0005 {
		t.Errorf("MBPerSecond %v, want 0.0005", got)
	}
	if (&Result{}).OpsPerSecond() != 0 || (&Result{}).MBPerSecond() != 0 {
		t.Error("zero elapsed should give zero rates")
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReports(t *testing.T) {
	fill := &Result{Phase: phaseAppend, Unit: "messages", Ops: 4, Bytes: 4000, Elapsed: time.Second, Latencies: ds(1, 2, 3, 4)}
	r := &Result{
		Phase: phaseSearch, Unit: "searches", Ops: 10, Errors: 1, Elapsed: 500 * time.Millisecond,
		Latencies: ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), LatencyOf: "one UID SEARCH",
		FirstErr: "NO busy", Matches: 4, Fill: fill,
	}

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"imap append: 4 messages ok", "imap search: 10 searches ok, 1 errors",
		"20.0 searches/s", "p50 5ms", "p90 9ms", "max 10ms", "matches  4", "first error: NO busy",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Phase     string  `json:"phase"`
		Ops       int     `json:"ops"`
		Errors    int     `json:"errors"`
		OpsPerS   float64 `json:"ops_per_s"`
		Matches   *int    `json:"matches"`
		LatencyMS struct {
			N   int     `json:"n"`
			P50 float64 `json:"p50"`
			P99 float64 `json:"p99"`
			Max float64 `json:"max"`
		} `json:"latency_ms"`
		Fill *struct {
			Bytes  int64   `json:"bytes"`
			MBPerS float64 `json:"mb_per_s"`
		} `json:"fill"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("JSON report does not parse: %v\n%s", err, js.String())
	}
	if got.Phase != phaseSearch || got.Ops != 10 || got.Errors != 1 || got.OpsPerS != 20 {
		t.Errorf("JSON summary wrong: %+v", got)
	}
	if got.Matches == nil || *got.Matches != 4 {
		t.Errorf("JSON matches = %v, want 4", got.Matches)
	}
	if got.LatencyMS.N != 10 || got.LatencyMS.P50 != 5 || got.LatencyMS.P99 != 10 || got.LatencyMS.Max != 10 {
		t.Errorf("JSON latency wrong: %+v", got.LatencyMS)
	}
	if got.Fill == nil || got.Fill.Bytes != 4000 || got.Fill.MBPerS != 0.004 {
		t.Errorf("JSON fill wrong: %+v", got.Fill)
	}
}

func TestSpan(t *testing.T) {
	for _, tt := range []struct{ total, n int }{{10, 3}, {3, 3}, {1, 4}, {0, 2}, {1000, 7}} {
		next, covered := 0, 0
		for w := range tt.n {
			lo, hi := span(tt.total, tt.n, w)
			if lo != next || hi < lo {
				t.Fatalf("span(%d,%d,%d) = [%d,%d), want start %d", tt.total, tt.n, w, lo, hi, next)
			}
			if d := hi - lo; d > tt.total/tt.n+1 {
				t.Errorf("span(%d,%d,%d) uneven: %d items", tt.total, tt.n, w, d)
			}
			next, covered = hi, covered+hi-lo
		}
		if covered != tt.total {
			t.Errorf("spans of %d over %d cover %d", tt.total, tt.n, covered)
		}
	}
}
