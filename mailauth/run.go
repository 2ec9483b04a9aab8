package mailauth

import (
	"context"
	"io"
	"net/netip"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/sealpost/sealpost/errors"
)

// This file is a check that runs while the message arrives, so that little
// is left to do when its data ends: SPF, which needs only the envelope, in
// a goroutine from the start of the data (unless a kept result only needs
// confirming); the DMARC policy at the end of
// the header section; the DKIM body hashes as the body is written. Check is the same
// thing for a message held whole.

// Envelope is what the MX knows of a message when its data starts.
type Envelope struct {
	IP       netip.Addr // the SMTP client's address
	Helo     string     // its HELO/EHLO argument
	MailFrom string     // the reverse-path; "" for the null sender
}

// A Run is the check of one message under way: Begin it when the data
// starts, give it the header section (Header) and then the body (Write) as
// they arrive, and Finish it at the end of the data, or Abort it if the
// message is refused. A Run is used by one goroutine; its SPF evaluation
// runs in a goroutine that Finish and Abort end.
type Run struct {
	c       *Checker
	parent  context.Context
	env     Envelope
	ip      netip.Addr
	trusted bool

	// SPF, evaluated from Begin, or, when the memo holds a result for
	// the envelope (spfKept), confirmed in Finish: asking its questions
	// again is most often answered from the resolver's cache, and costs
	// less than a goroutine.
	spfDone   chan struct{}
	spf       SPFResult
	spfCancel context.CancelFunc
	spfKey    spfKey
	spfKept   *spfEntry

	// What the header section said, once Header has run.
	header bool
	from   string
	status fromStatus

	// The DMARC policy, looked up in Header when there is a From:
	// domain.
	policy policyLookup

	// DKIM: the body hashes under way (nil without a DKIM-Signature
	// field), or why the header section could not be read for it.
	dkim    *dkim.Verifier
	dkimErr error
	// dkimCtx bounds the key lookups, which happen in Finish.
	dkimCtx context.Context
}

// Begin starts the check of a message from the client of env: unless the
// client is a trusted relay, its SPF evaluation starts now, or, when the
// memo (spfmemo.go) holds a result for this envelope, that result is
// confirmed in Finish. Each step is bounded by Options.Timeout from when
// it starts.
func (c *Checker) Begin(ctx context.Context, env Envelope) *Run {
	r := &Run{c: c, parent: ctx, env: env, ip: env.IP.Unmap()}
	for _, p := range c.o.TrustedRelays {
		if p.Contains(r.ip) {
			r.trusted = true
			return r
		}
	}
	r.spfKey = spfKey{r.ip, env.Helo, env.MailFrom}
	if e, ok := c.spf.get(r.spfKey); ok {
		r.spfKept = &e
		return r
	}
	sctx := withLazyTimeout(ctx, c.o.Timeout)
	r.spfDone, r.spfCancel = make(chan struct{}), sctx.Stop
	go func() {
		defer close(r.spfDone)
		r.spf = c.spf.check(sctx, guard{c.o.Resolver}, r.ip, env.Helo, env.MailFrom)
	}()
	return r
}

// Header takes the message's header section, up to and including the
// empty line that ends it (or the whole message, if it has none). Bytes
// after the empty line, if any, are the start of the body. It is called
// once, before Write.
func (r *Run) Header(h []byte) { r.readHeader(h, nil) }

// readHeader takes the header section: msg for the From: field and the
// DKIM-Signature count, and for DKIM, which reads the header section from
// it, msg or, if not nil, src (msg, and after it the rest of the
// message). The caller writes what remains of src to the Run.
func (r *Run) readHeader(msg []byte, src io.Reader) {
	if r.header {
		return
	}
	r.header = true
	if r.trusted {
		return
	}
	var sigs int
	r.from, r.status, sigs = scanHeader(msg)
	if r.status == fromOK {
		// Looked up here, not in a goroutine of its own: an answer is
		// most often in the resolver's cache, and when it is not the
		// client goes on sending the body meanwhile.
		pctx := withLazyTimeout(r.parent, r.c.o.Timeout)
		r.policy = lookupPolicy(pctx, guard{r.c.o.Resolver}, r.from, r.c.policies)
		pctx.Stop()
	}
	if sigs > 0 {
		// The keys are looked up in Finish, under its context.
		g := guard{r.c.o.Resolver}
		lookup := func(name string) ([]string, error) { return g.LookupTXT(r.dkimCtx, name) }
		o := &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: r.c.o.MaxSignatures, KeyCache: r.c.keys}
		if src == nil {
			r.dkim, r.dkimErr = dkim.NewVerifierBytes(msg, o)
		} else {
			r.dkim, r.dkimErr = dkim.NewVerifier(src, o)
		}
	}
}

// Write takes the next part of the body, which DKIM hashes. It never
// fails.
func (r *Run) Write(p []byte) (int, error) {
	if r.dkim != nil {
		r.dkim.Write(p)
	}
	return len(p), nil
}

// Abort ends a check whose message will not be delivered.
func (r *Run) Abort() {
	if r.spfCancel != nil {
		r.spfCancel()
	}
}

// Finish completes the check at the end of the data and returns its
// Result. It never fails: whatever goes wrong ends in the Result
// (TempFail, with Err or temperror results, when it was temporary).
func (r *Run) Finish() Result {
	if r.trusted {
		// RFC 8601 5: a trusted relay's own results stand; ours would
		// say only "none".
		return Result{Verdict: Accept, Trusted: true}
	}
	defer r.Abort()
	r.Header(nil)
	ctx := withLazyTimeout(r.parent, r.c.o.Timeout)
	defer ctx.Stop()
	var res Result
	if r.dkim != nil || r.dkimErr != nil {
		res.DKIM = r.finishDKIM(ctx)
	}
	if r.spfKept != nil {
		r.spf = r.c.spf.confirm(ctx, guard{r.c.o.Resolver}, r.spfKey, *r.spfKept, true)
	} else {
		<-r.spfDone
	}
	res.SPF = r.spf
	r.c.conclude(ctx, &res, r.from, r.status, r.policy, r.env.MailFrom)
	return res
}

// finishDKIM checks the signatures whose body hashes are done, with keys
// from the DNS (RFC 6376 6.1.2).
func (r *Run) finishDKIM(ctx context.Context) []DKIMResult {
	if r.dkimErr != nil {
		// The header section could not be read as DKIM reads it.
		return []DKIMResult{{Result: authres.ResultPermError, Err: r.dkimErr}}
	}
	r.dkimCtx = ctx
	verifs, err := r.dkim.Close()
	return dkimResults(verifs, err)
}

// conclude completes res, whose SPF and DKIM results are in: DMARC (RFC
// 7489 6.6) over the author domain from with its policy, our own domains'
// rule, the verdict and the Authentication-Results field.
func (c *Checker) conclude(ctx context.Context, res *Result, from string, status fromStatus, policy policyLookup, mailFrom string) {
	res.DMARC = DMARCResult{From: from}
	switch status {
	case fromMissing:
		res.DMARC.Result, res.DMARC.Err = authres.ResultPermError, errors.Str("no From: field")
	case fromMalformed:
		res.DMARC.Result, res.DMARC.Err = authres.ResultPermError, errors.Str("From: names no single author")
		res.Verdict, res.Reason = Reject, "From: field names no single author (RFC 5322 3.6.2)"
	default:
		res.Verdict, res.Reason = c.evaluate(res, policy)
	}
	c.ownDomains(ctx, res, from, mailFrom)
	res.Header, res.AuthServID = c.header(res, mailFrom), c.o.Hostname
}
