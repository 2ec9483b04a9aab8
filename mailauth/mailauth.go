// Package mailauth owns the authentication of mail arriving at the MX: SPF
// (RFC 7208, with blitiri.com.ar/go/spf), DKIM verification (RFC 6376, with
// github.com/emersion/go-msgauth/dkim) and DMARC (RFC 7489: policy
// discovery, alignment and disposition are ours; records are parsed with
// go-msgauth/dmarc), summed up in an Authentication-Results: header field
// (RFC 8601, formatted with go-msgauth/authres) and one Verdict.
//
// It is pure policy: the DNS (a Resolver, net.Resolver's methods), the
// hosted-domain lookup and the random source of DMARC's pct sampling are
// passed in, so that every rule can be tested against a real DNS server
// without a mail server.
//
// The rules beyond the RFCs (docs/DECISIONS.md):
//
//   - Our own domains: mail whose From: domain or MAIL FROM domain is hosted
//     here is refused unless a valid DKIM signature with exactly that d=
//     covers it, whatever the DNS says of the domain's policy: Sealpost
//     signs everything it sends for its domains.
//   - A From: field that names no single author (two From: fields, several
//     or no addresses, unparseable) is refused: DMARC could not tell whom to
//     check, and a forger would use that. A message with no From: field at
//     all is accepted with dmarc=permerror (it impersonates no one).
//   - A temporary DNS failure gives TempFail (451) only when the outcome
//     depends on it: the policy could not be fetched (and nothing already
//     passes), or DMARC fails with a policy other than none while an
//     aligned SPF or DKIM result was a temperror. Otherwise it is recorded.
//   - Trusted relays are not checked: Accept, no header.
package mailauth

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/idna"

	"github.com/sealpost/sealpost/errors"
)

// Resolver is the DNS the checks ask, in net.Resolver's form: no records is
// a *net.DNSError with IsNotFound, a failure to get an answer one with
// IsTemporary. *resolver.Resolver is one.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Defaults of Options.
const (
	// DefaultTimeout bounds a whole check; each lookup is bounded further
	// by the Resolver's own timeout.
	DefaultTimeout = 8 * time.Second
	// DefaultMaxSignatures bounds the DKIM signatures verified per message.
	DefaultMaxSignatures = 5
)

// Options configure a Checker.
type Options struct {
	// Hostname is this server's name: the authserv-id of the header
	// (RFC 8601 2.5). Required.
	Hostname string
	// Resolver answers every DNS question. Required.
	Resolver Resolver
	// Hosted reports whether mail for domain is accepted here (a
	// region.Router's IsHostedDomain). Required.
	Hosted func(ctx context.Context, domain string) (bool, error)
	// TrustedRelays are the networks whose mail is not checked. None by
	// default, loopback included.
	TrustedRelays []netip.Prefix
	// Timeout bounds a whole check (default DefaultTimeout).
	Timeout time.Duration
	// MaxSignatures bounds the DKIM signatures verified (default
	// DefaultMaxSignatures); later ones are ignored.
	MaxSignatures int
	// Sample returns a uniform integer in [0, 100) for DMARC's pct
	// (RFC 7489 6.6.4); it must be safe for concurrent use. Default:
	// math/rand/v2.
	Sample func() int
}

// Checker authenticates messages. It is safe for concurrent use.
type Checker struct {
	o Options
	// keys keeps DKIM public keys once parsed, by their record's text
	// (the record itself is looked up through the resolver's cache).
	keys *dkim.KeyCache
	// policies keeps DMARC records once parsed, by their text.
	policies *recordCache
	// spf keeps SPF results with the DNS answers they came from
	// (spfmemo.go).
	spf *spfMemo
}

// New returns a Checker, or an Invalid error if a required option is
// missing.
func New(o Options) (*Checker, error) {
	const op = "mailauth.New"
	switch {
	case o.Hostname == "" || strings.ContainsFunc(o.Hostname, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
	}):
		// RFC 8601 2.5: the authserv-id, here a host name.
		return nil, errors.E(op, errors.Invalid, errors.Errorf("hostname %q is not a host name", o.Hostname))
	case o.Resolver == nil:
		return nil, errors.E(op, errors.Invalid, errors.Str("no resolver"))
	case o.Hosted == nil:
		return nil, errors.E(op, errors.Invalid, errors.Str("no hosted-domain lookup"))
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = DefaultMaxSignatures
	}
	if o.Sample == nil {
		o.Sample = func() int { return rand.IntN(100) }
	}
	o.TrustedRelays = slices.Clone(o.TrustedRelays)
	// Bounded in entries, and each in size (the DKIM key records, DMARC
	// records and SPF answers kept are a sender's choice): together a few
	// tens of MiB at most.
	return &Checker{o: o, keys: &dkim.KeyCache{Max: 4096, MaxRecord: 4096},
		policies: &recordCache{max: 4096, m: make(map[string]parsedRecord)},
		spf:      newSPFMemo(spfMemoEntries)}, nil
}

// Input is what the MX knows of a message when its data has ended.
type Input struct {
	IP       netip.Addr // the SMTP client's address
	Helo     string     // its HELO/EHLO argument
	MailFrom string     // the reverse-path; "" for the null sender
	Message  []byte     // the message as received, header and body
	// Body, when set, is the rest of the message after Message, read
	// once as DKIM hashes it: then Message need hold only the header
	// section, and the body is never held in memory whole.
	Body io.Reader
}

// Verdict is what the MX does with a message.
type Verdict int

