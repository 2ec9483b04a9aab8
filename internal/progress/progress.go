// Package progress reports how far a long command has come: a bar with the
// rate and the time left, redrawn in place, when the output is a terminal;
// a plain line now and then otherwise (a log file, a pipe, CI), so that a
// command run by a script still says it is alive.
//
// A Meter counts items (messages, entries) and optionally bytes. It never
// prints what it counts, only numbers: callers name the work ("importing
// INBOX") and nothing else.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Meter reports the progress of one piece of work. Its methods are safe for
// concurrent use. The zero Meter is not usable: call New.
type Meter struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	label    string
	total    int64 // items expected; 0 when unknown
	done     int64
	bytes    int64
	start    time.Time
	last     time.Time // last report
	every    time.Duration
	now      func() time.Time
	drawn    bool // a bar is on the terminal's current line
	finished bool
}

// Option adjusts a Meter.
type Option func(*Meter)

// Terminal forces (or stops) drawing a bar in place, whatever w is.
func Terminal(tty bool) Option { return func(m *Meter) { m.tty = tty } }

// Every sets how often a report is made at most: by default 200 ms on a
// terminal and 10 s otherwise.
func Every(d time.Duration) Option { return func(m *Meter) { m.every = d } }

// Clock replaces the clock, for tests.
func Clock(now func() time.Time) Option { return func(m *Meter) { m.now = now } }

// New returns a Meter writing to w for work named label with total items
// (0 when the total is not known in advance). Whether w is a terminal
// decides the form, unless an Option says otherwise.
func New(w io.Writer, label string, total int64, opts ...Option) *Meter {
	m := &Meter{w: w, label: label, total: total, tty: IsTerminal(w), now: time.Now}
	for _, o := range opts {
		o(m)
	}
	if m.every == 0 {
		m.every = 10 * time.Second
		if m.tty {
			m.every = 200 * time.Millisecond
		}
	}
	m.start = m.now()
	m.last = m.start
	return m
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// SetTotal changes the number of items expected (when it becomes known).
func (m *Meter) SetTotal(total int64) {
	m.mu.Lock()
	m.total = total
	m.mu.Unlock()
}

// SetLabel renames the work under way (the next folder, say).
func (m *Meter) SetLabel(label string) {
	m.mu.Lock()
	m.label = label
	m.mu.Unlock()
}

// Add counts n more items of size bytes in all, and reports if it is time.
func (m *Meter) Add(n, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done += n
	m.bytes += bytes
	if now := m.now(); now.Sub(m.last) >= m.every {
		m.last = now
		m.report(now)
	}
}

// Done returns the items and bytes counted so far.
func (m *Meter) Done() (items, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done, m.bytes
}

// Finish makes the last report: a final line with the count, the time taken
// and the mean rate. Later calls do nothing.
func (m *Meter) Finish() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.finished {
		return
	}
	m.finished = true
	now := m.now()
	el := now.Sub(m.start)
	if m.drawn {
		fmt.Fprint(m.w, "\r\x1b[K")
		m.drawn = false
	}
	fmt.Fprintf(m.w, "%s: %d%s in %s (%s)\n", m.label, m.done, m.ofTotal(), el.Round(100*time.Millisecond), m.rate(el))
}

func (m *Meter) ofTotal() string {
	if m.total > 0 {
		return fmt.Sprintf("/%d", m.total)
	}
	return ""
}

// rate is the mean rate over el: items per second, and bytes when counted.
func (m *Meter) rate(el time.Duration) string {
	s := el.Seconds()
	if s <= 0 {
		return "-"
	}
	r := fmt.Sprintf("%.0f/s", float64(m.done)/s)
	if m.bytes > 0 {
		r += ", " + Bytes(int64(float64(m.bytes)/s)) + "/s"
	}
	return r
}

// eta is the time left at the mean rate so far, when the total is known.
func (m *Meter) eta(el time.Duration) string {
	if m.total <= 0 || m.done <= 0 || m.done >= m.total {
		return ""
	}
	left := time.Duration(float64(el) * float64(m.total-m.done) / float64(m.done))
	return ", " + left.Round(time.Second).String() + " left"
}

func (m *Meter) report(now time.Time) {
	el := now.Sub(m.start)
	if !m.tty {
		fmt.Fprintf(m.w, "%s: %d%s (%s%s)\n", m.label, m.done, m.ofTotal(), m.rate(el), m.eta(el))
		return
	}
	bar := ""
	if m.total > 0 {
		const width = 30
		f := min(float64(m.done)/float64(m.total), 1)
		full := int(f * width)
		bar = fmt.Sprintf("[%s%s] %3.0f%% ", strings.Repeat("#", full), strings.Repeat(".", width-full), f*100)
	}
	fmt.Fprintf(m.w, "\r\x1b[K%s: %s%d%s (%s%s)", m.label, bar, m.done, m.ofTotal(), m.rate(el), m.eta(el))
	m.drawn = true
}

// Bytes formats n bytes in binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
