package mailauth

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/sealpost/sealpost/errors"
)

// guard is the Resolver the libraries get: it answers "no such name" for a
// name that is not a domain name (RFC 7208 4.3 and 4.8 make such a name
// "none", not an error) instead of asking, so that a malformed name in a
// record or a signature never passes for a temporary DNS failure.
type guard struct{ r Resolver }

func notFound(name string) error {
	return &net.DNSError{Err: "not a domain name", Name: name, IsNotFound: true}
}

func (g guard) LookupTXT(ctx context.Context, name string) ([]string, error) {
	d, ok := domainName(name)
	if !ok {
		return nil, notFound(name)
	}
	return g.r.LookupTXT(ctx, d)
}

func (g guard) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	d, ok := domainName(name)
	if !ok {
		return nil, notFound(name)
	}
	return g.r.LookupMX(ctx, d)
}

func (g guard) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	d, ok := domainName(host)
	if !ok {
		return nil, notFound(host)
	}
	return g.r.LookupIPAddr(ctx, d)
}

func (g guard) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	if _, err := netip.ParseAddr(addr); err != nil {
		return nil, notFound(addr)
	}
	return g.r.LookupAddr(ctx, addr)
}

// checkSPF evaluates SPF (RFC 7208 4) for the MAIL FROM identity, or for
// the HELO identity as "postmaster@" HELO when the reverse-path is null
// (RFC 7208 2.4). A malformed or single-label domain is "none" (4.3).
func checkSPF(ctx context.Context, r spf.DNSResolver, ip netip.Addr, helo, mailFrom string) SPFResult {
	res := SPFResult{Result: authres.ResultNone}
	sender := mailFrom
	raw := domainOf(mailFrom)
	if mailFrom == "" {
		res.Helo = true
		raw = helo
	}
	d, ok := domainName(raw)
	if !ok {
		res.Err = errors.Str("no domain to check")
		return res
	}
	res.Domain = d
	if mailFrom == "" {
		sender = "postmaster@" + d
	} else {
		sender = sender[:strings.LastIndexByte(sender, '@')+1] + d
	}
	if !ip.IsValid() {
		res.Result, res.Err = authres.ResultPermError, errors.Str("no client address")
		return res
	}
	heloName := helo
	if h, ok := domainName(helo); ok {
		heloName = h
	}
	v, err := spf.CheckHostWithSender(net.IP(ip.AsSlice()), heloName, sender,
		spf.WithResolver(r), spf.WithContext(ctx))
	res.Result, res.Err = authres.ResultValue(v), err
	if res.Result == "" {
		res.Result = authres.ResultPermError
	}
	return res
}

// dkimResults maps the verifications of up to Options.MaxSignatures
// DKIM-Signature fields (RFC 6376 6; later ones are ignored) to results as
// RFC 8601 2.7.1 says: a signature that verified is pass, one whose key
// could not be had for now temperror, one that is malformed or has no
// usable key permerror, and one that does not verify (or signs with l=,
// which go-msgauth refuses) fail.
func dkimResults(verifs []*dkim.Verification, err error) []DKIMResult {
	if err != nil && !errors.IsErr(err, dkim.ErrTooManySignatures) && len(verifs) == 0 {
		// The message could not be read as DKIM reads it.
		return []DKIMResult{{Result: authres.ResultPermError, Err: err}}
	}
	out := make([]DKIMResult, 0, len(verifs))
	for _, v := range verifs {
		res := DKIMResult{Err: v.Err}
		if d, ok := domainName(v.Domain); ok {
			res.Domain = d
		}
		switch {
		case v.Err == nil && res.Domain != "":
			res.Result = authres.ResultPass
		case v.Err == nil:
			res.Result, res.Err = authres.ResultPermError, errors.Str("d= is not a domain name")
		case dkim.IsTempFail(v.Err):
			res.Result = authres.ResultTempError
		case dkim.IsPermFail(v.Err):
			res.Result = authres.ResultPermError
		default:
			res.Result = authres.ResultFail
		}
		out = append(out, res)
	}
	return out
}
