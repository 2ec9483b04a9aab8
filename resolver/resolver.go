// Package resolver owns Sealpost's DNS lookups for mail: MX, addresses,
// TXT (SPF, DKIM, DMARC, MTA-STS, TLS-RPT), TLSA (DANE) and PTR, asked of
// the configured recursive servers (or those of /etc/resolv.conf) with
// github.com/miekg/dns.
//
// Every lookup is bounded in time (a few seconds, whatever the servers do),
// and answers are cached for their TTL (negative answers too, RFC 2308), so
// that an unreachable resolver never stalls a delivery for long and a busy
// MX asks once per TTL. A lookup that could not get an answer (timeout,
// SERVFAIL, REFUSED) is a temporary failure: callers answer 451, never a
// rejection.
//
// An answer is Authenticated only when the resolver is configured to trust
// the servers' AD bit (RFC 4035 3.2.3, RFC 6840 5.7): they must be
// validating resolvers reached over a trusted path, such as an unbound on
// the same host. DANE (RFC 7672) rests on it.
//
// Resolver's LookupTXT, LookupMX, LookupIPAddr and LookupAddr have the
// signatures and error conventions of net.Resolver (a *net.DNSError with
// IsNotFound for NXDOMAIN and empty answers, IsTemporary for failures), so
// that the SPF, DKIM and DMARC libraries can use it as they would the
// standard library's.
package resolver

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/errors"
)

// Options configure a Resolver.
type Options struct {
	// Servers are the recursive servers to ask, "host:port"; empty means
	// the nameservers of /etc/resolv.conf.
	Servers []string
	// Timeout bounds one lookup, all servers and retries included
	// (default 5 s). A caller's context may bound it further.
	Timeout time.Duration
	// TrustAD makes answers whose AD bit is set Authenticated. Set it only
	// for validating resolvers on a trusted path (see the package doc).
	TrustAD bool
	// CacheSize bounds the number of cached answers (default 10,000; a
	// negative value disables the cache).
	CacheSize int
	// CacheBytes bounds the cached answers' records, in their wire size
	// (default 16 MiB): a sender can make the MX ask for names whose
	// answers it controls (DKIM selectors, SPF includes), each up to 64
	// KiB over TCP, so a count alone would not bound the memory.
	CacheBytes int
	// Now is the clock for cache expiry (default time.Now).
	Now func() time.Time
}

// Resolver asks DNS servers. It is safe for concurrent use.
type Resolver struct {
	o       Options
	servers []string

	mu    sync.Mutex
	cache map[key]entry
	bytes int // the cached entries' sizes, summed
}

type key struct {
	name  string
	qtype uint16
}

// entry is a cached answer: the records of the asked type (nil for a
// negative answer), the response code, the AD bit, and when it expires.
type entry struct {
	rrs     []dns.RR
	rcode   int
	ad      bool
	expires time.Time
	size    int // the records' wire size and the name's, for CacheBytes
}

// Bounds on how long answers are cached, whatever their TTL says.
const (
	minTTL      = 5 * time.Second
	maxTTL      = time.Hour
	negativeTTL = time.Minute // NXDOMAIN or NODATA without an SOA
	attemptWait = 2 * time.Second
)

// New returns a resolver. With no Servers it reads /etc/resolv.conf, and
// fails (Invalid) if that names none.
func New(o Options) (*Resolver, error) {
	const op = "resolver.New"
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10000
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 16 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	servers := slices.Clone(o.Servers)
	if len(servers) == 0 {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, errors.E(op, errors.Invalid, err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
	}
	if len(servers) == 0 {
		return nil, errors.E(op, errors.Invalid, errors.Str("no DNS servers"))
	}
	for _, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("DNS server %q: %v", s, err))
		}
	}
	return &Resolver{o: o, servers: servers, cache: make(map[key]entry)}, nil
}

// CacheUsage returns how many answers the cache holds and their size, as
// Options.CacheBytes counts it.
func (r *Resolver) CacheUsage() (answers, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cache), r.bytes
}

// Servers returns the servers the resolver asks.
func (r *Resolver) Servers() []string { return slices.Clone(r.servers) }

// Answer is the outcome of a lookup that got a response.
type Answer struct {
	// RRs are the records of the asked type (a CNAME chain is followed by
	// the recursive server; only the final records are kept).
	RRs []dns.RR
	// NotFound: the name does not exist (NXDOMAIN). An empty RRs with
	// NotFound false is NODATA: the name exists, without such records.
	NotFound bool
	// Authenticated: the server validated the answer with DNSSEC and the
	// resolver trusts it (Options.TrustAD).
	Authenticated bool
}

