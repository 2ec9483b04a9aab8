// Package netlimit bounds what clients can hold of a server's listeners:
// connections at once on each listener and in all of them together, from
// one source address, and, before a client has authenticated, how many it
// may keep waiting and for how long. It also puts a deadline on a
// connection's first exchange (the TLS handshake of an implicit-TLS port),
// which the protocol libraries do not, and raises the process's descriptor
// limit so that the bounds, not the kernel, decide who is refused.
//
// A refused connection is closed at once after an optional line in the
// listener's protocol (SMTP's 421, IMAP's BYE, HTTP's 503), written with a
// short deadline; the protocol server never sees it. Everything is counted
// per source: an IPv4 address, or an IPv6 /64 (one host's usual share).
package netlimit

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// Pool is the bound on connections shared by several listeners. Its zero
// value has no bound; it is safe for concurrent use.
type Pool struct {
	Max int64 // connections at once, all listeners together; 0: no bound
	n   atomic.Int64
}

func (p *Pool) acquire() bool {
	if p == nil {
		return true
	}
	if n := p.n.Add(1); p.Max > 0 && n > p.Max {
		p.n.Add(-1)
		return false
	}
	return true
}

func (p *Pool) release() {
	if p != nil {
		p.n.Add(-1)
	}
}

// Open returns how many connections the pool holds.
func (p *Pool) Open() int64 { return p.n.Load() }

// Options bound one listener. Zero means no bound.
type Options struct {
	Name string // the listener's name, for the log
	// Pool is the bound shared with the other listeners (may be nil).
	Pool *Pool
	// Max is the bound on this listener's connections at once.
	Max int
	// PerSource bounds one source's connections at once.
	PerSource int
	// PreAuthPerSource bounds one source's connections that have not
	// authenticated (see Promote); PreAuthLifetime is how long such a
	// connection may stay unauthenticated before it is closed.
	PreAuthPerSource int
	PreAuthLifetime  time.Duration
	// TLS, if set, makes this an implicit-TLS listener: Accept returns a
	// *tls.Conn (protocol servers look for that type).
	TLS *tls.Config
	// FirstDeadline bounds a new connection's first exchange: the read
	// and write deadlines set on it before the protocol server takes it,
	// which the server's own deadlines replace as soon as it sets them.
	// On an implicit-TLS listener it is the bound on the handshake.
	FirstDeadline time.Duration
	// Refusal is written to a refused connection before it is closed
	// (plain-text listeners only; e.g. "421 4.7.0 ...\r\n").
	Refusal []byte
	Log     *slog.Logger
}

// Listener is a net.Listener that enforces Options.
type Listener struct {
	inner net.Listener
	o     Options

	mu      sync.Mutex
	open    int
	authed  int // connections promoted, not yet closed
	sources map[netip.Prefix]*source
	lastLog time.Time
	refused int // since the last log line
	stats   Stats
}

// Refusal reasons, for Stats: why a connection was closed unserved.
const (
	RefusedListener = iota // the listener's Max
	RefusedSource          // PerSource
	RefusedPreAuth         // PreAuthPerSource
	RefusedPool            // the shared Pool's Max
	NumRefused
)

// RefusedName is the name of refusal reason i (a metric label).
func RefusedName(i int) string {
	switch i {
	case RefusedListener:
		return "listener"
	case RefusedSource:
		return "source"
	case RefusedPreAuth:
		return "preauth"
	case RefusedPool:
		return "server"
	}
	return "other"
}

// Stats is what a listener has counted since it was wrapped.
type Stats struct {
	Open     int // connections held now
	Authed   int // of those, authenticated (see Promote)
	Accepted uint64
	Refused  [NumRefused]uint64 // by reason, RefusedListener...
}

// Stats returns the listener's counts.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats
	st.Open, st.Authed = l.open, l.authed
	return st
}

type source struct{ all, preAuth int }

var _ net.Listener = (*Listener)(nil)

// Wrap returns ln bounded by o.
func Wrap(ln net.Listener, o Options) *Listener {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Listener{inner: ln, o: o, sources: make(map[netip.Prefix]*source)}
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Close implements net.Listener.
func (l *Listener) Close() error { return l.inner.Close() }

// Accept returns the next connection within the bounds; those beyond are
// refused here and never returned. A temporary failure to accept (out of
// descriptors) is waited out rather than returned.
func (l *Listener) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.IsErr(err, syscall.EMFILE) || errors.IsErr(err, syscall.ENFILE) {
				l.o.Log.Warn("accept failed, retrying", "listener", l.o.Name, "err", err, "wait", delay)
				time.Sleep(delay)
				delay = min(2*delay, time.Second)
				continue
			}
			return nil, err
		}
		delay = 5 * time.Millisecond
		key := sourceOf(c.RemoteAddr())
		if why, reason := l.acquire(key); why != "" {
			l.refuse(c, key, why, reason)
			continue
		}
		lc := &conn{Conn: c, l: l, key: key, preAuth: true}
		if l.o.PreAuthLifetime > 0 {
			lc.mu.Lock() // the timer's Close reads it
			lc.timer = time.AfterFunc(l.o.PreAuthLifetime, lc.expire)
			lc.mu.Unlock()
		}
		if l.o.FirstDeadline > 0 {
			c.SetDeadline(time.Now().Add(l.o.FirstDeadline))
		}
		if l.o.TLS != nil {
			return l.handshakeBounded(lc), nil
		}
		return lc, nil
	}
}