// The verdicts.
const (
	// Accept: deliver to the recipients' INBOX.
	Accept Verdict = iota
	// Quarantine: deliver to the recipients' Junk mailbox (DMARC
	// p=quarantine, RFC 7489 6.3).
	Quarantine
	// Reject: refuse with a permanent error (550 5.7.1): DMARC p=reject,
	// unauthenticated mail from one of our own domains, or a From: field
	// naming no single author.
	Reject
	// TempFail: refuse with a temporary error (451 4.7.0); the outcome
	// depends on a DNS answer that could not be had.
	TempFail
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Quarantine:
		return "quarantine"
	case Reject:
		return "reject"
	case TempFail:
		return "tempfail"
	}
	return "Verdict(?)"
}

// Result is the outcome of a check.
type Result struct {
	Verdict Verdict
	// Reason says in a few words why a message is not simply accepted
	// (for the log; no content, no address).
	Reason string
	// Header is the Authentication-Results: field (RFC 8601), folded and
	// ending in CRLF, to prepend to the message; empty when Trusted.
	Header string
	// AuthServID is the authserv-id Header names (Options.Hostname):
	// remove the message's own fields of that name (RemoveOwnResults)
	// before prepending Header.
	AuthServID string
	// Trusted: the client is a trusted relay, and nothing was checked.
	Trusted bool
	// The individual results, for the log.
	SPF   SPFResult
	DKIM  []DKIMResult
	DMARC DMARCResult
	// Err is the cause of a TempFail that is not a DNS result (the hosted
	// domain lookup failed), with Op and Kind; nil otherwise.
	Err error
}

// SPFResult is the SPF check of the MAIL FROM identity, or of the HELO
// identity for the null sender (RFC 7208 2.4).
type SPFResult struct {
	Result authres.ResultValue
	// Domain is the domain checked, lower case, A-labels ("" if there was
	// none usable: the result is then none).
	Domain string
	// Helo: the HELO identity was checked (null sender).
	Helo bool
	Err  error // the library's explanation, for debugging
}

// DKIMResult is the verification of one DKIM-Signature field.
type DKIMResult struct {
	Result authres.ResultValue
	Domain string // d=, lower case ("" if unusable)
	Err    error  // why it did not pass
}

// DMARCResult is the DMARC evaluation (RFC 7489 6.6).
type DMARCResult struct {
	Result authres.ResultValue
	// From is the RFC5322.From domain ("" if there was no single one).
	From string
	// Policy is the policy applied: the record's p (or sp, for a subdomain
	// whose policy came from its Organizational Domain), lowered by pct
	// sampling; "" when no record applied.
	Policy string
	// Sampled is false when pct sampling lowered the policy.
	Sampled bool
	Err     error
}

// Check authenticates a message. It never fails: whatever goes wrong ends
// in the Result (TempFail, with Err or temperror results, when it was
// temporary).
func (c *Checker) Check(ctx context.Context, in Input) Result {
	r := c.Begin(ctx, Envelope{IP: in.IP, Helo: in.Helo, MailFrom: in.MailFrom})
	defer r.Abort()
	if in.Body == nil {
		r.readHeader(in.Message, nil)
		return r.Finish()
	}
	src := io.MultiReader(bytes.NewReader(in.Message), in.Body)
	r.readHeader(in.Message, src)
	if r.dkim != nil {
		if _, err := io.Copy(r, src); err != nil {
			// The body could not be read: as DKIM reading it would say.
			r.dkim, r.dkimErr = nil, err
		}
	}
	return r.Finish()
}

// ownDomains applies the rule for our own domains: mail from outside whose
// From: or MAIL FROM domain is hosted here must carry a valid DKIM
// signature whose d= is exactly that domain, whatever the DNS says of the
// domain's policy. Its Reject overrides every other verdict; its TempFail
// (a key or the hosted-domain lookup unavailable) all but Reject.
func (c *Checker) ownDomains(ctx context.Context, res *Result, from, mailFrom string) {
	const op = "mailauth.Check"
	mf, _ := domainName(domainOf(mailFrom))
	for i, d := range []string{from, mf} {
		if d == "" || (i == 1 && d == from) || res.Verdict == Reject {
			continue
		}
		hosted, err := c.hosted(ctx, d)
		if err != nil {
			res.Verdict, res.Reason = TempFail, "hosted-domain lookup failed"
			res.Err = errors.E(op, errors.Unavailable, err)
			continue
		}
		if !hosted {
			continue
		}
		switch signedBy(res.DKIM, d) {
		case authres.ResultPass:
		case authres.ResultTempError:
			res.Verdict, res.Reason = TempFail, "own domain: signature key unavailable"
		default:
			res.Verdict, res.Reason = Reject, "own domain without our DKIM signature"
		}
	}
}

// hosted reports whether d (lower case, A-labels) is one of our domains,
// whether the directory holds it in A-labels or U-labels (RFC 5890).
func (c *Checker) hosted(ctx context.Context, d string) (bool, error) {
	hosted, err := c.o.Hosted(ctx, d)
	if hosted || err != nil {
		return hosted, err
	}
	if u, uerr := idna.ToUnicode(d); uerr == nil && u != d {
		return c.o.Hosted(ctx, u)
	}
	return false, nil
}

// signedBy returns pass if a signature with d= exactly d verified,
// temperror if none did but one could not be checked for a temporary
// reason, and none otherwise.
func signedBy(sigs []DKIMResult, d string) authres.ResultValue {
	out := authres.ResultValue(authres.ResultNone)
	for _, s := range sigs {
		if s.Domain != d {
			continue
		}
		switch s.Result {
		case authres.ResultPass:
			return authres.ResultPass
		case authres.ResultTempError:
			out = authres.ResultTempError
		}
	}
	return out
}
