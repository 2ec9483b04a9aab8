package config

import (
	"net/url"
	"os"
)

// Filter configures what sorts mail before it is sealed (issue 14): the
// deployment's spam engine beside each account's own classifier. Sieve
// needs no configuration; ManageSieve listens on Listen.ManageSieve.
type Filter struct {
	// Rspamd is the URL of an rspamd worker's HTTP interface
	// (e.g. "http://127.0.0.1:11333"), asked about every arriving
	// message; "" for none. Its verdict adds to each account's own.
	Rspamd string `toml:"rspamd"`
	// RspamdPasswordFile holds the worker's password, if it wants one.
	RspamdPasswordFile string `toml:"rspamd_password_file"`
	// RspamdTimeout bounds one check (default 10s); a check that fails
	// or times out leaves the decision to the account's own classifier.
	RspamdTimeout Duration `toml:"rspamd_timeout"`
}

func (c *Config) validateFilter(bad func(string, ...any)) {
	f := c.Filter
	if f.Rspamd != "" {
		u, err := url.Parse(f.Rspamd)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("filter.rspamd: %q is not an http(s) URL", f.Rspamd)
		}
	}
	if f.RspamdPasswordFile != "" {
		if _, err := os.Stat(f.RspamdPasswordFile); err != nil {
			bad("filter.rspamd_password_file: %v", err)
		}
	}
	if f.RspamdTimeout < 0 {
		bad("filter.rspamd_timeout: negative")
	}
}
