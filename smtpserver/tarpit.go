package smtpserver

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sealpost/sealpost/internal/netlimit"
)

// The recipient tarpit. An MX must say which recipients it refuses (RFC
// 5321 3.6.2, 550 5.1.1), which lets anyone list the accounts by trying
// names. As Postfix's smtpd_error_sleep_time does after its
// smtpd_soft_error_limit, a source (an IPv4 address, an IPv6 /64) that has
// named TarpitFree unknown recipients within tarpitWindow waits before
// each further refusal: TarpitDelay, doubling up to tarpitMaxDelay. The
// wait holds its connection, and a source holds a bounded number of
// those (netlimit), so probing slows to a few names a second from one
// source, and a legitimate sender with a typo never notices.
const (
	DefaultTarpitFree  = 3
	DefaultTarpitDelay = time.Second
	tarpitMaxDelay     = 8 * time.Second
	tarpitWindow       = 10 * time.Minute
	tarpitMaxSources   = 100_000
)

type tarpit struct {
	free  int
	delay time.Duration

	mu      sync.Mutex
	sources map[netip.Prefix]*probes
	big     map[netip.Prefix]*probes // messages refused as too large
}

// A source whose unauthenticated messages were refused as too large
// (552 5.3.4) oversizedFree times within tarpitWindow has its next MAIL
// commands refused with 450 4.7.0 until the window ends: such a message
// costs the server its whole size limit of reading and sealing before it
// can be refused, and a sender that is told 552 has no reason to send it
// again.
const oversizedFree = 2

// probes are a source's unknown recipients in the current window.
type probes struct {
	n     int
	start time.Time
}

func newTarpit(free int, delay time.Duration) *tarpit {
	if free <= 0 {
		free = DefaultTarpitFree
	}
	if delay <= 0 {
		delay = DefaultTarpitDelay
	}
	return &tarpit{free: free, delay: delay, sources: make(map[netip.Prefix]*probes), big: make(map[netip.Prefix]*probes)}
}

// unknown counts an unknown recipient from ip and returns how long its
// refusal should wait.
func (t *tarpit) unknown(ip net.IP, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	over := count(t.sources, ip, now) - t.free
	if over <= 0 {
		return 0
	}
	d := t.delay
	for ; over > 1 && d < tarpitMaxDelay; over-- {
		d *= 2
	}
	return min(d, tarpitMaxDelay)
}

// oversized counts a message from ip refused as too large.
func (t *tarpit) oversized(ip net.IP, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	count(t.big, ip, now)
}

// sendsOversized reports whether ip's mail is refused for now for its
// oversized messages (now is read only for a source that has some).
func (t *tarpit) sendsOversized(ip net.IP, now func() time.Time) bool {
	a, _ := netip.AddrFromSlice(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.big[netlimit.Source(a)]
	return p != nil && p.n >= oversizedFree && now().Sub(p.start) < tarpitWindow
}

// count adds one to ip's count in m, in the current window, and returns
// it; m is kept under tarpitMaxSources. Called with t.mu held.
func count(m map[netip.Prefix]*probes, ip net.IP, now time.Time) int {
	a, _ := netip.AddrFromSlice(ip)
	key := netlimit.Source(a)
	p := m[key]
	if p == nil || now.Sub(p.start) >= tarpitWindow {
		if len(m) >= tarpitMaxSources {
			for k, p := range m {
				if now.Sub(p.start) >= tarpitWindow {
					delete(m, k)
				}
			}
			if len(m) >= tarpitMaxSources {
				clear(m)
			}
		}
		p = &probes{start: now}
		m[key] = p
	}
	p.n++
	return p.n
}

// wait sleeps for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
