package mailauth

// The checks as they were before Run (one goroutine each for SPF, DKIM and
// DMARC once the data had ended, the message read whole by DKIM, and the
// header section parsed twice), kept as the oracle of run_test.go; what
// did not change (the DKIM results' mapping, the verdict) is the new code's.

import (
	"bytes"
	"context"
	"io"
	"net/mail"
	"strings"
	"sync"

	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/idna"
)

func (c *Checker) oldCheck(ctx context.Context, in Input) Result {
	ip := in.IP.Unmap()
	for _, p := range c.o.TrustedRelays {
		if p.Contains(ip) {
			// RFC 8601 5: a trusted relay's own results stand; ours would
			// say only "none".
			return Result{Verdict: Accept, Trusted: true}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	r := guard{c.o.Resolver}

	from, status := oldAuthorDomain(in.Message)
	var res Result
	var policy policyLookup
	var wg sync.WaitGroup
	wg.Go(func() { res.SPF = checkSPF(ctx, r, ip, in.Helo, in.MailFrom) })
	wg.Go(func() { res.DKIM = oldVerifyDKIM(ctx, r, in.Message, in.Body, c.o.MaxSignatures, c.keys) })
	if status == fromOK {
		wg.Go(func() { policy = lookupPolicy(ctx, r, from, nil) })
	}
	wg.Wait()

	// What follows the three lookups did not change: the new code's is used.
	c.conclude(ctx, &res, from, status, policy, in.MailFrom)
	return res
}

func oldAuthorDomain(msg []byte) (string, fromStatus) {
	var values []string
	for name, value := range oldHeaderFields(msg) {
		if strings.EqualFold(name, "From") {
			values = append(values, value)
		}
	}
	switch len(values) {
	case 0:
		return "", fromMissing
	case 1:
	default:
		return "", fromMalformed // RFC 5322 3.6: at most one From: field
	}
	p := mail.AddressParser{WordDecoder: &lenientWords}
	list, err := p.ParseList(values[0])
	if err != nil || len(list) != 1 {
		return "", fromMalformed
	}
	at := strings.LastIndexByte(list[0].Address, '@')
	if at < 0 {
		return "", fromMalformed
	}
	d, ok := oldDomainName(list[0].Address[at+1:])
	if !ok {
		return "", fromMalformed
	}
	return d, fromOK
}

func oldHeaderFields(msg []byte) func(yield func(name, value string) bool) {
	return func(yield func(name, value string) bool) {
		if len(msg) > maxHeader {
			msg = msg[:maxHeader]
		}
		var name string
		var value []byte
		have := false
		flush := func() bool {
			if !have {
				return true
			}
			have = false
			return yield(name, strings.TrimSpace(string(value)))
		}
		for len(msg) > 0 {
			line := msg
			if i := bytes.IndexByte(msg, '\n'); i >= 0 {
				line, msg = msg[:i], msg[i+1:]
			} else {
				msg = nil
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) == 0 {
				break // end of the header section
			}
			if line[0] == ' ' || line[0] == '\t' {
				if have { // RFC 5322 2.2.3: unfolding
					value = append(value, line...)
				}
				continue
			}
			n, v, ok := bytes.Cut(line, []byte(":"))
			n = bytes.TrimRight(n, " \t") // RFC 5322 4.5: obsolete WSP before ':'
			if !ok || len(n) == 0 || !fieldName(n) {
				break
			}
			if !flush() {
				return
			}
			name, value, have = string(n), append([]byte(nil), v...), true
		}
		flush()
	}
}

func oldCountFields(msg []byte, name string) int {
	n := 0
	for f := range oldHeaderFields(msg) {
		if strings.EqualFold(f, name) {
			n++
		}
	}
	return n
}

func oldDomainName(d string) (string, bool) {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", false
	}
	ascii := true
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", false
		}
		d = a
	}
	d = strings.ToLower(d)
	if len(d) > 253 || !strings.Contains(d, ".") {
		return "", false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	return d, true
}

func oldVerifyDKIM(ctx context.Context, r guard, msg []byte, body io.Reader, max int, keys *dkim.KeyCache) []DKIMResult {
	n := oldCountFields(msg, "DKIM-Signature")
	if n == 0 {
		return nil
	}
	lookup := func(name string) ([]string, error) { return r.LookupTXT(ctx, name) }
	var in io.Reader = bytes.NewReader(msg)
	if body != nil {
		in = io.MultiReader(in, body)
	}
	verifs, err := dkim.VerifyWithOptions(in, &dkim.VerifyOptions{
		LookupTXT: lookup, MaxVerifications: max, KeyCache: keys,
	})
	// The mapping to results did not change: the new code's is used.
	return dkimResults(verifs, err)
}
