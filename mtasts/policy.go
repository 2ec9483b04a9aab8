package mtasts

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sealpost/sealpost/errors"
)

// Mode is a policy's mode (RFC 8461 5): what a sender does when an MX host
// fails validation.
type Mode string

// The modes of RFC 8461 3.2.
const (
	// Enforce: deliver only to MX hosts that match the policy, over TLS
	// with a certificate valid for the host under WebPKI; otherwise defer.
	Enforce Mode = "enforce"
	// Testing: deliver as without a policy, and report failures.
	Testing Mode = "testing"
	// None: the domain has withdrawn its policy (RFC 8461 8.3).
	None Mode = "none"
)

// MaxPolicySize bounds a policy file (RFC 8461 3.3 suggests 64 KiB).
const MaxPolicySize = 64 << 10

// MaxMaxAge is the largest max_age a policy may have (RFC 8461 3.2: 31557600
// seconds, a year).
const MaxMaxAge = 31557600 * time.Second

// Policy is a parsed MTA-STS policy. It is not modified after Parse returns,
// so it may be shared.
type Policy struct {
	Mode Mode
	// MX are the patterns of allowed MX hosts, lower-case, as the policy
	// gives them: "mx.example.com", or "*.example.net" for any host one
	// label below example.net. Empty only in mode none.
	MX []string
	// MaxAge is how long the policy may be cached: whole seconds, at most
	// MaxMaxAge.
	MaxAge time.Duration
}

// Parse reads a policy file (RFC 8461 3.2): "key: value" lines separated by
// CRLF or LF, with exactly one version (STSv1), one mode (enforce, testing
// or none), one max_age (at most 31557600 seconds) and, unless the mode is
// none, one or more mx patterns ("*." allowed as the whole first label).
// Keys are case-sensitive; unknown keys are ignored, as the RFC requires;
// blank lines are skipped. Anything else, a line without a colon, a key that
// is not a key, a repeated version, mode or max_age, text that is not
// UTF-8, is Invalid: a sender cannot guess what a malformed policy meant.
func Parse(text []byte) (*Policy, error) {
	const op = "mtasts.Parse"
	bad := func(format string, args ...any) error {
		return errors.E(op, errors.Invalid, errors.Errorf(format, args...))
	}
	if len(text) > MaxPolicySize {
		return nil, errors.E(op, errors.TooLarge, errors.Errorf("policy of %d bytes", len(text)))
	}
	if !utf8.Valid(text) {
		return nil, bad("policy is not UTF-8")
	}
	p := &Policy{}
	seen := map[string]bool{}
	for n, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.Trim(line, " \t") == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || !isFieldName(key) {
			return nil, bad("line %d is not a \"key: value\" field", n+1)
		}
		// RFC 8461 3.2: sts-policy-field-delim = ":" *WSP, and *WSP may
		// end a field.
		value = strings.Trim(value, " \t")
		switch key {
		case "version", "mode", "max_age":
			if seen[key] {
				return nil, bad("%s given twice", key)
			}
			seen[key] = true
		}
		switch key {
		case "version":
			if value != "STSv1" {
				return nil, bad("version %q is not STSv1", value)
			}
		case "mode":
			switch m := Mode(value); m {
			case Enforce, Testing, None:
				p.Mode = m
			default:
				return nil, bad("mode %q is not enforce, testing or none", value)
			}
		case "max_age":
			// sts-policy-max-age-value = 1*10(DIGIT)
			secs, err := strconv.ParseUint(value, 10, 64)
			if err != nil || len(value) > 10 || strings.TrimLeft(value, "0123456789") != "" {
				return nil, bad("max_age %q is not a number of seconds", value)
			}
			if time.Duration(secs)*time.Second > MaxMaxAge {
				return nil, bad("max_age %d is above %d", secs, int64(MaxMaxAge/time.Second))
			}
			p.MaxAge = time.Duration(secs) * time.Second
		case "mx":
			pat := strings.ToLower(value)
			if !isDomain(strings.TrimPrefix(pat, "*.")) {
				return nil, bad("mx %q is not a host name or *. and a domain", value)
			}
			p.MX = append(p.MX, pat)
		}
	}
	for _, key := range []string{"version", "mode", "max_age"} {
		if !seen[key] {
			return nil, bad("no %s", key)
		}
	}
	if len(p.MX) == 0 && p.Mode != None {
		return nil, bad("no mx in mode %s", p.Mode)
	}
	return p, nil
}

