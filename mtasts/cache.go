package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/resolver"
)

// Options configure a Cache.
type Options struct {
	// Resolver looks up the _mta-sts TXT records. Required.
	Resolver *resolver.Resolver
	// File keeps the cache across restarts (JSON, rewritten atomically
	// after each new policy), e.g. data_dir/mta-sts.json; "" keeps it in
	// memory only.
	File string
	// RootCAs validate the policy hosts' certificates; nil means the
	// system's roots. Tests give a test CA.
	RootCAs *x509.CertPool
	// DialContext connects to the policy hosts; nil means a net.Dialer.
	// Tests send mta-sts.example.test to a loopback server.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds one policy fetch (default 1 minute).
	Timeout time.Duration
	// Logger receives failures to fetch or keep policies (default none).
	Logger *slog.Logger
	// Now is the clock of policy ages (default time.Now).
	Now func() time.Time
}

// retryAfter is how long a failed fetch of one id is not tried again (RFC
// 8461 3.3 suggests five minutes or longer); the cached policy, if any,
// applies meanwhile.
const retryAfter = 5 * time.Minute

// Cache finds, fetches and keeps domains' policies. It is safe for
// concurrent use.
type Cache struct {
	o      Options
	client *http.Client

	mu       sync.Mutex
	entries  map[string]*entry // by domain
	failed   map[string]failure
	fetching map[string]chan struct{}

	saveMu sync.Mutex // one write of File at a time, of the latest state
}

// entry is a cached policy: its text (what File keeps), the TXT record's id
// when it was fetched, and when.
type entry struct {
	ID      string    `json:"id"`
	Fetched time.Time `json:"fetched"`
	Text    string    `json:"policy"`
	policy  *Policy
}

func (e *entry) expires() time.Time { return e.Fetched.Add(e.policy.MaxAge) }

type failure struct {
	id    string
	until time.Time
}

// fileVersion is the format of File.
const fileVersion = 1

type cacheFile struct {
	Version  int               `json:"version"`
	Policies map[string]*entry `json:"policies"`
}

// Open returns a cache holding the unexpired policies of o.File, if it
// exists. A File that cannot be read or parsed is an error (Invalid or
// Internal): starting without the policies it holds would silently stop
// enforcing them.
func Open(o Options) (*Cache, error) {
	const op = "mtasts.Open"
	if o.Resolver == nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("no resolver"))
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.Logger == nil {
		o.Logger = mlog.Discard()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	dial := o.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
	}
	c := &Cache{o: o, entries: map[string]*entry{}, failed: map[string]failure{}, fetching: map[string]chan struct{}{}}
	c.client = &http.Client{
		Transport: &http.Transport{
			DialContext:            dial,
			TLSClientConfig:        &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    30 * time.Second,
			ResponseHeaderTimeout:  30 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
			DisableKeepAlives:      true, // a domain's policy is fetched once in days
		},
		Timeout: o.Timeout,
		// RFC 8461 3.3: redirects MUST NOT be followed; fetch reports
		// the 3xx.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if o.File == "" {
		return c, nil
	}
	b, err := os.ReadFile(o.File)
	if errors.IsErr(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != fileVersion {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("%s is not an MTA-STS cache of version %d (%v)", o.File, fileVersion, err))
	}
	now := o.Now()
	for domain, e := range f.Policies {
		if e == nil {
			continue
		}
		p, err := Parse([]byte(e.Text))
		if err != nil {
			o.Logger.Warn("mta-sts: dropping a cached policy that does not parse", "domain", domain, "err", err)
			continue
		}
		e.policy = p
		if now.Before(e.expires()) {
			c.entries[domain] = e
		}
	}
	return c, nil
}