// Lookup asks for name's records of type qtype. The error is Unavailable
// (temporary) when no server gave an answer; NXDOMAIN and NODATA are
// answers, not errors.
func (r *Resolver) Lookup(ctx context.Context, name string, qtype uint16) (Answer, error) {
	const op = "resolver.Lookup"
	name = dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(name); !ok || len(name) > 254 {
		return Answer{}, errors.E(op, errors.Invalid, errors.Errorf("bad domain name %q", name))
	}
	k := key{name, qtype}
	now := r.o.Now()
	r.mu.Lock()
	e, ok := r.cache[k]
	r.mu.Unlock()
	if ok && now.Before(e.expires) {
		return answerOf(e, r.o.TrustAD), nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	e, err := r.exchange(ctx, name, qtype)
	if err != nil {
		return Answer{}, errors.E(op, errors.Unavailable, err)
	}
	r.store(k, e)
	return answerOf(e, r.o.TrustAD), nil
}

func answerOf(e entry, trustAD bool) Answer {
	return Answer{RRs: e.rrs, NotFound: e.rcode == dns.RcodeNameError, Authenticated: trustAD && e.ad}
}

// exchange asks the servers in turn, each once over UDP (then TCP if the
// answer was truncated), until one answers NOERROR or NXDOMAIN, for as
// long as ctx allows.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (entry, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.AuthenticatedData = true // RFC 6840 5.7: ask for the AD bit
	m.SetEdns0(4096, r.o.TrustAD)
	var last error
	for round := 0; round < 2; round++ {
		for _, srv := range r.servers {
			if err := ctx.Err(); err != nil {
				if last == nil {
					last = err
				}
				return entry{}, last
			}
			resp, err := r.ask(ctx, m, srv)
			if err != nil {
				last = err
				continue
			}
			switch resp.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return r.entryOf(resp, name, qtype), nil
			}
			last = errors.Errorf("%s: %s", srv, dns.RcodeToString[resp.Rcode])
		}
	}
	return entry{}, last
}

// ask sends m to srv, over TCP if the UDP answer was truncated.
func (r *Resolver) ask(ctx context.Context, m *dns.Msg, srv string) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: attemptWait}
	resp, _, err := c.ExchangeContext(ctx, m, srv)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, srv)
	}
	if err != nil {
		return nil, err
	}
	if resp.Id != m.Id {
		return nil, errors.Str("reply ID mismatch")
	}
	return resp, nil
}

// entryOf keeps the records of the asked type and the cache lifetime.
func (r *Resolver) entryOf(resp *dns.Msg, name string, qtype uint16) entry {
	e := entry{rcode: resp.Rcode, ad: resp.AuthenticatedData}
	ttl := maxTTL
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Rrtype != qtype || h.Class != dns.ClassINET {
			continue
		}
		e.rrs = append(e.rrs, rr)
		ttl = min(ttl, time.Duration(h.Ttl)*time.Second)
	}
	if len(e.rrs) == 0 {
		// RFC 2308 5: a negative answer lives as long as the SOA's
		// minimum (or its TTL, if lower) says.
		ttl = negativeTTL
		for _, rr := range resp.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				ttl = min(time.Duration(soa.Minttl), time.Duration(soa.Hdr.Ttl)) * time.Second
			}
		}
	}
	e.expires = r.o.Now().Add(max(ttl, minTTL))
	e.size = len(name)
	for _, rr := range e.rrs {
		e.size += dns.Len(rr)
	}
	return e
}

