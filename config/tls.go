package config

import (
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TLS chooses where the certificate of every public TLS listener (SMTP's
// STARTTLS, 465, 587, IMAP's 143 and 993, ManageSieve, the web app)
// comes from: exactly one of
//   - Cert and Key, PEM files, read again whenever they change (checked
//     every ReloadEvery) and on SIGHUP; a pair that does not load is
//     logged and the previous one kept;
//   - ACME, certificates issued and renewed by an ACME CA (RFC 8555), Let's
//     Encrypt by default;
//   - SelfSigned, a self-signed certificate for Hostname made once under
//     DataDir: for demos and tests only.
type TLS struct {
	Cert       string `toml:"cert"`
	Key        string `toml:"key"`
	SelfSigned bool   `toml:"self_signed"`
	// ReloadEvery is how often Cert and Key are checked for a change
	// (their size and modification time; default 30s).
	ReloadEvery Duration `toml:"reload_every"`
	// ACME, when the [tls.acme] table is present, gets the certificates
	// from an ACME CA.
	ACME *ACME `toml:"acme"`
}

// ACME configures certificates from an ACME CA (RFC 8555), for the names
// the server answers publicly: Hostname, mta-sts.DOMAIN and
// autoconfig.DOMAIN of every hosted domain, and Names. Having the table
// accepts the CA's terms of service. The account key and the certificates
// (with their private keys) are kept under data_dir/acme.
type ACME struct {
	// Directory is the CA's directory URL, or "letsencrypt" (the
	// default) or "letsencrypt-staging".
	Directory string `toml:"directory"`
	// Email is the contact the account is registered with (optional).
	Email string `toml:"email"`
	// HTTP is the address of the HTTP-01 responder (RFC 8555 8.3), which
	// the CA reaches on port 80: ":80" in production. Empty: only
	// TLS-ALPN-01 (RFC 8737), which the CA tries on port 443 of the name,
	// where an implicit-TLS listener (the web app, or 993 forwarded)
	// must answer.
	HTTP string `toml:"http"`
	// Names are further names to get certificates for.
	Names []string `toml:"names"`
	// DirectoryCA is a PEM file of the roots that the directory's HTTPS
	// certificate must chain to, for a private CA (and tests); default:
	// the system's roots.
	DirectoryCA string `toml:"directory_ca"`
	// RenewBefore is how long before expiry a certificate is renewed;
	// default a third of its lifetime, at most 30 days.
	RenewBefore Duration `toml:"renew_before"`
}

// Let's Encrypt's directories (RFC 8555 7.1.1), which ACME.Directory may
// name.
const (
	LetsEncrypt        = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// DefaultTLSReload is how often certificate files are checked for a change.
const DefaultTLSReload = Duration(30 * time.Second)

// DirectoryURL returns the directory's URL, the aliases resolved.
func (a *ACME) DirectoryURL() string {
	switch a.Directory {
	case "", "letsencrypt":
		return LetsEncrypt
	case "letsencrypt-staging":
		return LetsEncryptStaging
	}
	return a.Directory
}

// resolvePaths makes the file names relative to base absolute.
func (t *TLS) resolvePaths(base string) {
	ps := []*string{&t.Cert, &t.Key}
	if t.ACME != nil {
		ps = append(ps, &t.ACME.DirectoryCA)
	}
	for _, p := range ps {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
}

// validate checks the certificate source and fills in the defaults;
// hostname is the server's, for which ACME gets the first certificate.
func (t *TLS) validate(hostname string, bad func(string, ...any)) {
	sources := 0
	for _, on := range []bool{t.Cert != "" || t.Key != "", t.SelfSigned, t.ACME != nil} {
		if on {
			sources++
		}
	}
	if sources != 1 {
		bad("tls: set exactly one of cert and key, [tls.acme], or self_signed = true")
	}
	if (t.Cert == "") != (t.Key == "") {
		bad("tls: cert and key go together")
	}
	for _, f := range []string{t.Cert, t.Key} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			bad("tls: %v", err)
		}
	}
	if t.ReloadEvery == 0 {
		t.ReloadEvery = DefaultTLSReload
	}
	if t.ReloadEvery.D() < time.Second {
		bad("tls.reload_every: %v is under a second", t.ReloadEvery.D())
	}
	if t.ACME != nil {
		if !strings.Contains(strings.Trim(hostname, "."), ".") {
			bad("tls.acme: hostname %q is not a public name a CA can validate", hostname)
		}
		t.ACME.validate(bad)
	}
}

func (a *ACME) validate(bad func(string, ...any)) {
	if u, err := url.Parse(a.DirectoryURL()); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("tls.acme.directory: %q is not letsencrypt, letsencrypt-staging or an https URL", a.Directory)
	}
	if a.Email != "" {
		if addr, err := mail.ParseAddress(a.Email); err != nil || addr.Address != a.Email {
			bad("tls.acme.email: %q is not an email address", a.Email)
		}
	}
	if a.HTTP != "" {
		if _, _, err := net.SplitHostPort(a.HTTP); err != nil {
			bad("tls.acme.http: %v", err)
		}
	}
	for i, n := range a.Names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if _, ok := dns.IsDomainName(n); !ok || !strings.Contains(n, ".") || strings.HasPrefix(n, "*") {
			bad("tls.acme.names: %q is not a host name (wildcards need DNS-01, which is not offered)", a.Names[i])
		}
		a.Names[i] = n
	}
	if a.DirectoryCA != "" {
		if _, err := os.Stat(a.DirectoryCA); err != nil {
			bad("tls.acme.directory_ca: %v", err)
		}
	}
	if a.RenewBefore < 0 {
		bad("tls.acme.renew_before: negative")
	}
}
