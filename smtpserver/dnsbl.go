package smtpserver

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/resolver"
)

// This file is the MX's DNS blocklists (RFC 5782): the client's address is
// looked up under each configured zone, and a listed client's every MAIL
// command is refused, before any content is read.
//
// When. The lookups start when the client's first command (EHLO or HELO)
// opens the session, run while it speaks, and are waited for at MAIL.
// RFC 5782 2.1 keys a list on the client's address alone, so the answer
// could be had at connection time; starting at the first command instead
// means a client that connects and never speaks (a scanner, a
// connect-and-drop flood) costs us no DNS query, so a flood of
// connections is not turned into a flood of queries to the list's
// operator, whose free service is rate limited per querying resolver.
// The refusal comes at MAIL, not as a 554 greeting (RFC 5321 3.1 allows
// one): a sending MTA bounces a per-transaction 5xx at once with our
// reason, where many retry a refused greeting for days, and the lookups
// have had the whole EHLO exchange to complete.
//
// What counts. RFC 5782 2.1: an A record in 127.0.0.0/8 under the
// reversed address means listed, and a TXT record there may say why.
// Spamhaus answers 127.255.255.252 to 127.255.255.255 for errors of the
// asker (a typo in the zone, a query through a public or open resolver,
// too many queries): those are not listings, and are logged at warn so
// the operator sees the list is not working. An address outside 127/8 is
// not a listing either: it is what a resolver that rewrites NXDOMAIN
// answers (logged at warn).
//
// Failures. A lookup that gets no answer within Timeout (or any DNS
// failure) is "not listed", logged at warn: fail open. A blocklist is one
// opinion about an address, and SPF, DKIM, DMARC and the content checks
// still run on what it lets through; failing closed would turn an outage
// of a third party's DNS into an outage of our mail, and a 4xx would only
// defer the mail to a retry that meets the same outage.

// DefaultDNSBLTimeout bounds the lookups of one client, every zone
// included, when DNSBL.Timeout is not set.
const DefaultDNSBLTimeout = 5 * time.Second

// Bounds of the verdict cache.
const (
	dnsblMaxCache  = 20_000           // addresses remembered
	dnsblMinTTL    = time.Minute      // a listing is remembered at least this long
	dnsblMaxTTL    = time.Hour        // and at most this long, whatever its TTL
	dnsblClearTTL  = 5 * time.Minute  // a clean answer
	dnsblFailedTTL = 30 * time.Second // a failure: not asked again at once
	dnsblReasonMax = 120              // bytes of a list's TXT reason kept for the reply
)

// DNS is what the DNSBL check asks: a *resolver.Resolver (bounded in time,
// caching each answer for its TTL).
type DNS interface {
	Lookup(ctx context.Context, name string, qtype uint16) (resolver.Answer, error)
}

var _ DNS = (*resolver.Resolver)(nil)

// DNSBL configures the MX's DNS blocklists.
type DNSBL struct {
	// Zones are the lists, e.g. "zen.spamhaus.org"; the first that lists
	// a client (in this order) names it in the refusal.
	Zones []string
	// Ignore are networks never looked up (the deployment's own, a
	// partner's). Trusted relays (Options.TrustedRelays) are never looked
	// up either. Loopback is not implicitly exempt.
	Ignore []netip.Prefix
	// DNS answers the lookups.
	DNS DNS
	// Timeout bounds the lookups of one client (default
	// DefaultDNSBLTimeout); past it the client is not listed.
	Timeout time.Duration
}

// dnsbl runs the lookups and keeps each address's verdict for its TTL.
type dnsbl struct {
	o   DNSBL
	s   *Server
	now func() time.Time

	mu    sync.Mutex
	cache map[netip.Addr]*blEntry
}

// blEntry is one address's verdict; done is closed once it is known.
type blEntry struct {
	done    chan struct{}
	v       blVerdict
	expires time.Time
}

// blVerdict says whether, and where, an address is listed ("" zone: not).
type blVerdict struct {
	zone, reason string
}

func newDNSBL(s *Server, o *DNSBL) *dnsbl {
	if o == nil || len(o.Zones) == 0 || o.DNS == nil {
		return nil
	}
	c := *o
	if c.Timeout <= 0 {
		c.Timeout = DefaultDNSBLTimeout
	}
	c.Zones = make([]string, len(o.Zones)) // the caller's slice is left alone
	for i, z := range o.Zones {
		c.Zones[i] = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(z)), ".")
	}
	return &dnsbl{o: c, s: s, now: s.opts.Now, cache: make(map[netip.Addr]*blEntry)}
}

