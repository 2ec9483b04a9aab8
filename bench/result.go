package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Result is what one benchmark phase measured.
//
// Ops counts the operations that succeeded (messages delivered, appended or
// fetched, searches run, connections held in IDLE); Errors counts those that
// failed. Bytes counts message bytes moved (the RFC 5322 message, not the
// protocol framing). Latencies holds one entry per timed operation, sorted
// ascending once the phase is over.
type Result struct {
	Phase     string          // e.g. "smtp", "imap fetch"
	Unit      string          // what one op is: "messages", "searches", "connections"
	Ops       int             // operations that succeeded
	Errors    int             // operations that failed
	Bytes     int64           // message bytes moved by the successful operations
	Elapsed   time.Duration   // wall time of the phase
	Latencies []time.Duration // one per timed operation, sorted ascending
	LatencyOf string          // what a latency measures, for the report
	TimedOut  bool            // the phase was cut short by --timeout or a signal
	FirstErr  string          // the first error seen, if any

	Matches int // search: messages matched by the last search

	// Idle phase only.
	Held        int           // connections that reached IDLE
	Hold        time.Duration // how long they were held
	RSSBeforeKB int64         // server VmRSS before connecting, if --pid was given
	RSSAfterKB  int64         // server VmRSS while all connections idle

	// Session phase only.
	Logins   int // sessions that logged in, whole or not
	Commands int // commands of the whole sessions

	Fill *Result // the --fill phase that preceded this one, if any
}

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of sorted, a slice
// sorted in ascending order, by the nearest-rank method: the smallest value
// such that at least p percent of the values are less than or equal to it.
// It returns 0 for an empty slice; p ≤ 0 gives the minimum and p ≥ 100 the
// maximum.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	// p*n/100 rather than p/100*n: the former is exact for whole p and n.
	rank := int(math.Ceil(p * float64(n) / 100))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// OpsPerSecond is Ops divided by the elapsed time in seconds.
func (r *Result) OpsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// MBPerSecond is Bytes in megabytes (10^6 bytes) per elapsed second.
func (r *Result) MBPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds()
}

// recorder gathers one worker's measurements; it is not shared between
// goroutines, and merge folds it into the phase's Result.
type recorder struct {
	ops      int
	errs     int
	bytes    int64
	lat      []time.Duration
	firstErr error
}

func (rec *recorder) ok(d time.Duration, n int64) {
	rec.ops++
	rec.bytes += n
	rec.lat = append(rec.lat, d)
}

func (rec *recorder) fail(err error) {
	rec.errs++
	if rec.firstErr == nil {
		rec.firstErr = err
	}
}

// merge folds the workers' recorders into r and sorts the latencies.
func (r *Result) merge(recs []*recorder) {
	for _, rec := range recs {
		if rec == nil {
			continue
		}
		r.Ops += rec.ops
		r.Errors += rec.errs
		r.Bytes += rec.bytes
		r.Latencies = append(r.Latencies, rec.lat...)
		if r.FirstErr == "" && rec.firstErr != nil {
			r.FirstErr = rec.firstErr.Error()
		}
	}
	slices.Sort(r.Latencies)
}

// WriteText writes a human-readable report of r (and of its Fill phase
// first, if any) to w.
func (r *Result) WriteText(w io.Writer) error {
	if r.Fill != nil {
		if err := r.Fill.WriteText(w); err != nil {
			return err
		}
	}
	p := &errWriter{w: w}
	p.printf("%s: %d %s ok, %d errors in %s", r.Phase, r.Ops, r.Unit, r.Errors, r.Elapsed.Round(time.Millisecond))
	if r.TimedOut {
		p.printf(" (stopped early: timeout or interrupt)")
	}
	p.printf("\n")
	p.printf("  rate     %.1f %s/s", r.OpsPerSecond(), r.Unit)
	if r.Bytes > 0 {
		p.printf(", %.2f MB/s (%d bytes)", r.MBPerSecond(), r.Bytes)
	}
	p.printf("\n")
	if n := len(r.Latencies); n > 0 {
		p.printf("  latency  p50 %s  p90 %s  p99 %s  max %s  (n=%d, %s)\n",
			fmtDur(Percentile(r.Latencies, 50)), fmtDur(Percentile(r.Latencies, 90)),
			fmtDur(Percentile(r.Latencies, 99)), fmtDur(Percentile(r.Latencies, 100)),
			n, r.LatencyOf)
	}
	if r.Phase == phaseSearch {
		p.printf("  matches  %d messages in the last search\n", r.Matches)
	}
	if r.Phase == phaseSession {
		p.printf("  commands %d (%.1f/s), logins %d (%.1f/s)\n", r.Commands, float64(r.Commands)/r.Elapsed.Seconds(),
			r.Logins, float64(r.Logins)/r.Elapsed.Seconds())
	}
	if r.Phase == phaseIdle {
		p.printf("  held     %d connections in IDLE for %s\n", r.Held, r.Hold.Round(time.Millisecond))
		if r.RSSBeforeKB > 0 || r.RSSAfterKB > 0 {
			p.printf("  server   VmRSS %d kB before, %d kB with all connections idle (%+d kB, %.1f kB per connection)\n",
				r.RSSBeforeKB, r.RSSAfterKB, r.RSSAfterKB-r.RSSBeforeKB, perConn(r))
		} else {
			p.printf("  hint     measure the server's memory while connections are held: ps -o rss= -p PID (or pass --pid)\n")
		}
	}
	if r.FirstErr != "" {
		p.printf("  first error: %s\n", r.FirstErr)
	}
	return p.err
}

