package outbound

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/dane"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mtasts"
)

// outcomeKind is what became of a recipient in one attempt.
type outcomeKind int

const (
	delivered outcomeKind = iota
	temporary             // try again later
	permanent             // bounce
)

// outcome is what became of one recipient in one attempt: a remote reply,
// or a local decision (code 0).
type outcome struct {
	rcpt   string
	kind   outcomeKind
	code   int    // the SMTP reply code, 0 for a local decision
	status [3]int // enhanced status code (RFC 3463); zeros if none given
	text   string // the reply text, or our explanation
	remote string // the mail exchanger that answered, "" if none did
}

// failure is a failure that applies to every recipient of an entry: a
// route that could not be found, a host that could not be reached.
type failure struct {
	kind   outcomeKind
	status [3]int
	text   string
	remote string
}

func (f failure) apply(rcpts []string) []outcome {
	out := make([]outcome, len(rcpts))
	for i, r := range rcpts {
		out[i] = outcome{rcpt: r, kind: f.kind, status: f.status, text: f.text, remote: f.remote}
	}
	return out
}

// host is one place to deliver to: a mail exchanger (or the relay) and how
// to secure the connection.
type host struct {
	name  string       // as the MX record names it, no trailing dot
	addrs []netip.Addr // when known in advance (an address literal, the relay given as one)
	// requireTLS: no delivery without TLS (a relay, an MTA-STS policy in
	// enforce mode, DANE); tls verifies what must be verified.
	requireTLS bool
	tls        *tls.Config
	// implicit: TLS from the first byte (a relay on port 465).
	implicit bool
	port     int
	auth     sasl.Client // AUTH after TLS (the relay)
	// skip: the TLS policy rules this host out, and why.
	skip *failure
}

// deliver delivers a batch of entries for one destination: it finds the
// hosts, then tries them in order, address by address, delivering as many
// entries as it can over each connection, and records every entry's
// outcome as soon as it is known.
func (s *Service) deliver(ctx context.Context, dest string, batch []sealpost.QueuedMessage) {
	hosts, f := s.route(ctx, dest)
	if f == nil {
		hosts, f = s.policy(ctx, dest, hosts)
	}
	if f != nil {
		for _, m := range batch {
			s.finish(ctx, m, f.apply(m.Recipients), nil)
		}
		return
	}
	pending := batch
	last := failure{kind: temporary, status: [3]int{4, 4, 1}, text: "No mail exchanger could be reached"}
	loops, tried := 0, 0
	for _, h := range hosts {
		if h.skip != nil {
			last = *h.skip
			continue
		}
		addrs := h.addrs
		if addrs == nil {
			ips, ans, err := s.o.Resolver.IPs(ctx, h.name)
			if err != nil || len(ips) == 0 {
				last = failure{kind: temporary, status: [3]int{4, 4, 3}, text: fmt.Sprintf("Cannot find the address of %s", h.name)}
				if err == nil && ans.NotFound {
					last.status = [3]int{4, 4, 4}
				}
				continue
			}
			addrs = ips
		}
		for _, ip := range addrs {
			if len(pending) == 0 || ctx.Err() != nil {
				break
			}
			ap := netip.AddrPortFrom(ip.Unmap(), uint16(h.port))
			tried++
			if s.o.Loop(ap) {
				loops++
				last = failure{kind: temporary, status: [3]int{5, 4, 6}, text: fmt.Sprintf("Mail for %s loops back to this server (%s)", dest, h.name)}
				continue
			}
			c, err := s.connect(ctx, h, ap)
			if err != nil {
				last = failure{kind: temporary, status: [3]int{4, 4, 1}, text: fmt.Sprintf("%s[%s]: %s", h.name, ip, err), remote: h.name}
				if tf, ok := err.(tlsFailure); ok {
					last.status, last.text = [3]int{4, 7, 5}, fmt.Sprintf("%s[%s]: %s", h.name, ip, tf.msg)
				}
				s.log.Info("connect failed", "host", h.name, "addr", ip, "err", err)
				continue
			}
			pending = s.send(ctx, c, h, pending)
			c.Quit()
			c.Close()
		}
	}
	if loops > 0 && loops == tried {
		last.kind = permanent // RFC 5321 5.1: every candidate is this server
	}
	for _, m := range pending {
		s.finish(ctx, m, last.apply(m.Recipients), nil)
	}
}

