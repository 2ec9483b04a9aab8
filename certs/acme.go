package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/sealpost/sealpost/errors"
)

// Policy says which names certificates may be asked for: Names, and each
// of Prefixes before a domain Hosted reports as hosted here (the web app
// serves mta-sts.DOMAIN, autoconfig.DOMAIN and autodiscover.DOMAIN). No
// other name ever leads to an ACME order, whatever a client's SNI says: a CA's rate limits are
// per account and per name, and an order for a name that is not ours
// would fail its validation anyway.
type Policy struct {
	Names    []string
	Prefixes []string
	Hosted   func(ctx context.Context, domain string) (bool, error)
}

// Allows returns nil if a certificate may be asked for name (lower case,
// no trailing dot, no port).
func (p Policy) Allows(ctx context.Context, name string) error {
	for _, n := range p.Names {
		if name == n {
			return nil
		}
	}
	if p.Hosted != nil {
		for _, pre := range p.Prefixes {
			dom, ok := strings.CutPrefix(name, pre)
			if !ok || dom == "" {
				continue
			}
			hosted, err := p.Hosted(ctx, dom)
			if err != nil {
				return err
			}
			if hosted {
				return nil
			}
		}
	}
	return errors.E("certs.Policy", errors.NotExist, errors.Str("not a name of this server"))
}

// ACMEOptions configures an ACME source.
type ACMEOptions struct {
	// DirectoryURL is the CA's directory (RFC 8555 7.1.1).
	DirectoryURL string
	// Email is the account's contact (RFC 8555 7.3), optional.
	Email string
	// CacheDir keeps the account key and the certificates with their
	// private keys (0700; files 0600).
	CacheDir string
	// Default is the name whose certificate a hello gets when it names
	// nothing, or a name the policy refuses, or one whose certificate
	// could not be had: the mail host name. Clients that connect by
	// address, or by a name we were not told of, still get TLS.
	Default string
	// Policy says which other names may have certificates.
	Policy Policy
	// Roots are what the directory's HTTPS certificate must chain to;
	// nil: the system's.
	Roots *x509.CertPool
	// RenewBefore is how long before expiry a certificate is renewed;
	// zero: a third of its lifetime, at most 30 days (autocert's).
	RenewBefore time.Duration
	Log         *slog.Logger
}

// ACME gets certificates from an ACME CA (RFC 8555) as handshakes ask
// for them, keeps them under CacheDir and renews each in the background
// before it expires (autocert's timers); a renewed certificate replaces
// the old one in memory, and the next handshake gets it.
type ACME struct {
	m   *autocert.Manager
	def string
	pol Policy
	log *slog.Logger

	mu     sync.Mutex
	failed map[string]backoff // names whose last order failed

	closed atomic.Bool
}

var _ Source = (*ACME)(nil)

// backoff holds off orders for a name after a failure, doubling from a
// minute to a day: a client naming mta-sts.DOMAIN whose DNS does not
// point here must not spend the CA's failed-validation limit.
type backoff struct {
	until time.Time
	wait  time.Duration
}

const (
	firstBackoff = time.Minute
	maxBackoff   = 24 * time.Hour
)

// NewACME returns an ACME source. Nothing is asked of the CA until a
// handshake (or Warm) needs a certificate.
func NewACME(o ACMEOptions) (*ACME, error) {
	const op = "certs.NewACME"
	def := normalize(o.Default)
	if def == "" || o.DirectoryURL == "" {
		return nil, errors.E(op, errors.Invalid, errors.Str("a default name and a directory URL are required"))
	}
	cache, err := OpenDirCache(o.CacheDir)
	if err != nil {
		return nil, errors.E(op, err)
	}
	a := &ACME{def: def, pol: o.Policy, log: o.Log, failed: map[string]backoff{}}
	a.pol.Names = append([]string{def}, o.Policy.Names...)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the CA is reached directly, never through a proxy from the environment
	if o.Roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: o.Roots, MinVersion: tls.VersionTLS12}
	}
	a.m = &autocert.Manager{
		// Configuring [tls.acme] is accepting the CA's terms (the
		// operator is told so in the configuration's documentation).
		Prompt:      autocert.AcceptTOS,
		Cache:       cache,
		HostPolicy:  a.hostPolicy,
		RenewBefore: o.RenewBefore,
		Email:       o.Email,
		Client: &acme.Client{
			DirectoryURL: o.DirectoryURL,
			UserAgent:    "sealpost",
			HTTPClient:   &http.Client{Transport: closable{tr, &a.closed}, Timeout: time.Minute},
		},
	}
	return a, nil
}