// Get returns domain's policy, nil if it has none, following RFC 8461 3 and
// 5.1:
//   - it looks up _mta-sts.DOMAIN (through the resolver's cache); with no
//     STSv1 record, more than one, or an invalid one, the domain has no
//     live policy, and the cached one applies until it expires;
//   - with a cached policy fetched under the same id and less than half
//     its max_age old, that is the answer; otherwise (a new id, no cached
//     policy, or one half-way to expiry) it fetches the policy, at most
//     once per domain at a time, and caches it under the new id;
//   - if the fetch fails, the cached policy applies until it expires, and
//     that id is not fetched again for five minutes.
//
// The error is Unavailable only when the TXT lookup got no answer and
// nothing is cached: the caller defers, as for any temporary DNS failure.
// A fetch that fails without a cached policy is not an error: the domain
// is treated as having none (RFC 8461 3.3); the failure is logged.
func (c *Cache) Get(ctx context.Context, domain string) (*Policy, error) {
	const op = "mtasts.Get"
	domain, err := normalize(domain)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	id, err := c.lookupID(ctx, domain)
	cached := c.cached(domain)
	switch {
	case err != nil && cached == nil:
		return nil, errors.E(op, errors.Unavailable, err)
	case err != nil || id == "":
		return cached.orNil(), nil
	case cached != nil && cached.ID == id && c.o.Now().Before(cached.Fetched.Add(cached.policy.MaxAge/2)):
		return cached.policy, nil
	}
	return c.refresh(ctx, domain, id, cached), nil
}

func (e *entry) orNil() *Policy {
	if e == nil {
		return nil
	}
	return e.policy
}

// cached returns domain's unexpired cached entry, or nil.
func (c *Cache) cached(domain string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[domain]
	if e == nil || !c.o.Now().Before(e.expires()) {
		return nil
	}
	return e
}

// refresh fetches domain's policy announced under id, unless another call
// is fetching it (then it waits for that one) or fetching id failed
// lately. It returns the policy that applies afterwards.
func (c *Cache) refresh(ctx context.Context, domain, id string, cached *entry) *Policy {
	c.mu.Lock()
	if f, ok := c.failed[domain]; ok && f.id == id && c.o.Now().Before(f.until) {
		c.mu.Unlock()
		return cached.orNil()
	}
	if wait, ok := c.fetching[domain]; ok {
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
		}
		return c.cached(domain).orNil()
	}
	done := make(chan struct{})
	c.fetching[domain] = done
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.fetching, domain)
		c.mu.Unlock()
		close(done)
	}()

	p, text, err := c.fetch(ctx, domain)
	now := c.o.Now()
	if err != nil {
		c.o.Logger.Warn("mta-sts: cannot fetch policy", "domain", domain, "id", id, "cached", cached != nil, "err", err)
		c.mu.Lock()
		if len(c.failed) >= 10000 {
			for d, f := range c.failed {
				if !now.Before(f.until) {
					delete(c.failed, d)
				}
			}
		}
		c.failed[domain] = failure{id, now.Add(retryAfter)}
		c.mu.Unlock()
		return cached.orNil()
	}
	c.mu.Lock()
	c.entries[domain] = &entry{ID: id, Fetched: now, Text: string(text), policy: p}
	delete(c.failed, domain)
	c.mu.Unlock()
	if err := c.save(); err != nil {
		c.o.Logger.Error("mta-sts: cannot save the policy cache", "file", c.o.File, "err", err)
	}
	return p
}

