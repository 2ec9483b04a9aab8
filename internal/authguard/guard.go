package authguard

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/netlimit"
)

// Options are a Guard's penalties. Zero fields take the defaults in
// parentheses.
type Options struct {
	// SourceFree is how many failures a source may have before its
	// attempts are delayed (3); AccountFree, how many an account may have
	// before attempts on it from addresses it has not logged in from are
	// delayed (5).
	SourceFree, AccountFree int
	// BaseDelay is the first delay (1 s); each further failure doubles it,
	// up to MaxDelay (15 s, Dovecot's auth penalty's ceiling).
	BaseDelay, MaxDelay time.Duration
	// Forget is how long failures are remembered after the last one
	// (15 min).
	Forget time.Duration
	// KnownFor is how long a source that logged in to an account stays
	// known to it, and exempt from the account's penalty (30 days).
	KnownFor time.Duration
	// MaxTracked bounds each table (sources, accounts) in entries
	// (100,000); past it, the stalest entries are dropped.
	MaxTracked int
	// Log receives one line per throttling event: a delay, a refusal (at
	// most one a minute per source). Never a password.
	Log *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
}

// An Attempt is one password check: where it came from and for whom. It
// never holds the password.
type Attempt struct {
	Service string     // where the password was given, for logs ("imap", "submission", "web.owner")
	Source  netip.Addr // the client's address; invalid if unknown
	Account string     // the account name as given
}

// Guard throttles password checks. It is safe for concurrent use.
type Guard struct {
	o Options

	mu       sync.Mutex
	sources  map[netip.Prefix]*record
	accounts map[string]*record
	stats    Stats
}

// Stats is what a Guard has counted since it was made.
type Stats struct {
	Failures uint64 // failed checks (wrong password or unknown account)
	Delayed  uint64 // attempts made to wait a penalty
	Refused  uint64 // attempts refused after it (too many waiting)
}

// Stats returns the Guard's counts.
func (g *Guard) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// A record is what is known of one source or account.
type record struct {
	failures int
	last     time.Time                  // of the last failure
	turn     time.Time                  // when the last delayed attempt was let through
	logged   time.Time                  // of the last throttling log line
	unlogged int                        // delays since
	known    map[netip.Prefix]time.Time // accounts: sources that logged in, and when
}

// NewGuard returns a Guard with o's penalties.
func NewGuard(o Options) *Guard {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.SourceFree, 3)
	def(&o.AccountFree, 5)
	def(&o.MaxTracked, 100_000)
	defD(&o.BaseDelay, time.Second)
	defD(&o.MaxDelay, 15*time.Second)
	defD(&o.Forget, 15*time.Minute)
	defD(&o.KnownFor, 30*24*time.Hour)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Guard{o: o, sources: make(map[netip.Prefix]*record), accounts: make(map[string]*record)}
}

// Check runs check, the password check of a, after the delay a's source
// and account have earned, and counts its outcome. check must fail with
// an error of kind errors.Permission for a wrong password and for an
// unknown account alike (the Guard treats both the same, so its delays
// tell nothing about which accounts exist); any other error is not a
// failed attempt. Check returns check's error, or errors.Unavailable if
// ctx ends during the delay.
func (g *Guard) Check(ctx context.Context, a Attempt, check func(context.Context) error) error {
	src, acct := netlimit.Source(a.Source), accountKey(a.Account)
	if d, refuse, why, r := g.delay(src, acct, true); d > 0 {
		g.count(func(st *Stats) {
			st.Delayed++
			if refuse {
				st.Refused++
			}
		})
		g.logOnce(r, "login delayed", "service", a.Service, "source", src.String(), "account", logName(a.Account),
			"delay", d, "reason", why, "refused", refuse)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.E("authguard.Check", errors.Unavailable, ctx.Err())
		}
		if refuse {
			return errors.E("authguard.Check", errors.Unavailable, errors.Str("too many attempts waiting"))
		}
	}
	err := check(ctx)
	switch {
	case err == nil:
		g.succeeded(src, acct)
	case errors.Is(errors.Permission, err):
		n := g.failed(src, acct)
		g.o.Log.Info("login failed", "service", a.Service, "source", src.String(), "account", logName(a.Account), "source_failures", n)
	}
	return err
}

// count changes the Stats under the lock.
func (g *Guard) count(f func(*Stats)) {
	g.mu.Lock()
	f(&g.stats)
	g.mu.Unlock()
}

// Delay is what an attempt from source on account would wait now.
func (g *Guard) Delay(source netip.Addr, account string) time.Duration {
	d, _, _, _ := g.delay(netlimit.Source(source), accountKey(account), false)
	return d
}

// accountKey is the name an account's record is kept under: as given,
// folded, and cut at 320 bytes (longer than any address; the clients
// choose these names, and the table holds MaxTracked of them).
func accountKey(a string) string {
	a = strings.TrimSpace(a)
	if len(a) > 320 {
		a = a[:320]
	}
	return strings.ToLower(a)
}