// hostPolicy is autocert's HostPolicy: the policy, for a name that may
// carry a port (the Host field of an HTTP-01 request to a port other than
// 80, as in tests).
func (a *ACME) hostPolicy(ctx context.Context, host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return a.pol.Allows(ctx, normalize(host))
}

// GetCertificate implements Source. A TLS-ALPN-01 validation gets the
// challenge's certificate (RFC 8737 3); any other hello the certificate
// of its server name if the policy allows it, else Default's.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if isALPN01(hello) {
		return a.m.GetCertificate(hello)
	}
	name := normalize(hello.ServerName)
	if name != a.def && (name == "" || a.holdingOff(name) || a.pol.Allows(helloContext(hello), name) != nil) {
		name = a.def
	}
	c, err := a.get(hello, name)
	if err == nil || name == a.def {
		if err != nil {
			a.log.Warn("acme: no certificate for the host name", "name", name, "err", err)
		}
		return c, err
	}
	a.holdOff(name, err)
	return a.get(hello, a.def)
}

// get asks autocert for name's certificate, as hello would (its key type).
func (a *ACME) get(hello *tls.ClientHelloInfo, name string) (*tls.Certificate, error) {
	h := *hello
	h.ServerName = name
	c, err := a.m.GetCertificate(&h)
	if err == nil {
		a.mu.Lock()
		delete(a.failed, name)
		a.mu.Unlock()
	}
	return c, err
}

func (a *ACME) holdingOff(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.failed[name]
	return ok && time.Now().Before(b.until)
}

func (a *ACME) holdOff(name string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.failed[name]
	b.wait = min(max(2*b.wait, firstBackoff), maxBackoff)
	b.until = time.Now().Add(b.wait)
	a.failed[name] = b
	a.log.Warn("acme: no certificate; serving the host name's meanwhile", "name", name, "err", err, "retry_in", b.wait)
}

// AnswersALPN01 implements Source: yes.
func (a *ACME) AnswersALPN01() bool { return true }

// HTTPHandler answers HTTP-01 validations (RFC 8555 8.3) under
// /.well-known/acme-challenge/ for the names the policy allows, and
// redirects every other GET or HEAD to https (400 otherwise). Serve it on
// port 80. Calling it makes HTTP-01 a way of validation (after
// TLS-ALPN-01, which autocert tries first).
func (a *ACME) HTTPHandler() http.Handler { return a.m.HTTPHandler(nil) }

// Warm gets the certificates of names (which the policy allows) now,
// rather than at the first handshake that needs one, one after another;
// it logs what it could not get.
func (a *ACME) Warm(ctx context.Context, names ...string) {
	for _, n := range names {
		if ctx.Err() != nil || a.closed.Load() {
			return
		}
		// An ECDSA-capable hello (autocert also keeps an RSA certificate
		// for clients that cannot take ECDSA, made when one asks).
		hello := &tls.ClientHelloInfo{ServerName: n, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
		if c, err := a.m.GetCertificate(hello); err != nil {
			a.log.Warn("acme: could not get a certificate yet", "name", n, "err", err)
		} else {
			a.log.Info("acme: certificate ready", "name", n, "serial", c.Leaf.SerialNumber.Text(16), "not_after", c.Leaf.NotAfter)
		}
	}
}

// Close implements Source: from now on nothing reaches the CA (autocert's
// renewal timers, which cannot be stopped, find the client closed).
func (a *ACME) Close() error {
	a.closed.Store(true)
	return nil
}

// closable is the CA client's transport, refused once the source is
// closed.
type closable struct {
	rt     http.RoundTripper
	closed *atomic.Bool
}

func (c closable) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.closed.Load() {
		return nil, errors.E("certs.ACME", errors.Unavailable, errors.Str("closed"))
	}
	return c.rt.RoundTrip(r)
}

// helloContext is the handshake's context (the policy's lookup ends with
// the handshake).
func helloContext(hello *tls.ClientHelloInfo) context.Context {
	if ctx := hello.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// normalize lower-cases a host name and drops a trailing dot.
func normalize(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }
