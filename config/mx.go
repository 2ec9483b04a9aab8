package config

import (
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// validateScreens checks the MX's connection and envelope checks: the
// DNS blocklists and greylisting.
func (m *MX) validateScreens(bad func(string, ...any)) {
	seen := map[string]bool{}
	for _, z := range m.DNSBL {
		name := strings.ToLower(strings.TrimSuffix(z, "."))
		if _, ok := dns.IsDomainName(name); !ok || name == "" || !strings.Contains(name, ".") || len(name) > 180 {
			// 180: room for an IPv6 address's 64 bytes of nibbles
			// (RFC 5782 2.4) within a name's 253.
			bad("mx.dnsbl: %q is not a DNS zone", z)
		}
		if seen[name] {
			bad("mx.dnsbl: %q given twice", z)
		}
		seen[name] = true
	}
	for _, n := range m.DNSBLIgnore {
		if _, err := netip.ParsePrefix(n); err != nil {
			bad("mx.dnsbl_ignore: %q: %v", n, err)
		}
	}
	if !m.Greylist {
		return
	}
	d, e, k := m.GreylistDelay.D(), m.GreylistExpire.D(), m.GreylistKeep.D()
	if d < time.Second || d > 24*time.Hour {
		bad("mx.greylist_delay: %v is outside 1s to 24h", d)
	}
	if e <= d {
		bad("mx.greylist_expire: %v must be longer than greylist_delay (%v)", e, d)
	}
	if k < e {
		bad("mx.greylist_keep: %v is shorter than greylist_expire (%v)", k, e)
	}
	if m.GreylistMaxEntries < 100 {
		bad("mx.greylist_max_entries: %d is below 100", m.GreylistMaxEntries)
	}
}

// DNSBLIgnorePrefixes returns MX.DNSBLIgnore parsed (Validate has checked
// them).
func (m MX) DNSBLIgnorePrefixes() []netip.Prefix { return prefixes(m.DNSBLIgnore) }

// prefixes parses CIDRs, skipping any that do not parse.
func prefixes(cidrs []string) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range cidrs {
		if p, err := netip.ParsePrefix(n); err == nil {
			out = append(out, p)
		}
	}
	return out
}
