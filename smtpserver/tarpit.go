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
}

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
	return &tarpit{free: free, delay: delay, sources: make(map[netip.Prefix]*probes)}
}

// unknown counts an unknown recipient from ip and returns how long its
// refusal should wait.
func (t *tarpit) unknown(ip net.IP, now time.Time) time.Duration {
	a, _ := netip.AddrFromSlice(ip)
	key := netlimit.Source(a)
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.sources[key]
	if p == nil || now.Sub(p.start) >= tarpitWindow {
		if len(t.sources) >= tarpitMaxSources {
			for k, p := range t.sources {
				if now.Sub(p.start) >= tarpitWindow {
					delete(t.sources, k)
				}
			}
			if len(t.sources) >= tarpitMaxSources {
				clear(t.sources)
			}
		}
		p = &probes{start: now}
		t.sources[key] = p
	}
	p.n++
	over := p.n - t.free
	if over <= 0 {
		return 0
	}
	d := t.delay
	for ; over > 1 && d < tarpitMaxDelay; over-- {
		d *= 2
	}
	return min(d, tarpitMaxDelay)
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
