// Package outbound delivers a region's queued mail to other servers (RFC
// 5321): it reads the sealed outbound queue, opens each entry in memory
// with the deployment key, finds the recipients' mail exchangers (or a
// configured smarthost), and hands the message over, STARTTLS whenever the
// peer offers it. Temporary failures are retried on Postfix's schedule
// (minimal and maximal backoff, a queue lifetime); permanent failures and
// expiry bounce to the sender's INBOX as a delivery status notification
// (RFC 3464, RFC 6522), and a message still undelivered after a while
// earns the sender one "delayed" notice. Bounces are never bounced.
//
// The queue is the source of truth and every outcome is recorded in it
// before the next message is taken: a crash loses nothing. A message whose
// 250 reply arrived but whose recording did not is delivered once more
// after a restart (at most once more: its entry is recorded before any
// other work).
//
// One Service serves one region's queue: mail leaves from the region
// where its sender lives.
package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/mtasts"
	"github.com/sealpost/sealpost/resolver"
)

// Signer signs a message of a hosted domain with DKIM (RFC 6376). It
// returns the header fields to prepend; a NotExist error means the domain
// has no keys, and the message goes unsigned.
type Signer interface {
	Sign(domain string, msg []byte) ([]byte, error)
}

// Relay is a smarthost that takes every message (Postfix's relayhost).
type Relay struct {
	Addr     string   // host:port
	TLS      RelayTLS // how the connection is secured
	User     string   // AUTH PLAIN (RFC 4616) identity; "" for none
	Password string
}

// RelayTLS is how a connection to the relay is secured.
type RelayTLS int

// The relay TLS modes.
const (
	RelayStartTLS RelayTLS = iota // STARTTLS, required, certificate verified
	RelayImplicit                 // TLS from the first byte (port 465)
	RelayPlain                    // no TLS: only for a relay on loopback
)

// Options configure a Service. Queue, Blobs, Open, Notify and Resolver (or
// Relay) are required.
type Options struct {
	// Hostname is this server's name: EHLO, Reporting-MTA, MAILER-DAEMON.
	Hostname string
	// Queue and Blobs are the region's outbound queue and blob store.
	Queue sealpost.QueueStore
	Blobs sealpost.BlobStore
	// Open opens a queued blob (sealed to the deployment key), in memory.
	Open func(sealed []byte) ([]byte, error)
	// Notify files a delivery status notification in the sender's INBOX,
	// sealed like any mail, from the null reverse-path.
	Notify func(ctx context.Context, to string, msg []byte) error
	// Resolver finds mail exchangers and addresses.
	Resolver *resolver.Resolver
	// Sign, if set, adds DKIM signatures to mail from hosted domains.
	Sign Signer
	// Relay, if Addr is set, sends everything through a smarthost.
	Relay Relay
	// STS, if set, gives destinations' MTA-STS policies (RFC 8461).
	// DANE (RFC 7672) applies wherever Resolver authenticates TLSA
	// records (a resolver configured to trust a validating server).
	STS *mtasts.Cache
	// Port is the port of the mail exchangers (25; tests use another).
	Port int
	// Loop reports whether an address is one of this server's own MX
	// listeners: delivering there would be a mail loop.
	Loop func(netip.AddrPort) bool
	// RootCAs verify certificates where verification is required (a
	// relay, MTA-STS); nil means the system's.
	RootCAs *x509.CertPool
	// The schedule: see config.Outbound.
	MinBackoff, MaxBackoff, Lifetime, DelayWarning time.Duration
	// Concurrency bounds connections in flight; PerDomain those to one
	// destination; PerConnection the messages over one connection.
	Concurrency, PerDomain, PerConnection int
	// MaxInFlight bounds the bytes of opened messages held at once
	// (default 256 MiB), so that concurrency cannot exhaust memory.
	MaxInFlight int64
	// Poll is the longest wait between two reads of the queue (default
	// 5 s), which catches entries changed by another process.
	Poll time.Duration
	// Dial connects to a mail exchanger (default: a net.Dialer with a 30 s
	// timeout).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// CommandTimeout bounds each SMTP command's reply (default 5 min, RFC
	// 5321 4.5.3.2); DataTimeout the reply to the end of data (10 min).
	CommandTimeout, DataTimeout time.Duration
	Logger                      *slog.Logger
	Now                         func() time.Time
}

// Service delivers one region's outbound queue. Run it with Run.
type Service struct {
	o    Options
	log  *slog.Logger
	wake chan struct{}
	mem  *semaphore.Weighted // the MaxInFlight budget, in bytes

	stats stats // result.go

	mu       sync.Mutex
	backlog  map[string][]sealpost.QueuedMessage // due entries not started, by destination, from the last read
	order    []string                            // the backlog's destinations, in the order read
	nextDue  time.Time                           // when the next entry not in the backlog falls due
	stale    bool                                // the last read found due entries not in flight
	inflight map[int64]bool                      // entries being delivered
	domains  map[string]int                      // workers per destination
	workers  int                                 // workers in all
	hold     map[int64]func()                    // operator actions waiting for an entry in flight
	done     chan struct{}                       // a worker finished
}

