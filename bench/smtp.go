package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/errors"
)

// SMTPOptions configure RunSMTP.
type SMTPOptions struct {
	Options
	From string // envelope and header sender; default "bench@example.com"
	To   string // recipient; default User
	Auth bool   // authenticate with AUTH PLAIN (RFC 4954, RFC 4616); needs TLS
	Helo string // name given in EHLO; default "localhost"
	// DKIM, if set, signs every message before it is timed, as a sending
	// MTA would (RFC 6376), so that the receiver has a signature to check.
	DKIM *DKIM
	// Text, if not empty, are words of real text (TextWords) that fill
	// the bodies instead of generated words (MessageText).
	Text []string
}

// message returns message i of the run, unsigned.
func (o *SMTPOptions) message(i int) []byte {
	if len(o.Text) > 0 {
		return MessageText(i, o.Size, o.From, o.To, o.Text)
	}
	return Message(i, o.Size, o.From, o.To)
}

// DKIM is a signing key for RunSMTP: the signing domain is the From
// address's.
type DKIM struct {
	Selector string
	Key      crypto.Signer // *rsa.PrivateKey or ed25519.PrivateKey
}

// LoadDKIMKey reads a PEM PKCS #8 private key (RSA or Ed25519), e.g.
// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.
func LoadDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	const op = "bench.LoadDKIMKey"
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("no PEM block"))
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey, ed25519.PrivateKey:
		return k.(crypto.Signer), nil
	}
	return nil, errors.E(op, errors.Invalid, errors.Errorf("a %T key: want RSA or Ed25519", k))
}

// sign prepends a DKIM-Signature to msg, signing its usual headers with
// c=relaxed/relaxed, as the large senders sign (and dkimsign does): the
// canonicalization a receiver most often verifies.
func (d *DKIM) sign(msg []byte, from string) ([]byte, error) {
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain:                 from[strings.LastIndexByte(from, '@')+1:],
		Selector:               d.Selector,
		Signer:                 d.Key,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"},
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	return out.Bytes(), err
}

// maxDialFailures is how many connection attempts in a row a worker makes
// before it gives up on its remaining messages.
const maxDialFailures = 3

func (o *SMTPOptions) check(op string) error {
	if err := o.Options.check(op); err != nil {
		return err
	}
	if o.Auth && !o.TLS && !o.StartTLS {
		return errors.E(op, errors.Invalid, errors.Str("--auth sends the password: it needs --tls or --starttls"))
	}
	if o.Auth && o.User == "" {
		return errors.E(op, errors.Invalid, errors.Str("--auth needs --user"))
	}
	if o.From == "" {
		o.From = "bench@example.com"
	}
	if o.To == "" {
		o.To = o.User
	}
	if o.To == "" {
		return errors.E(op, errors.Invalid, errors.Str("no recipient: give --to or --user"))
	}
	if o.Helo == "" {
		o.Helo = "localhost"
	}
	if o.DKIM != nil && (o.DKIM.Selector == "" || o.DKIM.Key == nil || !strings.Contains(o.From, "@")) {
		return errors.E(op, errors.Invalid, errors.Str("DKIM signing needs a selector, a key and a From address"))
	}
	for _, s := range []string{o.From, o.To, o.Helo} {
		if strings.ContainsAny(s, "\r\n<> ") {
			return errors.E(op, errors.Invalid, errors.Errorf("bad address or name %q", s))
		}
	}
	return nil
}