// logName is an account name as given, for a log line: a client chooses
// it, so it is cut at an address's longest (RFC 5321 4.5.3.1.3 bounds a
// path at 256 octets) and quoted by the logger.
func logName(a string) string {
	if len(a) > 254 {
		return a[:254] + "…"
	}
	return a
}

// delay is how long an attempt from src on acct waits, why, and the record
// that earned it. A penalized source or account is let through once per
// penalty, however many of its attempts wait at once: the nth of n
// parallel attempts waits n penalties (reserve takes the turn). One that
// would wait more than maxWaits penalties is refused instead, after one
// penalty (refuse), so that waiting cannot be stacked without end and a
// refused client gains nothing by coming straight back.
func (g *Guard) delay(src netip.Prefix, acct string, reserve bool) (d time.Duration, refuse bool, why string, by *record) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.o.Now()
	if r := g.fresh(g.sources[src], now); r != nil {
		d, why, by = g.penalty(r.failures-g.o.SourceFree+1), "failures from this address", r
	}
	if r := g.accounts[acct]; r != nil {
		seen, ok := r.known[src]
		known := ok && now.Sub(seen) < g.o.KnownFor
		if f := g.fresh(r, now); f != nil && !known {
			if ad := g.penalty(f.failures - g.o.AccountFree + 1); ad > d {
				d, why, by = ad, "failures on this account", r
			}
		}
	}
	if d == 0 {
		return 0, false, "", nil
	}
	turn := now.Add(d)
	if next := by.turn.Add(d); next.After(turn) {
		turn = next
	}
	wait := turn.Sub(now)
	if wait > maxWaits*d {
		return d, true, why, by
	}
	if reserve {
		by.turn = turn
	}
	return wait, false, why, by
}

// maxWaits bounds, in penalties, how long an attempt may wait its turn.
const maxWaits = 4

// fresh is r if its failures are still remembered at now.
func (g *Guard) fresh(r *record, now time.Time) *record {
	if r == nil || r.failures == 0 || now.Sub(r.last) >= g.o.Forget {
		return nil
	}
	return r
}

// penalty is the delay of the nth attempt past the free failures.
func (g *Guard) penalty(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := g.o.BaseDelay
	for ; n > 1 && d < g.o.MaxDelay; n-- {
		d *= 2
	}
	return min(d, g.o.MaxDelay)
}

// failed counts a failure of src on acct and returns src's count.
func (g *Guard) failed(src netip.Prefix, acct string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.o.Now()
	count := func(r *record) {
		if now.Sub(r.last) >= g.o.Forget {
			r.failures = 0
		}
		r.failures++
		r.last = now
	}
	g.stats.Failures++
	rs := entry(g, g.sources, src, now)
	count(rs)
	count(entry(g, g.accounts, acct, now))
	return rs.failures
}

// succeeded forgets src's failures and makes src known to acct.
func (g *Guard) succeeded(src netip.Prefix, acct string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.o.Now()
	if r := g.sources[src]; r != nil {
		r.failures = 0
	}
	// The account's failures stay: they were someone else's, perhaps,
	// and the owner's addresses are exempt from them anyway.
	r := entry(g, g.accounts, acct, now)
	if r.known == nil {
		r.known = make(map[netip.Prefix]time.Time)
	}
	if len(r.known) >= 32 { // an owner's few places; forget the stalest
		var old netip.Prefix
		for k, t := range r.known {
			if !old.IsValid() || t.Before(r.known[old]) {
				old = k
			}
		}
		delete(r.known, old)
	}
	r.known[src] = now
}

// entry is m's record for k, made if missing; when m is full, records
// whose failures are forgotten and that know no source are dropped first,
// then the stalest half.
func entry[K comparable](g *Guard, m map[K]*record, k K, now time.Time) *record {
	if r := m[k]; r != nil {
		return r
	}
	if len(m) >= g.o.MaxTracked {
		for k, r := range m {
			if now.Sub(r.last) >= g.o.Forget && len(r.known) == 0 {
				delete(m, k)
			}
		}
		for k, r := range m {
			if len(m) < g.o.MaxTracked/2 {
				break
			}
			if len(r.known) == 0 { // map order: an arbitrary half
				delete(m, k)
			}
		}
	}
	r := &record{}
	m[k] = r
	return r
}

// logOnce logs msg at most once a minute per record (source or account),
// with the number of delays it stands for.
func (g *Guard) logOnce(r *record, msg string, args ...any) {
	g.mu.Lock()
	now := g.o.Now()
	r.unlogged++
	n := r.unlogged
	ok := now.Sub(r.logged) >= time.Minute
	if ok {
		r.logged, r.unlogged = now, 0
	}
	g.mu.Unlock()
	if ok {
		g.o.Log.Warn(msg, append(args, "delays", n)...)
	}
}
