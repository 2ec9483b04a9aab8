// Package bench is a load generator for mail servers: it delivers messages
// over SMTP and appends, fetches, searches and idles over IMAP, and reports
// rates and latency percentiles.
//
// It speaks only the standard protocols (RFC 5321 SMTP with the STARTTLS and
// AUTH extensions, RFC 9051/3501 IMAP with IDLE), through the same client
// libraries as any other Go program, and assumes nothing about the server:
// the same run can be pointed at Sealpost, Postfix with Dovecot, mox or
// maddy, and the numbers compared.
//
// Every run is bounded in count (a number of messages, searches or
// connections) and in time (Options.Timeout, after which it stops and
// reports what it measured). It is meant for servers on this machine: the
// caller chooses the address, and tests use 127.0.0.1.
//
// The package owns the option types, the runners RunSMTP and RunIMAP, the
// Result with its text and JSON reports, and the message generator Message.
package bench

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// DefaultTimeout bounds a run when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Minute

// Options are the settings shared by the SMTP and IMAP benchmarks.
type Options struct {
	Addr        string        // server address, host:port
	User        string        // account name for AUTH or LOGIN
	Pass        string        // its password
	Concurrency int           // number of concurrent connections (≥ 1)
	Messages    int           // messages to deliver or append in total
	Size        int           // approximate size of each message in bytes
	TLS         bool          // implicit TLS from the first byte
	StartTLS    bool          // upgrade with STARTTLS (RFC 3207, RFC 9051 6.2.1)
	Insecure    bool          // skip certificate verification (self-signed test servers)
	Timeout     time.Duration // overall bound on the run; 0 means DefaultTimeout
	JSON        bool          // report as JSON instead of text
	// Sources spreads connections over this many loopback source
	// addresses (127.0.0.1, 127.0.0.2, ...), round robin, so that a run of
	// thousands of connections stays within a server's per-address limit
	// as that many clients would. 0 or 1: the system's choice.
	Sources int

	next *atomic.Uint64 // counts connections, for Sources; set by check
}

// check validates o and fills in defaults.
func (o *Options) check(op string) error {
	if o.Addr == "" {
		return errors.E(op, errors.Invalid, errors.Str("no server address (--addr)"))
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return errors.E(op, errors.Invalid, err)
	}
	if o.TLS && o.StartTLS {
		return errors.E(op, errors.Invalid, errors.Str("--tls and --starttls are exclusive"))
	}
	if o.Sources < 0 || o.Sources > 1<<16 {
		return errors.E(op, errors.Invalid, errors.Str("--sources must be between 0 and 65536"))
	}
	o.next = new(atomic.Uint64)
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Messages < 0 {
		return errors.E(op, errors.Invalid, errors.Str("negative message count"))
	}
	if o.Size < 1 {
		return errors.E(op, errors.Invalid, errors.Str("message size must be positive"))
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return nil
}

// tlsConfig returns the client TLS configuration for o.Addr.
func (o *Options) tlsConfig() *tls.Config {
	host, _, _ := net.SplitHostPort(o.Addr)
	return &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: o.Insecure, // #nosec G402 -- opt-in for self-signed test servers
		MinVersion:         tls.VersionTLS12,
	}
}

// dial opens a TCP connection to o.Addr, upgraded to TLS when o.TLS is set.
// The connection is closed when ctx is done, which unblocks whatever is
// reading or writing it; the returned stop function undoes that hook.
func (o *Options) dial(ctx context.Context, nextProto string) (net.Conn, func() bool, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	if o.Sources > 1 {
		n := o.next.Add(1)%uint64(o.Sources) + 1
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, byte(n>>16), byte(n>>8), byte(n))}
	}
	raw, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	if !o.TLS {
		return raw, stop, nil
	}
	cfg := o.tlsConfig()
	cfg.NextProtos = []string{nextProto}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		stop()
		raw.Close()
		return nil, nil, err
	}
	return tc, stop, nil
}

// span returns the half-open range of items [lo, hi) that worker w of n
// handles when total items are spread as evenly as possible.
func span(total, n, w int) (lo, hi int) {
	return total * w / n, total * (w + 1) / n
}

// The phase names used in reports.
const (
	phaseSMTP    = "smtp"
	phaseAppend  = "imap append"
	phaseFetch   = "imap fetch"
	phaseSearch  = "imap search"
	phaseIdle    = "imap idle"
	phaseSession = "imap session"
)
