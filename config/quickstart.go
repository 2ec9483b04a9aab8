package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sealpost/sealpost/errors"
)

// Fresh is what `sealpost quickstart` asks for a first configuration: one
// region on this machine, every listener on its standard port, the web
// app (MTA-STS, autoconfig, the owner's page) on 443.
type Fresh struct {
	Hostname string // the mail host's name (its MX target)
	DataDir  string // absolute
	Region   string // the region's id, e.g. "ie"
	Country  string // ISO 3166-1 alpha-2 of where this machine is
	// Cert and Key are PEM files valid for Hostname (absolute). Both
	// empty: certificates from Let's Encrypt (ACME, HTTP-01 on port 80 and
	// TLS-ALPN-01 on 443) registered with ACMEEmail, or with SelfSigned a
	// self-signed certificate (a trial behind no public name).
	Cert, Key  string
	ACMEEmail  string
	SelfSigned bool
}

// acme reports whether f's certificates come from ACME.
func (f Fresh) acme() bool { return f.Cert == "" && !f.SelfSigned }

// Config is f as a configuration, with every default.
func (f Fresh) Config() Config {
	c := Default()
	c.Hostname = f.Hostname
	c.DataDir = f.DataDir
	c.Regions = []Region{{ID: f.Region, Name: f.Country, Country: f.Country}}
	c.Listen = Listen{SMTP: ":25", Submission: ":587", Submissions: ":465", IMAP: ":143", IMAPS: ":993", ManageSieve: ":4190"}
	c.Legal.Web = ":443"
	c.TLS = TLS{Cert: f.Cert, Key: f.Key, SelfSigned: f.SelfSigned && f.Cert == ""}
	if f.acme() {
		c.TLS.ACME = &ACME{Email: f.ACMEEmail, HTTP: ":80"}
	}
	return c
}

// TOML writes f's configuration as a commented TOML file that Load reads
// back as Config (paths absolute, so the file may move).
func (f Fresh) TOML() ([]byte, error) {
	const op = "config.Fresh.TOML"
	for _, p := range []string{f.DataDir, f.Cert, f.Key} {
		if p != "" && !filepath.IsAbs(p) {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("%q is not an absolute path", p))
		}
	}
	vals := []string{f.Hostname, f.DataDir, f.Region, f.Country, f.Cert, f.Key, f.ACMEEmail}
	q := make([]string, len(vals))
	for i, v := range vals {
		s, err := tomlString(v)
		if err != nil {
			return nil, errors.E(op, errors.Invalid, err)
		}
		q[i] = s
	}
	var tls string
	switch {
	case f.Cert != "":
		tls = "cert = " + q[4] + "\nkey  = " + q[5]
	case f.SelfSigned:
		tls = "self_signed = true   # replace with cert and key, or [tls.acme], before going live"
	default:
		tls = `# Certificates from Let's Encrypt (RFC 8555), for the hostname and the
# mta-sts., autoconfig. and autodiscover. names of each hosted domain,
# renewed in the background. Having this table accepts the CA's terms.
[tls.acme]
email = ` + q[6] + `
http  = ":80"   # HTTP-01; TLS-ALPN-01 is answered on 443 (the web app)`
	}
	return fmt.Appendf(nil, `# Sealpost configuration, written by 'sealpost quickstart'. Every setting,
# with its documentation, is in sealpost.example.toml.

# The mail host's name: the target of the domains' MX records, in SMTP
# greetings, and the name its certificate must be valid for.
hostname = %s

# Keys, the directory and each region's mail (sealed).
data_dir = %s

# One region: this machine, in this country. Mail and keys of its accounts
# are stored only here.
[[region]]
id      = %s
name    = %s
country = %s

[listen]
smtp        = ":25"
submission  = ":587"
submissions = ":465"
imap        = ":143"
imaps       = ":993"
managesieve = ":4190"

[legal]
# The web app: MTA-STS policies, client autoconfiguration, each owner's
# privacy page and the transparency log. HTTPS with the certificate below.
web = ":443"

[tls]
%s
`, q[0], q[1], q[2], q[3], q[3], tls), nil
}

// tomlString quotes s as a TOML basic string (TOML 1.0 "Basic strings"):
// backslash and quote escaped, control characters refused.
func tomlString(s string) (string, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", errors.Errorf("%q holds a control character", s)
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, nil
}