// isFieldName reports whether s is a field name (RFC 8461 3.2,
// sts-policy-ext-name; also the TXT record's sts-ext-name, 3.1):
// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func isFieldName(s string) bool {
	if len(s) == 0 || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isDomain reports whether s is a lower-case domain in RFC 5321's syntax
// (A-labels; no trailing dot): labels of letters, digits and inner hyphens,
// at most 63 bytes each and 253 in all.
func isDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Match reports whether mxHost matches one of the policy's mx patterns
// (RFC 8461 4.1): equal, ignoring case and a trailing dot; or, for
// "*.example.com", exactly one label followed by ".example.com" (so neither
// example.com nor a.b.example.com).
func (p *Policy) Match(mxHost string) bool {
	host := strings.ToLower(strings.TrimSuffix(mxHost, "."))
	for _, pat := range p.MX {
		if suffix, ok := strings.CutPrefix(pat, "*"); ok {
			label, ok := strings.CutSuffix(host, suffix)
			if ok && label != "" && !strings.Contains(label, ".") {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

// Enforced reports whether p is a policy in enforce mode; false for nil (no
// policy).
func (p *Policy) Enforced() bool { return p != nil && p.Mode == Enforce }

// TLSConfig returns a copy of base (nil: a zero Config) for a connection to
// mxHost under p, with ServerName set to mxHost (SNI). In enforce mode it
// adds the check RFC 8461 4.2 requires: the server's certificate must chain
// to one of base.RootCAs (nil: the system's roots), be unexpired and be
// valid for mxHost (VerifyWebPKI). That check runs in VerifyConnection,
// before base's own, with InsecureSkipVerify set, so that dane's TLSConfig
// can be layered on the same Config. Without an enforced policy (p nil, or
// mode testing or none) nothing is added: base decides, usually
// opportunistic TLS (InsecureSkipVerify).
func (p *Policy) TLSConfig(base *tls.Config, mxHost string) *tls.Config {
	c := &tls.Config{}
	if base != nil {
		c = base.Clone()
	}
	host := strings.ToLower(strings.TrimSuffix(mxHost, "."))
	c.ServerName = host
	if !p.Enforced() {
		return c
	}
	roots, next := c.RootCAs, c.VerifyConnection
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := VerifyWebPKI(cs.PeerCertificates, host, roots); err != nil {
			return err
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
	return c
}

// VerifyWebPKI checks a server's certificate chain (leaf first, as
// tls.ConnectionState.PeerCertificates) the way RFC 8461 4.2 requires:
// chained to one of roots (nil: the system's roots), unexpired, and valid
// for host (DNS names, "*." wildcards of one label). The error is
// Permission.
func VerifyWebPKI(chain []*x509.Certificate, host string, roots *x509.CertPool) error {
	const op = "mtasts.VerifyWebPKI"
	if len(chain) == 0 {
		return errors.E(op, errors.Permission, errors.Str("no certificate"))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
	if err != nil {
		return errors.E(op, errors.Permission, err)
	}
	return nil
}

// PolicyText returns the policy file a domain whose mail goes to mxHosts
// serves (RFC 8461 3.2), CRLF-separated: version, mode, one mx line per
// host, max_age in whole seconds. It fails (Invalid) if the result would
// not Parse: an unknown mode, a host that is not a domain, a max_age above
// MaxMaxAge.
func PolicyText(mode Mode, mxHosts []string, maxAge time.Duration) ([]byte, error) {
	var b strings.Builder
	b.WriteString("version: STSv1\r\nmode: " + string(mode) + "\r\n")
	for _, h := range mxHosts {
		b.WriteString("mx: " + strings.ToLower(strings.TrimSuffix(h, ".")) + "\r\n")
	}
	b.WriteString("max_age: " + strconv.FormatInt(int64(maxAge/time.Second), 10) + "\r\n")
	text := []byte(b.String())
	if _, err := Parse(text); err != nil {
		return nil, errors.E("mtasts.PolicyText", err)
	}
	return text, nil
}

// PolicyID returns the id of a policy text for its TXT record (RFC 8461
// 3.1: 1 to 32 letters and digits): the first 16 hex digits of its
// SHA-256, so the id changes exactly when the text does.
func PolicyID(text []byte) string {
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:8])
}

// TXTRecord returns the _mta-sts TXT record announcing text (RFC 8461 3.1):
// "v=STSv1; id=" and PolicyID(text).
func TXTRecord(text []byte) string { return "v=STSv1; id=" + PolicyID(text) }