func (r *Resolver) store(k key, e entry) {
	if r.o.CacheSize < 0 {
		return
	}
	if e.size > r.o.CacheBytes/64 {
		return // one answer never takes more than a 64th of the cache
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.cache[k]; ok {
		r.bytes -= old.size
		delete(r.cache, k)
	}
	full := func() bool { return len(r.cache) >= r.o.CacheSize || r.bytes+e.size > r.o.CacheBytes }
	if full() {
		// Drop the expired ones; if that is not enough, any one (the
		// map's order), which keeps the bounds without an LRU.
		now := r.o.Now()
		for ck, ce := range r.cache {
			if !now.Before(ce.expires) {
				r.bytes -= ce.size
				delete(r.cache, ck)
			}
		}
		for ck, ce := range r.cache {
			if !full() {
				break
			}
			r.bytes -= ce.size
			delete(r.cache, ck)
		}
	}
	r.cache[k] = e
	r.bytes += e.size
}

// MX returns name's mail exchangers, in preference order (equal
// preferences in the server's order); empty if it has none (NODATA), and
// NotFound if the name does not exist.
func (r *Resolver) MX(ctx context.Context, name string) ([]*net.MX, Answer, error) {
	a, err := r.Lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, a, err
	}
	var out []*net.MX
	for _, rr := range a.RRs {
		mx := rr.(*dns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	slices.SortStableFunc(out, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	return out, a, nil
}

// IPs returns host's IPv4 and IPv6 addresses (asked in parallel). The
// answer is Authenticated only if both were. An error is returned only if
// neither lookup got an answer.
func (r *Resolver) IPs(ctx context.Context, host string) ([]netip.Addr, Answer, error) {
	var a4, a6 Answer
	var e4, e6 error
	var wg sync.WaitGroup
	wg.Go(func() { a4, e4 = r.Lookup(ctx, host, dns.TypeA) })
	wg.Go(func() { a6, e6 = r.Lookup(ctx, host, dns.TypeAAAA) })
	wg.Wait()
	if e4 != nil && e6 != nil {
		return nil, Answer{}, e4
	}
	var out []netip.Addr
	for _, rr := range append(slices.Clone(a4.RRs), a6.RRs...) {
		switch rr := rr.(type) {
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(rr.A.To4()); ok {
				out = append(out, ip)
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(rr.AAAA); ok {
				out = append(out, ip)
			}
		}
	}
	ans := Answer{
		NotFound:      (e4 != nil || a4.NotFound) && (e6 != nil || a6.NotFound),
		Authenticated: e4 == nil && e6 == nil && a4.Authenticated && a6.Authenticated,
	}
	return out, ans, nil
}

// TXT returns name's TXT records, each one string (its character-strings
// joined, as RFC 7208 3.3 and RFC 6376 3.6.2.2 read them).
func (r *Resolver) TXT(ctx context.Context, name string) ([]string, Answer, error) {
	a, err := r.Lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, a, err
	}
	var out []string
	for _, rr := range a.RRs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, a, nil
}

// TLSA returns the TLSA records of port/tcp at host (RFC 6698 3), for DANE.
func (r *Resolver) TLSA(ctx context.Context, host string, port int) ([]*dns.TLSA, Answer, error) {
	name, err := dns.TLSAName(dns.Fqdn(host), strconv.Itoa(port), "tcp")
	if err != nil {
		return nil, Answer{}, errors.E("resolver.TLSA", errors.Invalid, err)
	}
	a, err := r.Lookup(ctx, name, dns.TypeTLSA)
	if err != nil {
		return nil, a, err
	}
	var out []*dns.TLSA
	for _, rr := range a.RRs {
		out = append(out, rr.(*dns.TLSA))
	}
	return out, a, nil
}

// The net.Resolver-shaped methods below report no records the way the
// standard library does: a *net.DNSError with IsNotFound, for NXDOMAIN and
// NODATA alike; a failure to get an answer is a *net.DNSError with
// IsTemporary (and IsTimeout when it was one).

func (r *Resolver) dnsError(name string, err error) error {
	if err != nil {
		timeout := errors.IsErr(err, context.DeadlineExceeded)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			timeout = true
		}
		return &net.DNSError{Err: "temporary DNS failure", Name: name, Server: strings.Join(r.servers, ","),
			IsTemporary: true, IsTimeout: timeout}
	}
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// LookupTXT is TXT in net.Resolver's form.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, _, err := r.TXT(ctx, name)
	if err != nil || len(txt) == 0 {
		return nil, r.dnsError(name, err)
	}
	return txt, nil
}

// LookupMX is MX in net.Resolver's form.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mx, _, err := r.MX(ctx, name)
	if err != nil || len(mx) == 0 {
		return nil, r.dnsError(name, err)
	}
	return mx, nil
}

// LookupIPAddr is IPs in net.Resolver's form.
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, _, err := r.IPs(ctx, host)
	if err != nil || len(ips) == 0 {
		return nil, r.dnsError(host, err)
	}
	out := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		out[i] = net.IPAddr{IP: net.IP(ip.AsSlice())}
	}
	return out, nil
}

// LookupAddr returns the names of an address (PTR), in net.Resolver's form.
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: addr}
	}
	a, err := r.Lookup(ctx, rev, dns.TypePTR)
	if err != nil || len(a.RRs) == 0 {
		return nil, r.dnsError(addr, err)
	}
	var out []string
	for _, rr := range a.RRs {
		out = append(out, rr.(*dns.PTR).Ptr)
	}
	return out, nil
}
