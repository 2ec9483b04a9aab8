package config

import (
	"net"
	"net/netip"
	"strings"
	"time"
)

// DNS configures how names are resolved for mail (MX, SPF, DKIM, DMARC,
// MTA-STS, DANE).
type DNS struct {
	// Servers are recursive DNS servers, "host:port"; empty means those of
	// /etc/resolv.conf.
	Servers []string `toml:"servers"`
	// Timeout bounds one lookup (default 5 s).
	Timeout Duration `toml:"timeout"`
	// TrustAD trusts the servers' DNSSEC validation (the AD bit), which
	// DANE needs. Set it only when every server is a validating resolver
	// reached over a trusted path, e.g. an unbound on 127.0.0.1.
	TrustAD bool `toml:"trust_ad"`
}

// Outbound configures delivery of mail to other servers (RFC 5321), the
// schedule of retries and bounces in the spirit of Postfix's.
type Outbound struct {
	// Disabled keeps queued mail in the queue (nothing is delivered).
	Disabled bool `toml:"disabled"`
	// Port is the destination port of MX delivery (default 25). Tests use
	// another.
	Port int `toml:"port"`
	// Relay, "host:port", sends all mail through one smarthost instead of
	// the recipients' MX (Postfix's relayhost), for deployments whose port
	// 25 is blocked. RelayUser and RelayPasswordFile authenticate
	// (AUTH PLAIN, only over TLS); RelayTLS is "starttls" (the default),
	// "implicit" (port 465) or "none" (only for a relay on loopback).
	Relay             string `toml:"relay"`
	RelayUser         string `toml:"relay_user"`
	RelayPasswordFile string `toml:"relay_password_file"`
	RelayTLS          string `toml:"relay_tls"`
	// MinBackoff and MaxBackoff bound the wait between attempts (Postfix's
	// minimal_backoff_time 300 s and maximal_backoff_time 4000 s);
	// Lifetime is how long a message is retried before it bounces
	// (maximal_queue_lifetime, 5 d); DelayWarning is when the sender is
	// told their message is delayed (4 h; 0 or "never" disables it).
	MinBackoff   Duration `toml:"min_backoff"`
	MaxBackoff   Duration `toml:"max_backoff"`
	Lifetime     Duration `toml:"lifetime"`
	DelayWarning Duration `toml:"delay_warning"`
	// Concurrency bounds connections in flight (default 20); PerDomain
	// bounds those to one destination domain (default 4), as Postfix's
	// default_destination_concurrency_limit (20) would, per host.
	Concurrency int `toml:"concurrency"`
	PerDomain   int `toml:"per_domain"`
	// PerConnection bounds the messages sent over one connection before it
	// is closed (default 100).
	PerConnection int `toml:"per_connection"`
}

// MX configures what the MX checks of mail it receives.
type MX struct {
	// TrustedRelays are networks (CIDR) whose mail is not checked with SPF,
	// DKIM and DMARC (a deployment's own relays or backup MX). No address
	// is trusted by default, loopback included.
	TrustedRelays []string `toml:"trusted_relays"`
	// NoAuthChecks turns SPF, DKIM and DMARC off (tests and benchmarks
	// that compare with and without them).
	NoAuthChecks bool `toml:"no_auth_checks"`
	// DNSBL are DNS blocklist zones (RFC 5782), e.g. "zen.spamhaus.org":
	// a client one of them lists has every MAIL refused (554 5.7.1).
	// Empty (the default): none. Looked up with [dns]'s servers, which
	// must be allowed to query the lists (Spamhaus refuses public
	// resolvers).
	DNSBL []string `toml:"dnsbl"`
	// DNSBLIgnore are networks (CIDR) never looked up in the lists.
	// Trusted relays never are either; loopback is not exempt by default.
	DNSBLIgnore []string `toml:"dnsbl_ignore"`
	// Greylist turns greylisting (RFC 6647) on: the first attempt of each
	// (client /24 or /64, sender, recipient) gets 451 4.7.1 at RCPT; a
	// retry after GreylistDelay and within GreylistExpire of it passes,
	// and the triplet is then accepted at once until GreylistKeep after
	// its last message. The store, data_dir/greylist.db, holds only HMACs
	// (key data_dir/keys/greylist.key), at most GreylistMaxEntries.
	Greylist           bool     `toml:"greylist"`
	GreylistDelay      Duration `toml:"greylist_delay"`
	GreylistExpire     Duration `toml:"greylist_expire"`
	GreylistKeep       Duration `toml:"greylist_keep"`
	GreylistMaxEntries int      `toml:"greylist_max_entries"`
}

