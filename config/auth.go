package config

import "time"

// Auth bounds what checking passwords may cost the server and how failed
// attempts are slowed down (package authguard), and how long a login's
// unlocked keys outlive its last session (the authentication cache).
type Auth struct {
	// Concurrency is how many password derivations (Argon2id, each taking
	// argon2.memory_kib) run at once; 0 (the default) takes the number of
	// CPUs, at most 4.
	Concurrency int `toml:"concurrency"`
	// QueuePerSource and QueueTotal bound the derivations waiting for a
	// place, from one source (an IPv4 address, an IPv6 /64) and in all;
	// past them a login is answered "try again later". Defaults 8, 1024.
	QueuePerSource int `toml:"queue_per_source"`
	QueueTotal     int `toml:"queue_total"`
	// SourceFree failures from a source, or AccountFree on one account
	// (from addresses that never logged in to it), are answered at once;
	// each further attempt waits, 1 s doubling up to MaxDelay. Failures are
	// forgotten Forget after the last. Defaults 3, 5, 15 s, 15 min.
	SourceFree  int      `toml:"source_free_failures"`
	AccountFree int      `toml:"account_free_failures"`
	MaxDelay    Duration `toml:"max_delay"`
	Forget      Duration `toml:"forget_after"`
	// CacheTime is how long an account's unlocked keys stay in memory after
	// its last session ends, so that a client's reconnects skip the
	// derivation; only the same password finds them. "0s" turns the cache
	// off. Default 10 min.
	CacheTime Duration `toml:"cache_time"`
}

// DefaultAuth is Auth without configuration.
var DefaultAuth = Auth{
	QueuePerSource: 8,
	QueueTotal:     1024,
	SourceFree:     3,
	AccountFree:    5,
	MaxDelay:       Duration(15 * time.Second),
	Forget:         Duration(15 * time.Minute),
	CacheTime:      Duration(10 * time.Minute),
}

func (a *Auth) validate(bad func(string, ...any)) {
	if a.Concurrency < 0 || a.Concurrency > 256 {
		bad("auth.concurrency: %d is outside 0 to 256", a.Concurrency)
	}
	for name, n := range map[string]int{"queue_per_source": a.QueuePerSource, "queue_total": a.QueueTotal,
		"source_free_failures": a.SourceFree, "account_free_failures": a.AccountFree} {
		if n < 1 {
			bad("auth.%s: %d is below 1", name, n)
		}
	}
	if d := a.MaxDelay.D(); d < time.Second || d > 10*time.Minute {
		bad("auth.max_delay: %v is outside 1s to 10m", d)
	}
	if d := a.Forget.D(); d < time.Minute || d > 7*24*time.Hour {
		bad("auth.forget_after: %v is outside 1m to 168h", d)
	}
	if d := a.CacheTime.D(); d < 0 || d > 24*time.Hour {
		bad("auth.cache_time: %v is outside 0s to 24h", d)
	}
}