// handshakeBounded is c in TLS, closed at FirstDeadline unless the client
// has done its part of the handshake by then. The server's own deadlines
// replace the one Accept set as soon as it writes a greeting (which is
// what starts the handshake), so the bound is a timer, and the handshake's
// progress is seen through VerifyConnection, which crypto/tls calls on
// every server handshake, with or without client certificates, after the
// client's key exchange.
func (l *Listener) handshakeBounded(c *conn) *tls.Conn {
	if l.o.FirstDeadline <= 0 {
		return tls.Server(c, l.o.TLS)
	}
	var done atomic.Bool
	cfg := l.o.TLS.Clone()
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		done.Store(true)
		if verify != nil {
			return verify(cs)
		}
		return nil
	}
	time.AfterFunc(l.o.FirstDeadline, func() {
		if !done.Load() {
			l.o.Log.Debug("TLS handshake not done in time", "listener", l.o.Name, "source", c.key.String())
			c.Close()
		}
	})
	return tls.Server(c, cfg)
}

// acquire counts a new connection from key, or says why it is refused
// (and the reason's index in Stats.Refused).
func (l *Listener) acquire(key netip.Prefix) (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sources[key]
	if s == nil {
		s = &source{}
	}
	switch {
	case l.o.Max > 0 && l.open >= l.o.Max:
		return "listener full", RefusedListener
	case l.o.PerSource > 0 && s.all >= l.o.PerSource:
		return "too many from this source", RefusedSource
	case l.o.PreAuthPerSource > 0 && s.preAuth >= l.o.PreAuthPerSource:
		return "too many unauthenticated from this source", RefusedPreAuth
	case !l.o.Pool.acquire():
		return "server full", RefusedPool
	}
	l.stats.Accepted++
	l.open++
	s.all++
	s.preAuth++
	l.sources[key] = s
	return "", 0
}

// release forgets a connection from key (preAuth: it never authenticated).
func (l *Listener) release(key netip.Prefix, preAuth bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if !preAuth {
		l.authed--
	}
	l.o.Pool.release()
	s := l.sources[key]
	if s == nil {
		return
	}
	s.all--
	if preAuth {
		s.preAuth--
	}
	if s.all <= 0 {
		delete(l.sources, key)
	}
}

// promote moves a connection from key out of the unauthenticated count.
func (l *Listener) promote(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.authed++
	if s := l.sources[key]; s != nil {
		s.preAuth--
	}
}

// refuse writes the refusal line (if any) and closes c, in the
// background; it logs at most one line every ten seconds per listener.
func (l *Listener) refuse(c net.Conn, key netip.Prefix, why string, reason int) {
	l.mu.Lock()
	l.refused++
	l.stats.Refused[reason]++
	now := time.Now()
	logIt := now.Sub(l.lastLog) >= 10*time.Second
	n := l.refused
	if logIt {
		l.lastLog, l.refused = now, 0
	}
	l.mu.Unlock()
	if logIt {
		l.o.Log.Warn("connections refused", "listener", l.o.Name, "reason", why, "source", key.String(), "refused", n)
	}
	go func() {
		if len(l.o.Refusal) > 0 && l.o.TLS == nil {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write(l.o.Refusal)
		}
		c.Close()
	}()
}

// conn is an accepted connection; closing it releases its place.
type conn struct {
	net.Conn
	l     *Listener
	key   netip.Prefix
	timer *time.Timer

	mu      sync.Mutex
	preAuth bool
	closed  bool
}

func (c *conn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if c.timer != nil {
			c.timer.Stop()
		}
		c.l.release(c.key, c.preAuth)
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// expire closes a connection still unauthenticated at the end of its
// lifetime.
func (c *conn) expire() {
	c.mu.Lock()
	pre := c.preAuth && !c.closed
	c.mu.Unlock()
	if pre {
		c.l.o.Log.Debug("unauthenticated connection closed at the end of its time", "listener", c.l.o.Name, "source", c.key.String())
		c.Close()
	}
}

func (c *conn) promote() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.preAuth || c.closed {
		return
	}
	c.preAuth = false
	if c.timer != nil {
		c.timer.Stop()
	}
	c.l.promote(c.key)
}

// Promote tells the listener that c (as accepted from a Listener, or the
// *tls.Conn around it) has authenticated: it no longer counts against the
// unauthenticated bounds, and its lifetime ends. Other connections are
// left alone.
func Promote(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*conn); ok {
		lc.promote()
	}
}

// sourceOf is the source a remote address is counted under (Source), one
// zero prefix for anything but IP (a Unix socket).
func sourceOf(a net.Addr) netip.Prefix { return Source(AddrOf(a)) }

// Source is the unit an address is counted under, here and by the login
// throttle: the address itself for IPv4 (and IPv4-mapped IPv6), its /64
// for IPv6 (one subscriber's network), one zero prefix for an invalid
// address.
func Source(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.WithZone("").Prefix(64)
	return p
}

// AddrOf is a connection's remote IP address, or the invalid address if
// it has none.
func AddrOf(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// RaiseFileLimit raises the soft limit on open descriptors to the hard
// limit and returns it.
func RaiseFileLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, errors.E("netlimit.RaiseFileLimit", errors.Internal, err)
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
			return r.Cur, errors.E("netlimit.RaiseFileLimit", errors.Internal, err)
		}
	}
	return r.Cur, nil
}

// Budget is how many connections a process with the descriptor limit
// nofile may hold at once: the limit less a reserve for its files (the
// databases, blob segments, logs) and for what it dials (DNS, peers,
// other regions): an eighth, at least 128.
func Budget(nofile uint64) int {
	reserve := max(nofile/8, 128)
	if nofile <= reserve {
		return 0
	}
	return int(nofile - reserve)
}