// MTASTS is the MTA-STS policy (RFC 8461) the web app serves for hosted
// domains at https://mta-sts.DOMAIN/.well-known/mta-sts.txt.
type MTASTS struct {
	// Mode is "enforce" (the default), "testing" or "none".
	Mode string `toml:"mode"`
	// MaxAge is the policy's max_age (default 1 week).
	MaxAge Duration `toml:"max_age"`
}

// Duration is a time.Duration written as a string ("300s", "4h"); "never"
// and "" are zero.
type Duration time.Duration

// UnmarshalText reads a duration such as "5m" or "120h".
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" || s == "never" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as time.Duration does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Defaults of the mail sections.
var (
	DefaultOutbound = Outbound{
		Port:          25,
		RelayTLS:      "starttls",
		MinBackoff:    Duration(300 * time.Second),
		MaxBackoff:    Duration(4000 * time.Second),
		Lifetime:      Duration(5 * 24 * time.Hour),
		DelayWarning:  Duration(4 * time.Hour),
		Concurrency:   20,
		PerDomain:     4,
		PerConnection: 100,
	}
	DefaultDNS    = DNS{Timeout: Duration(5 * time.Second)}
	DefaultMTASTS = MTASTS{Mode: "enforce", MaxAge: Duration(7 * 24 * time.Hour)}
	DefaultMX     = MX{
		GreylistDelay:      Duration(5 * time.Minute),
		GreylistExpire:     Duration(36 * time.Hour),
		GreylistKeep:       Duration(35 * 24 * time.Hour),
		GreylistMaxEntries: 200_000,
	}
)

// validateMail checks the DNS, outbound, MX and MTA-STS sections.
func (c *Config) validateMail(bad func(string, ...any)) {
	for _, s := range c.DNS.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			bad("dns.servers: %q: %v", s, err)
		}
	}
	if c.DNS.Timeout.D() < 100*time.Millisecond || c.DNS.Timeout.D() > time.Minute {
		bad("dns.timeout: %v is outside 100ms to 1m", c.DNS.Timeout.D())
	}
	o := &c.Outbound
	if o.Port < 1 || o.Port > 65535 {
		bad("outbound.port: %d is not a port", o.Port)
	}
	if o.Relay != "" {
		if _, _, err := net.SplitHostPort(o.Relay); err != nil {
			bad("outbound.relay: %v", err)
		}
	}
	switch o.RelayTLS {
	case "starttls", "implicit", "none":
	default:
		bad("outbound.relay_tls: %q is not starttls, implicit or none", o.RelayTLS)
	}
	if (o.RelayUser == "") != (o.RelayPasswordFile == "") {
		bad("outbound: relay_user and relay_password_file go together")
	}
	if o.RelayUser != "" && o.RelayTLS == "none" {
		bad("outbound: relay credentials are never sent without TLS (relay_tls = \"none\")")
	}
	if o.MinBackoff.D() <= 0 || o.MaxBackoff.D() < o.MinBackoff.D() {
		bad("outbound: min_backoff must be positive and at most max_backoff")
	}
	if o.Lifetime.D() < o.MinBackoff.D() {
		bad("outbound.lifetime: %v is shorter than min_backoff", o.Lifetime.D())
	}
	if o.DelayWarning.D() < 0 {
		bad("outbound.delay_warning: negative")
	}
	if o.Concurrency < 1 || o.PerDomain < 1 || o.PerDomain > o.Concurrency || o.PerConnection < 1 {
		bad("outbound: concurrency, per_domain and per_connection must be positive, per_domain at most concurrency")
	}
	for _, n := range c.MX.TrustedRelays {
		if _, err := netip.ParsePrefix(n); err != nil {
			bad("mx.trusted_relays: %q: %v", n, err)
		}
	}
	c.MX.validateScreens(bad)
	switch c.MTASTS.Mode {
	case "enforce", "testing", "none":
	default:
		bad("mta_sts.mode: %q is not enforce, testing or none", c.MTASTS.Mode)
	}
	if c.MTASTS.MaxAge.D() < time.Hour || c.MTASTS.MaxAge.D() > 365*24*time.Hour {
		bad("mta_sts.max_age: %v is outside 1h to 1 year (RFC 8461 3.2)", c.MTASTS.MaxAge.D())
	}
}

// TrustedRelayPrefixes returns MX.TrustedRelays parsed (Validate has
// checked them).
func (m MX) TrustedRelayPrefixes() []netip.Prefix { return prefixes(m.TrustedRelays) }
