package mailauth

import (
	"context"
	"net"
	"strings"
	"sync"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"

	"github.com/sealpost/sealpost/errors"
)

// policyLookup is the outcome of DMARC policy discovery.
type policyLookup struct {
	rec *dmarc.Record
	// sub: the record is the Organizational Domain's, applied to a
	// subdomain, so its sp= applies (RFC 7489 6.3).
	sub bool
	// state: none (no record), pass (rec is set), temperror, permerror.
	state authres.ResultValue
	err   error
}

// lookupPolicy discovers the DMARC policy of the From: domain (RFC 7489
// 6.6.3): the record at _dmarc.<domain>, else the one at the
// Organizational Domain's.
// Parsed records are kept in cache (nil: none kept).
func lookupPolicy(ctx context.Context, r guard, from string, cache *recordCache) policyLookup {
	p := lookupRecord(ctx, r, from, cache)
	if p.state != authres.ResultNone {
		return p
	}
	if org := orgDomain(from); org != from {
		p = lookupRecord(ctx, r, org, cache)
		p.sub = true
	}
	return p
}

// lookupRecord fetches and parses the DMARC record of one domain (RFC 7489
// 6.6.3 steps 1, 2, 5 and 6).
func lookupRecord(ctx context.Context, r guard, domain string, cache *recordCache) policyLookup {
	txts, err := r.LookupTXT(ctx, "_dmarc."+domain)
	var dnsErr *net.DNSError
	switch {
	case err == nil:
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return policyLookup{state: authres.ResultNone}
	default:
		// *net.DNSError with IsTemporary, or anything unexpected: the
		// policy cannot be known now.
		return policyLookup{state: authres.ResultTempError, err: err}
	}
	// Step 2: records that do not start with v=DMARC1 are discarded.
	var recs []string
	for _, t := range txts {
		if isDMARC1(t) {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		return policyLookup{state: authres.ResultNone}
	case 1:
	default:
		// Step 5: several records, no DMARC processing.
		return policyLookup{state: authres.ResultPermError, err: errors.Str("several DMARC records")}
	}
	rec, err := cache.parse(recs[0])
	if err != nil {
		// Step 6: no valid p= (the rua= fallback to p=none would come to
		// the same disposition: none).
		return policyLookup{state: authres.ResultPermError, err: err}
	}
	return policyLookup{rec: rec, state: authres.ResultPass}
}

// recordCache keeps DMARC records once parsed, by their text: the record
// is still looked up every time (through the resolver's cache), so a
// changed policy applies at once, but a busy MX's regular correspondents'
// records are not parsed again for each message (parsing was most of what
// a cached policy lookup cost). A parsed record is only read. A record
// longer than maxCachedRecord is parsed every time: a sender chooses the
// From: domains, so their records' sizes (up to 64 KiB each) are theirs,
// and the count alone would not bound the cache's memory.
type recordCache struct {
	mu  sync.Mutex
	max int
	m   map[string]parsedRecord
}

// maxCachedRecord bounds the DMARC records kept parsed: real ones, report
// addresses included, are a few hundred bytes.
const maxCachedRecord = 1024

type parsedRecord struct {
	rec *dmarc.Record
	err error
}

// parse returns dmarc.Parse(txt), from the cache if it is there; a nil
// cache parses every time. When the cache is full it starts again empty.
func (c *recordCache) parse(txt string) (*dmarc.Record, error) {
	if c == nil {
		return dmarc.Parse(txt)
	}
	c.mu.Lock()
	p, ok := c.m[txt]
	c.mu.Unlock()
	if ok {
		return p.rec, p.err
	}
	rec, err := dmarc.Parse(txt)
	if len(txt) > maxCachedRecord {
		return rec, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[txt] = parsedRecord{rec, err}
	c.mu.Unlock()
	return rec, err
}

// isDMARC1 reports whether a TXT record starts with the version tag of
// RFC 7489 6.4: "v" *WSP "=" *WSP "DMARC1", then ";" or the end.
func isDMARC1(t string) bool {
	t = strings.TrimLeft(t, " \t")
	rest, ok := strings.CutPrefix(t, "v")
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t"), "=")
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t"), "DMARC1")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || rest[0] == ';'
}

// evaluate applies DMARC (RFC 7489 6.6.2 to 6.6.4) to the SPF and DKIM
// results: pass when an aligned identifier passed; otherwise the policy
// (p, or sp for a subdomain), lowered by pct sampling, decides. A
// temporary failure makes the verdict TempFail only if the outcome
// depends on it (see the package doc).
func (c *Checker) evaluate(res *Result, p policyLookup) (Verdict, string) {
	from := res.DMARC.From
	d := &res.DMARC
	if p.state == authres.ResultTempError {
		d.Result, d.Err = authres.ResultTempError, p.err
		// Whatever the record, an identifier aligned in strict mode
		// passes: the policy does not matter then.
		if alignedWith(authres.ResultPass, res, from, true, true) {
			return Accept, ""
		}
		return TempFail, "DMARC policy unavailable"
	}
	if p.state != authres.ResultPass {
		d.Result, d.Err = p.state, p.err // none, or permerror: not applied
		return Accept, ""
	}
	rec := p.rec
	strictSPF := rec.SPFAlignment == dmarc.AlignmentStrict
	strictDKIM := rec.DKIMAlignment == dmarc.AlignmentStrict
	if alignedWith(authres.ResultPass, res, from, strictSPF, strictDKIM) {
		d.Result = authres.ResultPass
		return Accept, ""
	}
	policy := rec.Policy
	if p.sub && rec.SubdomainPolicy != "" {
		policy = rec.SubdomainPolicy
	}
	d.Sampled = true
	if rec.Percent != nil && *rec.Percent < 100 && c.o.Sample() >= *rec.Percent {
		// RFC 7489 6.6.4: a message outside the sample gets the next
		// policy down.
		d.Sampled = false
		switch policy {
		case dmarc.PolicyReject:
			policy = dmarc.PolicyQuarantine
		case dmarc.PolicyQuarantine:
			policy = dmarc.PolicyNone
		}
	}
	d.Policy = string(policy)
	d.Result = authres.ResultFail
	if alignedWith(authres.ResultTempError, res, from, strictSPF, strictDKIM) {
		// An aligned identifier could not be checked: it might pass.
		d.Result = authres.ResultTempError
		if policy == dmarc.PolicyNone {
			return Accept, ""
		}
		return TempFail, "DMARC depends on a temporary DNS failure"
	}
	switch policy {
	case dmarc.PolicyReject:
		return Reject, "DMARC policy reject"
	case dmarc.PolicyQuarantine:
		return Quarantine, "DMARC policy quarantine"
	}
	return Accept, ""
}

// alignedWith reports whether SPF or a DKIM signature got the result want
// with a domain aligned with the From: domain (RFC 7489 3.1.1, 3.1.2; the
// SPF domain is the MAIL FROM's, or HELO's for the null sender).
func alignedWith(want authres.ResultValue, res *Result, from string, strictSPF, strictDKIM bool) bool {
	if res.SPF.Result == want && aligned(res.SPF.Domain, from, strictSPF) {
		return true
	}
	for _, s := range res.DKIM {
		if s.Result == want && aligned(s.Domain, from, strictDKIM) {
			return true
		}
	}
	return false
}