func perConn(r *Result) float64 {
	if r.Held == 0 {
		return 0
	}
	return float64(r.RSSAfterKB-r.RSSBeforeKB) / float64(r.Held)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

type errWriter struct {
	w   io.Writer
	err error
}

func (p *errWriter) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// jsonLatency is the latency summary in a JSON report, in milliseconds.
type jsonLatency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	Of  string  `json:"of"`
}

type jsonResult struct {
	Phase       string       `json:"phase"`
	Unit        string       `json:"unit"`
	Ops         int          `json:"ops"`
	Errors      int          `json:"errors"`
	Bytes       int64        `json:"bytes"`
	ElapsedS    float64      `json:"elapsed_s"`
	OpsPerS     float64      `json:"ops_per_s"`
	MBPerS      float64      `json:"mb_per_s"`
	LatencyMS   *jsonLatency `json:"latency_ms,omitempty"`
	TimedOut    bool         `json:"timed_out"`
	FirstError  string       `json:"first_error,omitempty"`
	Matches     *int         `json:"matches,omitempty"`
	Held        *int         `json:"held,omitempty"`
	HoldS       float64      `json:"hold_s,omitempty"`
	RSSBeforeKB int64        `json:"rss_before_kb,omitempty"`
	RSSAfterKB  int64        `json:"rss_after_kb,omitempty"`
	Logins      *int         `json:"logins,omitempty"`
	Commands    *int         `json:"commands,omitempty"`
	Fill        *Result      `json:"fill,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MarshalJSON encodes r as a flat summary: rates and latency percentiles
// rather than the raw latencies.
func (r *Result) MarshalJSON() ([]byte, error) {
	j := jsonResult{
		Phase: r.Phase, Unit: r.Unit, Ops: r.Ops, Errors: r.Errors, Bytes: r.Bytes,
		ElapsedS: r.Elapsed.Seconds(), OpsPerS: r.OpsPerSecond(), MBPerS: r.MBPerSecond(),
		TimedOut: r.TimedOut, FirstError: r.FirstErr, Fill: r.Fill,
	}
	if n := len(r.Latencies); n > 0 {
		j.LatencyMS = &jsonLatency{
			N: n, Of: r.LatencyOf,
			P50: ms(Percentile(r.Latencies, 50)), P90: ms(Percentile(r.Latencies, 90)),
			P99: ms(Percentile(r.Latencies, 99)), Max: ms(Percentile(r.Latencies, 100)),
		}
	}
	if r.Phase == phaseSearch {
		j.Matches = &r.Matches
	}
	if r.Phase == phaseSession {
		j.Logins, j.Commands = &r.Logins, &r.Commands
	}
	if r.Phase == phaseIdle {
		j.Held, j.HoldS = &r.Held, r.Hold.Seconds()
		j.RSSBeforeKB, j.RSSAfterKB = r.RSSBeforeKB, r.RSSAfterKB
	}
	return json.Marshal(j)
}

// WriteJSON writes r as one indented JSON object followed by a newline.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// write reports r to w as JSON or text.
func (r *Result) write(w io.Writer, asJSON bool) error {
	if w == nil {
		return nil
	}
	if asJSON {
		return r.WriteJSON(w)
	}
	return r.WriteText(w)
}