// exempt reports whether ip is never looked up.
func (b *dnsbl) exempt(ip netip.Addr) bool {
	for _, p := range b.o.Ignore {
		if p.Contains(ip) {
			return true
		}
	}
	return b.s.trusted(ip)
}

// start begins the lookups of ip (or finds them done or under way) and
// returns its entry; nil if ip is exempt or invalid.
func (b *dnsbl) start(ip netip.Addr) *blEntry {
	if b == nil || !ip.IsValid() || b.exempt(ip) {
		return nil
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.cache[ip]; e != nil {
		select {
		case <-e.done:
			if now.Before(e.expires) {
				return e
			}
		default:
			return e // under way
		}
	}
	if len(b.cache) >= dnsblMaxCache {
		b.evict(now)
	}
	e := &blEntry{done: make(chan struct{})}
	b.cache[ip] = e
	go b.run(ip, e)
	return e
}

// evict drops expired verdicts, then any finished ones until there is
// room (the map's order). Lookups under way stay: they are bounded by
// the connections, which netlimit bounds. Called with b.mu held.
func (b *dnsbl) evict(now time.Time) {
	for ip, e := range b.cache {
		select {
		case <-e.done:
			if !now.Before(e.expires) || len(b.cache) >= dnsblMaxCache {
				delete(b.cache, ip)
			}
		default:
		}
	}
}

// run asks every zone about ip in parallel, within the timeout, and
// settles e.
func (b *dnsbl) run(ip netip.Addr, e *blEntry) {
	defer func() {
		if v := recover(); v != nil {
			b.s.panics.Add(1)
			b.s.log.Error("panic in DNSBL lookup", "remote", ip, "panic", v)
			e.expires = b.now().Add(dnsblFailedTTL)
			close(e.done)
		}
	}()
	ctx, cancel := context.WithTimeout(b.s.ctx, b.o.Timeout)
	defer cancel()
	results := make([]zoneResult, len(b.o.Zones))
	var wg sync.WaitGroup
	for i, zone := range b.o.Zones {
		wg.Go(func() { results[i] = b.lookup(ctx, ip, zone) })
	}
	wg.Wait()
	ttl := dnsblClearTTL
	for i, r := range results {
		switch {
		case r.err != nil:
			b.s.log.Warn("DNSBL lookup failed: not listed (fail open)", "remote", ip, "zone", b.o.Zones[i], "err", r.err)
			ttl = min(ttl, dnsblFailedTTL)
		case r.refused.IsValid():
			b.s.log.Warn("DNSBL refused the query: not listed", "remote", ip, "zone", b.o.Zones[i], "answer", r.refused)
			ttl = min(ttl, dnsblFailedTTL)
		case r.bogus.IsValid():
			b.s.log.Warn("DNSBL answered outside 127.0.0.0/8 (a resolver rewriting NXDOMAIN?): not listed",
				"remote", ip, "zone", b.o.Zones[i], "answer", r.bogus)
		case r.listed && e.v.zone == "":
			e.v = blVerdict{zone: b.o.Zones[i], reason: r.reason}
			ttl = min(max(r.ttl, dnsblMinTTL), dnsblMaxTTL)
		}
	}
	if e.v.zone != "" {
		b.s.log.Info("client listed in a DNSBL", "remote", ip, "zone", e.v.zone, "reason", e.v.reason)
	}
	e.expires = b.now().Add(ttl)
	close(e.done)
}

// zoneResult is what one zone said of an address.
type zoneResult struct {
	listed  bool
	reason  string        // the TXT record, sanitized
	ttl     time.Duration // of the A records
	refused netip.Addr    // a 127.255.255.x error code
	bogus   netip.Addr    // an answer outside 127/8
	err     error
}

// refusedCodes is where Spamhaus (and lists that follow it) put the
// answers that report an error of the asker, not a listing.
var refusedCodes = netip.MustParsePrefix("127.255.255.0/24")

func (b *dnsbl) lookup(ctx context.Context, ip netip.Addr, zone string) zoneResult {
	name := dnsblName(ip, zone)
	ans, err := b.o.DNS.Lookup(ctx, name, dns.TypeA)
	if err != nil {
		return zoneResult{err: err}
	}
	var r zoneResult
	ttl := dnsblMaxTTL
	for _, rr := range ans.RRs {
		a, ok := rr.(*dns.A)
		if !ok {
			continue
		}
		addr, _ := netip.AddrFromSlice(a.A.To4())
		switch {
		case refusedCodes.Contains(addr):
			r.refused = addr
		case addr.Is4() && addr.As4()[0] == 127: // RFC 5782 2.1
			r.listed = true
			ttl = min(ttl, time.Duration(a.Hdr.Ttl)*time.Second)
		default:
			r.bogus = addr
		}
	}
	if r.refused.IsValid() || !r.listed {
		return zoneResult{refused: r.refused, bogus: r.bogus}
	}
	r.ttl = ttl
	// RFC 5782 2.1: the TXT record of the same name says why. Its text
	// is the list's, not ours: only a short printable part reaches the
	// reply (and the log).
	if txt, err := b.o.DNS.Lookup(ctx, name, dns.TypeTXT); err == nil {
		for _, rr := range txt.RRs {
			if t, ok := rr.(*dns.TXT); ok {
				r.reason = sanitizeReason(strings.Join(t.Txt, ""))
				break
			}
		}
	}
	return r
}

// dnsblName is the name ip is listed under in zone: the IPv4 address's
// octets reversed (RFC 5782 2.1), or the IPv6 address's 32 nibbles
// reversed (RFC 5782 2.4), then the zone.
func dnsblName(ip netip.Addr, zone string) string {
	const hex = "0123456789abcdef"
	var sb strings.Builder
	ip = ip.Unmap()
	if ip.Is4() {
		a := ip.As4()
		fmt.Fprintf(&sb, "%d.%d.%d.%d.", a[3], a[2], a[1], a[0])
	} else {
		a := ip.As16()
		for i := len(a) - 1; i >= 0; i-- {
			sb.WriteByte(hex[a[i]&0xf])
			sb.WriteByte('.')
			sb.WriteByte(hex[a[i]>>4])
			sb.WriteByte('.')
		}
	}
	sb.WriteString(zone)
	sb.WriteByte('.')
	return sb.String()
}

// sanitizeReason keeps printable ASCII of s, spaces collapsed, at most
// dnsblReasonMax bytes: nothing a list publishes can break our reply
// line or inject into it.
func sanitizeReason(s string) string {
	var sb strings.Builder
	space := false
	for i := 0; i < len(s) && sb.Len() < dnsblReasonMax; i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			space = sb.Len() > 0
		case c > 0x20 && c < 0x7f:
			if space {
				sb.WriteByte(' ')
				space = false
			}
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// wait returns e's verdict, waiting for it if it is under way (for no
// longer than the lookups' own bound, or until the server closes).
func (b *dnsbl) wait(e *blEntry) blVerdict {
	if e == nil {
		return blVerdict{}
	}
	t := time.NewTimer(b.o.Timeout + time.Second)
	defer t.Stop()
	select {
	case <-e.done:
		return e.v
	case <-t.C:
	case <-b.s.ctx.Done():
	}
	return blVerdict{}
}

// dnsblReply is the refusal of a listed client: the wording most MTAs
// use (Postfix's reject_rbl_client), so that senders and their admins
// recognize it, with the list's reason if it gave one.
func dnsblReply(ip netip.Addr, v blVerdict) *smtp.SMTPError {
	text := fmt.Sprintf("Service unavailable; client [%s] blocked using %s", ip.Unmap(), v.zone)
	if v.reason != "" {
		text += "; " + v.reason
	}
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: text}
}

// checkDNSBL is the MAIL command's check: a listed client is refused.
func (ss *session) checkDNSBL() *smtp.SMTPError {
	if ss.s.dnsbl == nil || ss.acct != nil || ss.bl == nil {
		return nil
	}
	v := ss.s.dnsbl.wait(ss.bl)
	if v.zone == "" {
		return nil
	}
	ip, _ := netip.AddrFromSlice(ss.ip)
	ss.s.log.Info("mail refused: client listed in a DNSBL", "remote", ss.ip, "zone", v.zone)
	return dnsblReply(ip, v)
}