// route returns the hosts to try for dest, in order, or the failure that
// applies to every entry for it.
func (s *Service) route(ctx context.Context, dest string) ([]host, *failure) {
	if r := s.o.Relay; r.Addr != "" {
		name, port, _ := net.SplitHostPort(r.Addr)
		p, _ := strconv.Atoi(port)
		h := host{name: name, port: p, requireTLS: r.TLS != RelayPlain, tls: s.tlsConfig(name, r.TLS != RelayPlain), implicit: r.TLS == RelayImplicit}
		if ip, err := netip.ParseAddr(name); err == nil {
			h.addrs = []netip.Addr{ip}
		}
		if r.User != "" {
			h.auth = sasl.NewPlainClient("", r.User, r.Password)
		}
		return []host{h}, nil
	}
	// An address literal (RFC 5321 4.1.3) is its own host.
	if strings.HasPrefix(dest, "[") && strings.HasSuffix(dest, "]") {
		lit := strings.TrimPrefix(strings.Trim(dest, "[]"), "IPv6:")
		ip, err := netip.ParseAddr(lit)
		if err != nil {
			return nil, &failure{kind: permanent, status: [3]int{5, 1, 2}, text: "Bad address literal " + dest}
		}
		return []host{{name: dest, addrs: []netip.Addr{ip}, port: s.o.Port, tls: s.tlsConfig(lit, false)}}, nil
	}
	mxs, ans, err := s.o.Resolver.MX(ctx, dest)
	switch {
	case err != nil:
		return nil, &failure{kind: temporary, status: [3]int{4, 4, 3}, text: "Cannot look up the mail exchangers of " + dest}
	case ans.NotFound:
		return nil, &failure{kind: permanent, status: [3]int{5, 1, 2}, text: "The domain " + dest + " does not exist"}
	case len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == ""):
		// RFC 7505 3: a null MX says the domain takes no mail.
		return nil, &failure{kind: permanent, status: [3]int{5, 1, 10}, text: "The domain " + dest + " accepts no mail (null MX)"}
	case len(mxs) == 0:
		// RFC 5321 5.1: no MX, the domain itself is the host.
		return []host{{name: dest, port: s.o.Port, tls: s.tlsConfig(dest, false)}}, nil
	}
	// RFC 5321 5.1: in preference order, randomized among equals.
	var hosts []host
	for i := 0; i < len(mxs); {
		j := i
		for j < len(mxs) && mxs[j].Pref == mxs[i].Pref {
			j++
		}
		same := mxs[i:j]
		rand.Shuffle(len(same), func(a, b int) { same[a], same[b] = same[b], same[a] })
		for _, mx := range same {
			if name := strings.TrimSuffix(mx.Host, "."); name != "" {
				hosts = append(hosts, host{name: name, port: s.o.Port, tls: s.tlsConfig(name, false)})
			}
		}
		i = j
	}
	return hosts, nil
}

// policy applies the destination's TLS policy to its mail exchangers
// (not to a relay, whose TLS is configured): MTA-STS (RFC 8461 4, 5) in
// enforce mode keeps only the hosts the policy names and requires TLS with
// a certificate valid for each (WebPKI); DANE (RFC 7672 2.2), where the
// resolver authenticated the host's TLSA records, requires TLS matching
// them. A host so secured is never tried in plaintext. A policy that
// cannot be looked up defers the whole destination.
func (s *Service) policy(ctx context.Context, dest string, hosts []host) ([]host, *failure) {
	if s.o.Relay.Addr != "" || s.o.Resolver == nil || strings.HasPrefix(dest, "[") {
		return hosts, nil
	}
	var sts *mtasts.Policy
	if s.o.STS != nil {
		var err error
		if sts, err = s.o.STS.Get(ctx, dest); err != nil {
			return nil, &failure{kind: temporary, status: [3]int{4, 4, 3}, text: "Cannot look up the MTA-STS policy of " + dest}
		}
	}
	for i := range hosts {
		h := &hosts[i]
		if sts.Enforced() && !sts.Match(h.name) {
			h.skip = &failure{kind: temporary, status: [3]int{4, 7, 5},
				text: fmt.Sprintf("%s is not a mail exchanger the MTA-STS policy of %s names", h.name, dest)}
			continue
		}
		dp, err := dane.Lookup(ctx, s.o.Resolver, h.name, h.port)
		if err != nil {
			h.skip = &failure{kind: temporary, status: [3]int{4, 7, 5}, text: "Cannot look up the DANE records of " + h.name}
			continue
		}
		h.requireTLS = sts.Enforced() || dp.Applies
		h.tls = dp.TLSConfig(sts.TLSConfig(h.tls, h.name))
	}
	return hosts, nil
}