// New returns a service. It starts nothing: call Run.
func New(o Options) (*Service, error) {
	const op = "outbound.New"
	if o.Queue == nil || o.Blobs == nil || o.Open == nil || o.Notify == nil || (o.Resolver == nil && o.Relay.Addr == "") {
		return nil, errors.E(op, errors.Invalid, errors.Str("queue, blobs, open, notify and a resolver or relay are required"))
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.Port == 0 {
		o.Port = 25
	}
	if o.Loop == nil {
		o.Loop = func(netip.AddrPort) bool { return false }
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 300 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(o.MinBackoff, 4000*time.Second)
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 5 * 24 * time.Hour
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 20
	}
	if o.PerDomain <= 0 {
		o.PerDomain = 4
	}
	if o.PerConnection <= 0 {
		o.PerConnection = 100
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 256 << 20
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.Dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second}
		o.Dial = d.DialContext
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 5 * time.Minute
	}
	if o.DataTimeout <= 0 {
		o.DataTimeout = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = mlog.Discard()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{
		o: o, log: o.Logger.With("part", "outbound"),
		wake:     make(chan struct{}, 1),
		mem:      semaphore.NewWeighted(o.MaxInFlight),
		inflight: map[int64]bool{}, domains: map[string]int{}, hold: map[int64]func(){},
		backlog: map[string][]sealpost.QueuedMessage{},
		done:    make(chan struct{}, 1),
	}
	return s, nil
}

// Wake makes the service read the queue now (after an Enqueue). It never
// blocks.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// dueBatch bounds the due entries one read of the queue takes.
const dueBatch = 5000

// Run delivers until ctx ends, then waits for the deliveries in flight to
// record their outcome (each is bounded by the SMTP timeouts).
//
// It reads the due part of the queue (QueueDue) when woken (an Enqueue, an
// operator's action), when the next entry falls due, at least every Poll,
// and when the entries of the last read have all been started; a worker
// that finishes only lets the next ones of that read start, so that a long
// queue is not read again for every message sent.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	reread := true
	for {
		next := s.cycle(ctx, &wg, reread)
		wait := s.o.Poll
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(s.o.Now()), 10*time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			reread = true
		case <-s.done:
			// Read again only when the last read is used up and found
			// work: due entries still in flight are not worth reading
			// again; new ones come with a wake, a due time or Poll.
			s.mu.Lock()
			reread = len(s.order) == 0 && s.stale
			s.mu.Unlock()
		case <-timer.C:
			reread = true
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// cycle reads the due entries when reread is set, and starts workers for
// them as the limits allow. It returns when the next entry not yet read
// falls due (zero if none is known).
func (s *Service) cycle(ctx context.Context, wg *sync.WaitGroup, reread bool) time.Time {
	if reread {
		now := s.o.Now()
		due, next, err := s.o.Queue.QueueDue(ctx, now, dueBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("read queue", "err", err)
			}
			next = now.Add(s.o.Poll)
		}
		if len(due) == dueBatch {
			next = now // more is due than one read takes
		}
		s.mu.Lock()
		s.backlog, s.order, s.nextDue, s.stale = map[string][]sealpost.QueuedMessage{}, nil, next, false
		for _, m := range due {
			if s.inflight[m.ID] {
				continue
			}
			s.stale = true
			dest := s.destination(m)
			if _, ok := s.backlog[dest]; !ok {
				s.order = append(s.order, dest)
			}
			s.backlog[dest] = append(s.backlog[dest], m)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	order := s.order[:0]
	for _, dest := range s.order {
		batch := s.backlog[dest]
		for len(batch) > 0 && s.domains[dest] < s.o.PerDomain && s.workers < s.o.Concurrency {
			n := min(len(batch), s.o.PerConnection)
			work := slices.Clone(batch[:n])
			batch = batch[n:]
			for _, m := range work {
				s.inflight[m.ID] = true
			}
			s.domains[dest]++
			s.workers++
			wg.Go(func() { s.work(ctx, dest, work) })
		}
		if len(batch) > 0 {
			s.backlog[dest] = batch
			order = append(order, dest)
		} else {
			delete(s.backlog, dest)
		}
	}
	s.order = order
	return s.nextDue
}

// forget drops an entry from the backlog (an operator acted on it).
// The caller holds s.mu.
func (s *Service) forget(id int64) {
	for dest, batch := range s.backlog {
		s.backlog[dest] = slices.DeleteFunc(batch, func(m sealpost.QueuedMessage) bool { return m.ID == id })
	}
}

// destination is what entries are grouped by for one connection: the
// recipients' domain, or the relay.
func (s *Service) destination(m sealpost.QueuedMessage) string {
	if s.o.Relay.Addr != "" {
		return "[relay]"
	}
	if len(m.Recipients) == 0 {
		return ""
	}
	return sealpost.DomainOf(sealpost.NormalizeAddress(m.Recipients[0]))
}

// work delivers a batch to one destination, then frees its slots.
func (s *Service) work(ctx context.Context, dest string, batch []sealpost.QueuedMessage) {
	defer func() {
		s.mu.Lock()
		var actions []func()
		for _, m := range batch {
			delete(s.inflight, m.ID)
			if f := s.hold[m.ID]; f != nil {
				actions = append(actions, f)
				delete(s.hold, m.ID)
			}
		}
		s.domains[dest]--
		if s.domains[dest] == 0 {
			delete(s.domains, dest)
		}
		s.workers--
		s.mu.Unlock()
		for _, f := range actions {
			f()
		}
		select {
		case s.done <- struct{}{}:
		default:
		}
	}()
	s.deliver(ctx, dest, batch)
}

// backoff is the wait before attempt n+1 after n failed ones: MinBackoff
// doubled each time, at most MaxBackoff, with ±10% jitter so that a batch
// that failed together does not retry in lockstep.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.o.MinBackoff
	for i := 1; i < attempts && d < s.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.o.MaxBackoff)
	return d + time.Duration((rand.Float64()-0.5)*0.2*float64(d))
}

// tlsConfig is the configuration of a connection to host; verify says
// whether the certificate must be valid for it (WebPKI).
func (s *Service) tlsConfig(host string, verify bool) *tls.Config {
	return &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: !verify, // opportunistic TLS (RFC 7435): encryption without authentication
		RootCAs:            s.o.RootCAs,
		MinVersion:         tls.VersionTLS12,
	}
}