// save writes the unexpired entries to File (nothing without one).
func (c *Cache) save() error {
	if c.o.File == "" {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	f := cacheFile{Version: fileVersion, Policies: map[string]*entry{}}
	c.mu.Lock()
	now := c.o.Now()
	for domain, e := range c.entries {
		if now.Before(e.expires()) {
			f.Policies[domain] = e
		} else {
			delete(c.entries, domain)
		}
	}
	b, err := json.MarshalIndent(f, "", "\t")
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return durable.WriteFile(c.o.File, b, 0o600)
}

// normalize returns domain lower-case without a trailing dot, if it is a
// domain name whose policy host name is one too.
func normalize(domain string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if !isDomain(d) || len("mta-sts."+d) > 253 || net.ParseIP(d) != nil {
		return "", errors.Errorf("%q is not a domain name", domain)
	}
	return d, nil
}

// lookupID returns the id of domain's STSv1 TXT record (RFC 8461 3.1), ""
// if it has none, more than one, or an invalid one. The error is the
// resolver's, when it got no answer.
func (c *Cache) lookupID(ctx context.Context, domain string) (string, error) {
	txts, _, err := c.o.Resolver.TXT(ctx, "_mta-sts."+domain)
	if err != nil {
		return "", err
	}
	var records []string
	for _, t := range txts {
		// Records that do not begin with "v=STSv1;" are discarded
		// (allowing the WSP the grammar allows before the ";").
		if rest, ok := strings.CutPrefix(t, "v=STSv1"); ok && strings.HasPrefix(strings.TrimLeft(rest, " \t"), ";") {
			records = append(records, t)
		}
	}
	if len(records) != 1 {
		if len(records) > 1 {
			c.o.Logger.Warn("mta-sts: more than one STSv1 record: no policy", "domain", domain)
		}
		return "", nil
	}
	id, err := parseRecord(records[0])
	if err != nil {
		c.o.Logger.Warn("mta-sts: invalid TXT record: no policy", "domain", domain, "err", err)
		return "", nil
	}
	return id, nil
}

// parseRecord returns the id of an _mta-sts TXT record (RFC 8461 3.1):
//
//	sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//	sts-field-delim = *WSP ";" *WSP
//	sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//	sts-extension   = sts-ext-name "=" sts-ext-value
//	sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
func parseRecord(txt string) (string, error) {
	fields := strings.Split(txt, ";")
	if strings.TrimRight(fields[0], " \t") != "v=STSv1" {
		return "", errors.Str("does not start with v=STSv1")
	}
	fields = fields[1:]
	if n := len(fields); n > 1 && strings.Trim(fields[n-1], " \t") == "" {
		fields = fields[:n-1] // the optional final delimiter
	}
	id := ""
	for _, f := range fields {
		name, value, _ := strings.Cut(strings.Trim(f, " \t"), "=")
		if !isFieldName(name) || value == "" || strings.ContainsFunc(value, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '=' }) {
			return "", errors.Errorf("field %q", f)
		}
		if name == "id" {
			if id != "" || len(value) > 32 || strings.ContainsFunc(value, func(r rune) bool { return r > 0x7f || !isAlnum(byte(r)) }) {
				return "", errors.Errorf("id %q", value)
			}
			id = value
		}
	}
	if id == "" {
		return "", errors.Str("no id")
	}
	return id, nil
}

// Fetch fetches domain's policy from https://mta-sts.DOMAIN/.well-known/mta-sts.txt
// now, without looking at the TXT record or the cache (RFC 8461 3.3): the
// certificate must be valid for mta-sts.DOMAIN under WebPKI (Options.RootCAs),
// redirects are refused, only a 2xx answer of type text/plain of at most
// MaxPolicySize bytes is read, and the whole fetch is bounded by
// Options.Timeout. Errors are Unavailable (the host could not be reached
// or refused), TooLarge or Invalid (what it served is not a policy).
func (c *Cache) Fetch(ctx context.Context, domain string) (*Policy, error) {
	d, err := normalize(domain)
	if err != nil {
		return nil, errors.E("mtasts.Fetch", errors.Invalid, err)
	}
	p, _, err := c.fetch(ctx, d)
	return p, err
}

func (c *Cache) fetch(ctx context.Context, domain string) (*Policy, []byte, error) {
	const op = "mtasts.Fetch"
	url := "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, errors.E(op, errors.Invalid, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, nil, errors.E(op, errors.Unavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, nil, errors.E(op, errors.Unavailable, errors.Errorf("%s: redirect (%s) refused", url, resp.Status))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return nil, nil, errors.E(op, errors.Unavailable, errors.Errorf("%s: %s", url, resp.Status))
	}
	// RFC 8461 3.3: senders SHOULD check the media type is text/plain, as
	// a guard against servers letting others host other content there.
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, nil, errors.E(op, errors.Invalid, errors.Errorf("%s: content type %q is not text/plain", url, resp.Header.Get("Content-Type")))
	}
	text, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return nil, nil, errors.E(op, errors.Unavailable, err)
	}
	p, err := Parse(text)
	if err != nil {
		return nil, nil, errors.E(op, err)
	}
	return p, text, nil
}