// tlsFailure is a connection refused for want of the TLS a host requires.
type tlsFailure struct{ msg string }

func (t tlsFailure) Error() string { return t.msg }

// connect opens an SMTP session with host at ap: greeting, EHLO, STARTTLS
// when offered (and required where the host demands it), AUTH for the
// relay. Opportunistic TLS that fails to negotiate falls back to a new
// plaintext connection, as RFC 7435 allows, unless TLS is required.
func (s *Service) connect(ctx context.Context, h host, ap netip.AddrPort) (*smtp.Client, error) {
	c, err := s.session(ctx, h, ap, true)
	if _, ok := err.(tlsFailure); ok && !h.requireTLS && !h.implicit {
		s.log.Info("TLS failed, trying without", "host", h.name, "err", err)
		return s.session(ctx, h, ap, false)
	}
	return c, err
}

func (s *Service) session(ctx context.Context, h host, ap netip.AddrPort, tryTLS bool) (*smtp.Client, error) {
	conn, err := s.o.Dial(ctx, "tcp", ap.String())
	if err != nil {
		return nil, err
	}
	if h.implicit {
		tc := tls.Client(conn, h.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, tlsFailure{"TLS handshake: " + err.Error()}
		}
		conn = tc
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = s.o.CommandTimeout, s.o.DataTimeout
	if err := c.Hello(s.o.Hostname); err != nil {
		c.Close()
		return nil, err
	}
	if !h.implicit {
		offered, _ := c.Extension("STARTTLS")
		switch {
		case offered && tryTLS:
			if err := c.StartTLS(h.tls); err != nil {
				c.Close()
				return nil, tlsFailure{"STARTTLS: " + err.Error()}
			}
			// The handshake runs with the EHLO that follows it (RFC 3207
			// 4.2: the session starts afresh).
			if err := c.Hello(s.o.Hostname); err != nil {
				c.Close()
				var se *smtp.SMTPError
				if errors.As(err, &se) {
					return nil, err
				}
				return nil, tlsFailure{"TLS handshake: " + err.Error()}
			}
		case h.requireTLS:
			c.Close()
			return nil, tlsFailure{"TLS is required, and the server does not offer STARTTLS"}
		}
	}
	if h.auth != nil {
		if _, ok := c.TLSConnectionState(); !ok {
			c.Close()
			return nil, tlsFailure{"no TLS: credentials are never sent in the clear"}
		}
		if err := c.Auth(h.auth); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// send delivers entries over c, one transaction each, recording each
// outcome. It returns the entries left for another host: those not tried
// because the connection broke.
func (s *Service) send(ctx context.Context, c *smtp.Client, h host, entries []sealpost.QueuedMessage) []sealpost.QueuedMessage {
	for i, m := range entries {
		if ctx.Err() != nil {
			return entries[i:]
		}
		msg, outs, broken := s.transaction(ctx, c, h, m)
		if outs == nil { // broke before the message was offered
			return entries[i:]
		}
		s.finish(ctx, m, outs, msg)
		if broken {
			return entries[i+1:]
		}
	}
	return nil
}

// transaction runs MAIL, RCPT and DATA for one entry. It returns the
// message it sent (for a bounce's headers), each recipient's outcome (nil
// if the connection broke before MAIL was answered, so that the entry may
// go to another host), and whether the connection is no longer usable.
func (s *Service) transaction(ctx context.Context, c *smtp.Client, h host, m sealpost.QueuedMessage) (msg []byte, outs []outcome, broken bool) {
	msg, f := s.message(ctx, m)
	if f != nil {
		return nil, f.apply(m.Recipients), false
	}
	defer s.mem.Release(budget(m.Size, s.o.MaxInFlight))
	opts := &smtp.MailOptions{Size: int64(len(msg)), UTF8: needsUTF8(m)}
	// MAIL, RCPT and DATA in one write where the server offers
	// PIPELINING (RFC 2920), each in turn where it does not.
	tr, err := c.Transaction(m.From, opts, m.Recipients, nil)
	if err != nil {
		// The connection failed: every recipient is tried again.
		return msg, connLost(h.name, err).apply(m.Recipients), true
	}
	if tr.Mail != nil {
		c.Reset()
		return msg, replyFailure(tr.Mail.(*smtp.SMTPError), h.name).apply(m.Recipients), false
	}
	var accepted []string
	for i, r := range m.Recipients {
		if tr.Rcpt[i] == nil {
			accepted = append(accepted, r)
			continue
		}
		outs = append(outs, replyFailure(tr.Rcpt[i].(*smtp.SMTPError), h.name).apply([]string{r})...)
	}
	if tr.Data == nil {
		if c.Reset() != nil {
			broken = true
		}
		if tr.DataErr != nil {
			outs = append(outs, replyFailure(tr.DataErr.(*smtp.SMTPError), h.name).apply(accepted)...)
		}
		return msg, outs, broken
	}
	w := tr.Data
	_, werr := w.Write(msg)
	resp, err := w.CloseWithResponse()
	switch {
	case werr != nil:
		return msg, append(outs, connLost(h.name, werr).apply(accepted)...), true
	case err != nil:
		if se, ok := err.(*smtp.SMTPError); ok {
			return msg, append(outs, replyFailure(se, h.name).apply(accepted)...), false
		}
		// The end of data was sent and no answer came: the message may
		// have arrived. RFC 5321 6.1: it is not delivered until the reply
		// says so, so it is tried again (a duplicate is possible).
		return msg, append(outs, connLost(h.name, err).apply(accepted)...), true
	}
	for _, r := range accepted {
		outs = append(outs, outcome{rcpt: r, kind: delivered, code: 250, text: resp.StatusText, remote: h.name})
	}
	return msg, outs, false
}

// message opens an entry's sealed blob and signs it, holding its size of
// the in-flight budget (the caller releases it). A failure applies to
// every recipient.
func (s *Service) message(ctx context.Context, m sealpost.QueuedMessage) ([]byte, *failure) {
	if err := s.mem.Acquire(ctx, budget(m.Size, s.o.MaxInFlight)); err != nil {
		return nil, &failure{kind: temporary, status: [3]int{4, 3, 0}, text: "Shutting down"}
	}
	msg, err := s.open(ctx, m)
	if err != nil {
		s.mem.Release(budget(m.Size, s.o.MaxInFlight))
		s.log.Error("open queued message", "id", m.ID, "err", err)
		return nil, &failure{kind: temporary, status: [3]int{4, 3, 0}, text: "Local error reading the queued message"}
	}
	if s.o.Sign != nil {
		if d := fromDomain(msg); d != "" {
			sig, err := s.o.Sign.Sign(d, msg)
			switch {
			case err == nil:
				msg = append(sig, msg...)
			case errors.Is(errors.NotExist, err):
			default:
				s.log.Warn("DKIM signing failed", "id", m.ID, "err", err)
			}
		}
	}
	return msg, nil
}

// open reads and opens an entry's sealed blob.
func (s *Service) open(ctx context.Context, m sealpost.QueuedMessage) ([]byte, error) {
	rc, err := s.o.Blobs.Get(ctx, m.Blob)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sealed, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return s.o.Open(sealed)
}

// budget is how much of the in-flight budget a message holds: its size, at
// most the whole budget (a message larger than it still goes, alone).
func budget(size, total int64) int64 { return min(max(size, 1), total) }

// replyFailure is the outcome a remote error reply gives.
func replyFailure(se *smtp.SMTPError, remote string) failure {
	f := failure{kind: temporary, text: fmt.Sprintf("%d %s", se.Code, se.Message), remote: remote}
	if se.Code >= 500 {
		f.kind = permanent
	}
	if e := se.EnhancedCode; e != smtp.NoEnhancedCode && e != (smtp.EnhancedCode{}) && e[0] == se.Code/100 {
		f.status = [3]int{e[0], e[1], e[2]}
		f.text = fmt.Sprintf("%d %d.%d.%d %s", se.Code, e[0], e[1], e[2], se.Message)
	}
	return f
}

// connLost is the outcome of a connection that broke mid-transaction.
func connLost(remote string, err error) failure {
	return failure{kind: temporary, status: [3]int{4, 4, 2}, text: "Connection lost: " + err.Error(), remote: remote}
}

// needsUTF8 reports whether the envelope needs SMTPUTF8 (RFC 6531).
func needsUTF8(m sealpost.QueuedMessage) bool {
	for _, a := range append([]string{m.From}, m.Recipients...) {
		for i := 0; i < len(a); i++ {
			if a[i] >= 0x80 {
				return true
			}
		}
	}
	return false
}
