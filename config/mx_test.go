package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// loadMX loads a configuration whose [mx] section is mx.
func loadMX(t *testing.T, mx string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(path, []byte(region+"[mx]\n"+mx+"\n[tls]\nself_signed = true\n"), 0o600)
	return Load(path)
}

// The DNSBL and greylisting keys: defaults, values, and what is refused.
func TestMXScreens(t *testing.T) {
	c, err := loadMX(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if m := c.MX; len(m.DNSBL) != 0 || m.Greylist || m.GreylistDelay.D() != 5*time.Minute || m.GreylistExpire.D() != 36*time.Hour ||
		m.GreylistKeep.D() != 35*24*time.Hour || m.GreylistMaxEntries != 200_000 {
		t.Errorf("defaults: %+v", m)
	}
	c, err = loadMX(t, `dnsbl = ["zen.spamhaus.org", "bl.example."]
dnsbl_ignore = ["192.0.2.0/24", "::1/128"]
greylist = true
greylist_delay = "2m"
greylist_expire = "24h"
greylist_keep = "30d"`)
	if err == nil || !errors.Is(errors.Invalid, err) { // "30d" is no Go duration
		t.Errorf("30d: %v, want Invalid", err)
	}
	c, err = loadMX(t, `dnsbl = ["zen.spamhaus.org", "bl.example."]
dnsbl_ignore = ["192.0.2.0/24", "::1/128"]
greylist = true
greylist_delay = "2m"
greylist_expire = "24h"
greylist_keep = "720h"`)
	if err != nil {
		t.Fatal(err)
	}
	if m := c.MX; len(m.DNSBL) != 2 || len(m.DNSBLIgnorePrefixes()) != 2 || !m.Greylist || m.GreylistDelay.D() != 2*time.Minute {
		t.Errorf("values: %+v", m)
	}
	for name, mx := range map[string]string{
		"bad zone":          `dnsbl = ["not a zone"]`,
		"one-label zone":    `dnsbl = ["localhost"]`,
		"twice":             `dnsbl = ["zen.spamhaus.org", "ZEN.spamhaus.org."]`,
		"bad ignore":        `dnsbl_ignore = ["10.0.0.1"]`,
		"delay over expire": "greylist = true\ngreylist_delay = \"2h\"\ngreylist_expire = \"1h\"",
		"keep under expire": "greylist = true\ngreylist_keep = \"1h\"",
		"zero delay":        "greylist = true\ngreylist_delay = \"0s\"",
		"tiny store":        "greylist = true\ngreylist_max_entries = 5",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadMX(t, mx); !errors.Is(errors.Invalid, err) {
				t.Errorf("Load = %v, want an Invalid error", err)
			}
		})
	}
	// Greylisting's values are checked only when it is on.
	if _, err := loadMX(t, "greylist_keep = \"1h\""); err != nil {
		t.Errorf("greylist off: %v", err)
	}
}
