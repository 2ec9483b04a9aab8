package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// The documented example must stay loadable: every key known, every value
// valid (once its certificate files exist).
func TestExampleConfig(t *testing.T) {
	src, err := os.ReadFile("../sealpost.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"cert.pem", "key.pem"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	text := strings.NewReplacer("/etc/sealpost/fullchain.pem", filepath.Join(dir, "cert.pem"),
		"/etc/sealpost/privkey.pem", filepath.Join(dir, "key.pem")).Replace(string(src))
	path := filepath.Join(dir, "sealpost.toml")
	os.WriteFile(path, []byte(text), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if c.Listen.SMTP != ":25" || c.Limits.MaxRecipients != 100 || c.Argon2.MemoryKiB != 65536 {
		t.Errorf("example config decoded wrong: %+v", c)
	}
	if len(c.Regions) != 2 || c.Regions[0].Store.Path != "/var/lib/sealpost/regions/ie/meta.db" ||
		c.Regions[0].Blobs.Path != "/var/lib/sealpost/regions/ie/blobs" || c.Regions[1].Blobs.Kind != "s3" ||
		c.Directory != "/var/lib/sealpost/directory.db" {
		t.Errorf("example regions decoded wrong: %+v (directory %s)", c.Regions, c.Directory)
	}
}

const region = "[[region]]\nid = \"ie\"\nname = \"Ireland\"\ncountry = \"IE\"\n"

func TestLoadRejects(t *testing.T) {
	for name, text := range map[string]string{
		"no region":         "[tls]\nself_signed = true\n",
		"bad region id":     strings.Replace(region, `"ie"`, `"IE"`, 1) + "[tls]\nself_signed = true\n",
		"bad country":       strings.Replace(region, `"IE"`, `"Ireland"`, 1) + "[tls]\nself_signed = true\n",
		"duplicate region":  region + region + "[tls]\nself_signed = true\n",
		"pg without dsn":    region + "store.kind = \"postgres\"\n[tls]\nself_signed = true\n",
		"s3 without bucket": region + "blobs.kind = \"s3\"\nblobs.endpoint = \"x:1\"\n[tls]\nself_signed = true\n",
		"shared storage": region + "store.path = \"m.db\"\n" + strings.NewReplacer(`"ie"`, `"us"`, `"IE"`, `"US"`).Replace(region) +
			"store.path = \"m.db\"\n[tls]\nself_signed = true\n",
		"half cluster":         region + "[cluster]\nca = \"ca.crt\"\n[tls]\nself_signed = true\n",
		"unknown key":          region + "hostnme = \"x\"\n[tls]\nself_signed = true\n",
		"bad listen":           region + "[listen]\nsmtp = \"nonsense\"\n[tls]\nself_signed = true\n",
		"no tls":               "",
		"both tls":             region + "[tls]\nself_signed = true\ncert = \"a\"\nkey = \"b\"\n",
		"tiny argon2":          region + "[argon2]\nmemory_kib = 1\n[tls]\nself_signed = true\n",
		"bad log level":        region + "[log]\nlevel = \"loud\"\n[tls]\nself_signed = true\n",
		"syntax":               "hostname = \n",
		"bad dns server":       region + "[dns]\nservers = [\"127.0.0.1\"]\n[tls]\nself_signed = true\n",
		"bad duration":         region + "[outbound]\nmin_backoff = \"soon\"\n[tls]\nself_signed = true\n",
		"backoff order":        region + "[outbound]\nmin_backoff = \"2h\"\nmax_backoff = \"1h\"\n[tls]\nself_signed = true\n",
		"relay creds in clear": region + "[outbound]\nrelay = \"smtp.example:25\"\nrelay_tls = \"none\"\nrelay_user = \"u\"\nrelay_password_file = \"p\"\n[tls]\nself_signed = true\n",
		"bad relay tls":        region + "[outbound]\nrelay_tls = \"maybe\"\n[tls]\nself_signed = true\n",
		"bad trusted relay":    region + "[mx]\ntrusted_relays = [\"10.0.0.1\"]\n[tls]\nself_signed = true\n",
		"bad mta-sts mode":     region + "[mta_sts]\nmode = \"strict\"\n[tls]\nself_signed = true\n",
		"short max_age":        region + "[mta_sts]\nmax_age = \"10m\"\n[tls]\nself_signed = true\n",
		"tiny memory limit":    region + "[limits]\nmemory_limit = 1048576\n[tls]\nself_signed = true\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.toml")
			os.WriteFile(path, []byte(text), 0o600)
			_, err := Load(path)
			if !errors.Is(errors.Invalid, err) {
				t.Fatalf("Load = %v, want an Invalid error", err)
			}
		})
	}
}

func TestDefaultIsValidWithTLS(t *testing.T) {
	c := Default()
	c.TLS.SelfSigned = true
	c.Regions = []Region{{ID: "ie", Name: "Ireland", Country: "IE", Zones: []string{"EU"}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The mail sections read durations as strings, "never" as zero, and keep
// Postfix's schedule by default.
func TestMailSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(path, []byte(region+`[dns]
servers = ["127.0.0.1:5353"]
trust_ad = true
[outbound]
max_backoff = "2h"
delay_warning = "never"
relay = "smtp.example:587"
relay_user = "u"
relay_password_file = "relay.pass"
[mx]
trusted_relays = ["192.0.2.0/24", "2001:db8::/32"]
[tls]
self_signed = true
`), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Outbound
	if o.MinBackoff.D() != 300*time.Second || o.MaxBackoff.D() != 2*time.Hour || o.Lifetime.D() != 5*24*time.Hour ||
		o.DelayWarning != 0 || o.Port != 25 || o.RelayTLS != "starttls" || o.PerDomain != 4 {
		t.Errorf("outbound = %+v", o)
	}
	if o.RelayPasswordFile != filepath.Join(filepath.Dir(path), "relay.pass") {
		t.Errorf("relay_password_file not made absolute: %s", o.RelayPasswordFile)
	}
	if !c.DNS.TrustAD || c.DNS.Timeout.D() != 5*time.Second || len(c.MX.TrustedRelayPrefixes()) != 2 || c.MTASTS.Mode != "enforce" {
		t.Errorf("dns %+v, mx %+v, mta-sts %+v", c.DNS, c.MX, c.MTASTS)
	}
}