// RunSMTP delivers o.Messages messages of o.Size bytes from o.From to o.To
// over o.Concurrency connections, each connection carrying one transaction
// after another (MAIL, RCPT, DATA; RSET only after a failed transaction) as
// an MTA would. Without o.Auth the delivery is MX-style, unauthenticated.
//
// Each message's latency runs from MAIL FROM to the 250 reply after the
// final dot of DATA (RFC 5321 4.1.1.2–4.1.1.4); the elapsed time includes
// connection setup. A connection that fails is redialled for the worker's
// next message. The report is written to w (text or JSON per o.JSON) when
// the run ends; w may be nil.
//
// The error is non-nil if the options are invalid, or if no message was
// delivered while some failed; the Result is returned in the latter case too.
func RunSMTP(ctx context.Context, o SMTPOptions, w io.Writer) (*Result, error) {
	const op = "bench.RunSMTP"
	if err := o.check(op); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	n := min(o.Concurrency, max(o.Messages, 1))
	recs := make([]*recorder, n)
	msgs, err := o.messages(ctx)
	if err != nil {
		return nil, errors.E(op, err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for wk := range n {
		lo, hi := span(o.Messages, n, wk)
		recs[wk] = &recorder{}
		wg.Go(func() { smtpWorker(ctx, &o, msgs, lo, hi, recs[wk]) })
	}
	wg.Wait()
	res := &Result{
		Phase: phaseSMTP, Unit: "messages", Elapsed: time.Since(start),
		LatencyOf: "MAIL FROM to 250 after DATA", TimedOut: ctx.Err() != nil,
	}
	res.merge(recs)
	if err := res.write(w, o.JSON); err != nil {
		return res, errors.E(op, errors.Internal, err)
	}
	return res, allFailed(op, res)
}

// allFailed returns an error if res has errors and no successes.
func allFailed(op string, res *Result) error {
	if res.Ops == 0 && res.Errors > 0 {
		return errors.E(op, errors.Unavailable, errors.Errorf("all %d operations failed; first error: %s", res.Errors, res.FirstErr))
	}
	return nil
}

// smtpConn is one client connection and the hook that closes it when the
// run's context ends.
type smtpConn struct {
	c    *smtp.Client
	conn net.Conn
	stop func() bool
}

func (sc *smtpConn) close(quit bool) {
	if quit {
		sc.c.Quit() // best effort; closes the connection on success
	}
	sc.stop()
	sc.c.Close()
	sc.conn.Close()
}

// dialSMTP connects, greets, optionally upgrades with STARTTLS (RFC 3207)
// and authenticates with PLAIN.
func dialSMTP(ctx context.Context, o *SMTPOptions) (*smtpConn, error) {
	conn, stop, err := o.dial(ctx, "smtp")
	if err != nil {
		return nil, err
	}
	var c *smtp.Client
	if o.StartTLS {
		c, err = smtp.NewClientStartTLS(conn, o.tlsConfig())
		if err != nil {
			stop()
			conn.Close()
			return nil, err
		}
	} else {
		c = smtp.NewClient(conn)
	}
	sc := &smtpConn{c: c, conn: conn, stop: stop}
	// After STARTTLS the client says EHLO again (RFC 3207 4.2), here with
	// the configured name.
	if err := c.Hello(o.Helo); err != nil {
		sc.close(false)
		return nil, err
	}
	if o.Auth {
		if err := c.Auth(sasl.NewPlainClient("", o.User, o.Pass)); err != nil {
			sc.close(false)
			return nil, err
		}
	}
	if limit, ok := c.MaxMessageSize(); ok && limit > 0 && o.Size > limit {
		sc.close(true)
		return nil, errors.Errorf("server's SIZE limit %d is below the message size %d", limit, o.Size)
	}
	return sc, nil
}

// messages returns, when o.DKIM is set, every message of the run signed,
// made before the clock starts (signing is the sender's work, and RSA
// signing on the benchmark's own cores would slow the server it measures);
// nil otherwise, and each worker makes its messages as it goes.
func (o *SMTPOptions) messages(ctx context.Context) ([][]byte, error) {
	if o.DKIM == nil {
		return nil, nil
	}
	msgs := make([][]byte, o.Messages)
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := w; i < len(msgs) && ctx.Err() == nil && errs[w] == nil; i += len(errs) {
				msgs[i], errs[w] = o.DKIM.sign(o.message(i), o.From)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, errors.E(errors.Invalid, err)
		}
	}
	return msgs, ctx.Err()
}

// smtpWorker delivers messages lo..hi-1 over one connection at a time,
// msgs[i] if msgs is not nil.
func smtpWorker(ctx context.Context, o *SMTPOptions, msgs [][]byte, lo, hi int, rec *recorder) {
	var sc *smtpConn
	dialFailures := 0
	for i := lo; i < hi && ctx.Err() == nil; i++ {
		if sc == nil {
			var err error
			if sc, err = dialSMTP(ctx, o); err != nil {
				if ctx.Err() != nil {
					return
				}
				rec.fail(err)
				if dialFailures++; dialFailures >= maxDialFailures {
					// Give up: count the rest of this worker's share as failed.
					rec.errs += hi - i - 1
					return
				}
				continue
			}
			dialFailures = 0
		}
		var msg []byte
		if msgs != nil {
			msg = msgs[i]
		} else {
			msg = o.message(i)
		}
		start := time.Now()
		err := deliver(sc.c, o.From, o.To, msg)
		if err == nil {
			rec.ok(time.Since(start), int64(len(msg)))
			continue
		}
		if ctx.Err() != nil {
			break // cut short by the timeout: not the server's failure
		}
		rec.fail(err)
		var se *smtp.SMTPError
		if errors.As(err, &se) && sc.c.Reset() == nil {
			continue // a refused transaction; the connection is still good
		}
		sc.close(false)
		sc = nil
	}
	if sc != nil {
		sc.close(ctx.Err() == nil)
	}
}

// deliver runs one mail transaction (RFC 5321 3.3).
func deliver(c *smtp.Client, from, to string, msg []byte) error {
	if err := c.Mail(from, &smtp.MailOptions{Size: int64(len(msg))}); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	wc, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write(msg); err != nil {
		wc.Close()
		return err
	}
	_, err = wc.CloseWithResponse()
	return err
}
