// Package smtpserver owns Sealpost's SMTP listeners, built on
// github.com/emersion/go-smtp:
//
//   - MX (RFC 5321): accepts mail for hosted domains only, from anyone, and
//     hands it to postbox.Deliver, which seals every copy to its owner's key.
//   - Submission (RFC 6409): port 587 with STARTTLS (RFC 3207) or port 465
//     with implicit TLS. Clients authenticate (AUTH PLAIN or LOGIN, only
//     over TLS) and may send only as their own address; local recipients
//     are delivered at once, remote ones go into the sealed outbound queue,
//     and the sender's copy is filed in Sent.
//
// In both modes the 250 reply to DATA is written only after every copy is
// durable (postbox returns after fsync and commit). DATA ends only on
// CRLF.CRLF and messages with bare CR or LF are refused, so no SMTP
// smuggling is possible through this server. The stored message is a
// Received: trace header (RFC 5321 4.4) followed by the bytes received,
// byte for byte; on MX with a Checker, an Authentication-Results: field
// (RFC 8601) comes first, and DMARC (package mailauth) may refuse the
// message (550 5.7.1), defer it (451 4.7.0) or have it filed in Junk.
// With an SRS key (Options.SRS), the MX also takes bounces to the
// rewritten senders of mail we redirected and forwards them to the
// sender each stands for (srs.go).
// Before any content, the MX can refuse clients listed in DNS blocklists
// (RFC 5782; 554 5.7.1 at MAIL, dnsbl.go) and greylist each (client
// network, sender, recipient) at RCPT (RFC 6647; 451 4.7.1, greylist.go);
// trusted relays are exempt from both.
//
// The EHLO reply offers PIPELINING (RFC 2920), 8BITMIME (RFC 6152),
// SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034), SIZE (RFC 1870),
// CHUNKING (RFC 3030, go-smtp's BDAT), STARTTLS when configured, and AUTH
// only on submission over TLS.
//
// Replies stay generic; the detail of a failure goes to the structured log,
// which never sees message content or credentials (envelope addresses only
// at debug level).
package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/srs"
)

// Mode is the role of a listener.
type Mode int

// The listener roles.
const (
	// MX receives mail from other servers for hosted domains (port 25).
	MX Mode = iota
	// Submission receives mail from authenticated users (ports 587, 465).
	Submission
)

func (m Mode) String() string {
	switch m {
	case MX:
		return "mx"
	case Submission:
		return "submission"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Defaults of Options.
const (
	DefaultMaxRecipients = 100
	// DefaultMaxLineLength is RFC 5321 4.5.3.1.6's 1000 octets doubled, as
	// go-smtp does, for the many senders that exceed it a little.
	DefaultMaxLineLength = 2000
	DefaultReadTimeout   = 5 * time.Minute // RFC 5321 4.5.3.2.7
	DefaultWriteTimeout  = time.Minute

	// TraceRoom is kept free under the service's message size limit for
	// the Received: header (and, on submission, Date: and Message-ID:).
	TraceRoom = 8 << 10
	// opTimeout bounds one call into postbox.
	opTimeout = 2 * time.Minute
)

// Options configures a Server.
type Options struct {
	// Mode is MX or Submission.
	Mode Mode
	// Hostname is this server's name, in the greeting and in Received:
	// headers. Default: the system's host name.
	Hostname string
	// TLSConfig enables STARTTLS (RFC 3207). With ImplicitTLS it is the
	// configuration of the listener's TLS (optional there).
	TLSConfig *tls.Config
	// ImplicitTLS says the listener passed to Serve already speaks TLS
	// (port 465, RFC 8314 3.3). STARTTLS is then not offered.
	ImplicitTLS bool
	// MaxMessageSize bounds a message in bytes, advertised with SIZE
	// (RFC 1870). Default, and upper bound: the service's limit less room
	// for the trace header.
	MaxMessageSize int64
	// MaxRecipients bounds RCPT commands per message (default 100;
	// more get 452 4.5.3, RFC 5321 4.5.3.1.10).
	MaxRecipients int
	// MaxLineLength bounds command and text lines, CRLF included
	// (default DefaultMaxLineLength). A longer line gets a 500 reply and
	// the connection is closed, as the stream cannot be resynchronized.
	MaxLineLength int
	// ReadTimeout bounds the wait for each command and for each read of
	// message data (default 5 min). WriteTimeout bounds each reply
	// (default 1 min).
	ReadTimeout, WriteTimeout time.Duration
	// MaxConnections bounds concurrent connections (0: no bound). Further
	// clients get 421 4.7.0 and are disconnected. With ImplicitTLS it is
	// enforced only when TLSConfig is set.
	MaxConnections int
	// InsecureAuth allows AUTH without TLS on the connection; only for
	// the internal listener (package cluster), whose link is already
	// mutually authenticated TLS but reaches the server as a wrapped
	// connection that go-smtp cannot recognize as TLS.
	InsecureAuth bool
	// Checker, in MX mode, authenticates each message (SPF, DKIM, DMARC;
	// see authcheck.go) before it is sealed: refused, filed in Junk, or
	// stored with its Authentication-Results: field. Nil: no checks.
	Checker Checker
	// SRS, in MX mode, is the key of the Sender Rewriting Scheme
	// (package srs, srs.go): a bounce to a valid SRS address of a hosted
	// domain is forwarded to the sender it stands for. Nil: off (such
	// addresses are unknown users).
	SRS *srs.Key
	// TrustedRelays, in MX mode, are networks whose mail is neither
	// looked up in DNSBLs nor greylisted (a deployment's own relays or
	// backup MX, config mx.trusted_relays). None by default, loopback
	// included.
	TrustedRelays []netip.Prefix
	// DNSBL, in MX mode, refuses every MAIL of a client listed in a DNS
	// blocklist (dnsbl.go). Nil or no zones: off.
	DNSBL *DNSBL
	// Greylist, in MX mode, greylists each (client network, sender,
	// recipient) at RCPT (greylist.go). Nil: off. The caller closes it
	// after the Server.
	Greylist *Greylist
	// TarpitFree and TarpitDelay set the MX's recipient tarpit
	// (tarpit.go): unknown recipients a source may name before its
	// refusals wait, and the first wait (defaults DefaultTarpitFree,
	// DefaultTarpitDelay).
	TarpitFree  int
	TarpitDelay time.Duration
	// TempDir is where a message waits, encrypted under a key held only
	// in memory, from its first byte until it is sealed to its recipients
	// (seal.Temp): in unnamed files, so nothing is left there after a
	// crash. Default: os.TempDir().
	TempDir string
	// Logger receives structured logs (default: discarded).
	Logger *slog.Logger
	// Now returns the current time (tests may fix it).
	Now func() time.Time
}

// Backend is what the SMTP server needs from the postbox: a region's
// *postbox.Service, or a region.Router that sends each address to its home
// region.
type Backend interface {
	// MaxMessageSize is the largest message the backend stores.
	MaxMessageSize() int64
	// Authenticate checks a submission login (Permission if wrong).
	Authenticate(ctx context.Context, addr, password string) (sealpost.Account, error)
	// IsHostedDomain reports whether mail for domain is accepted here.
	IsHostedDomain(ctx context.Context, domain string) (bool, error)
	// LookupRecipient checks that addr is a hosted account (NotExist if not).
	LookupRecipient(ctx context.Context, addr string) (sealpost.Account, error)
	// CheckQuota tells whether a message of size bytes (0: not declared)
	// could be delivered to addr now: OverQuota if not (quota.go).
	CheckQuota(ctx context.Context, addr string, size int64) error
	// Deliver seals msg to each recipient and files it; nil means
	// durable. msg is read once per copy, never held whole.
	Deliver(ctx context.Context, env postbox.Envelope, msg postbox.Message) error
	// AppendByUse files the sender's own copy (e.g. in Sent).
	AppendByUse(ctx context.Context, acct sealpost.Account, use sealpost.SpecialUse, msg postbox.Message, flags []sealpost.Flag) error
	// Enqueue puts mail for remote recipients in the outbound queue.
	Enqueue(ctx context.Context, from string, rcpts []string, msg postbox.Message) error
}

var _ Backend = (*postbox.Service)(nil)

// Server is an SMTP listener of one Mode. It may serve several listeners.
type Server struct {
	svc  Backend
	opts Options
	log  *slog.Logger
	smtp *smtp.Server

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	active  sync.WaitGroup // Data calls in progress; Add only while !closed
	slots   chan struct{}  // connection semaphore, nil if unbounded
	tarpit  *tarpit        // unknown recipients per source (tarpit.go)
	dnsbl   *dnsbl         // MX's blocklist lookups (dnsbl.go), nil if off
	panics  atomic.Int64   // recovered panics, for tests
	idCount atomic.Uint64
	stats   Stats // stats.go
}

// New returns a Server delivering through svc.
func New(svc Backend, opts Options) *Server {
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
		if opts.Hostname == "" {
			opts.Hostname = "localhost"
		}
	}
	if limit := svc.MaxMessageSize() - TraceRoom; opts.MaxMessageSize <= 0 || opts.MaxMessageSize > limit {
		if limit < 1024 {
			limit = svc.MaxMessageSize() / 2
		}
		opts.MaxMessageSize = limit
	}
	if opts.MaxRecipients <= 0 {
		opts.MaxRecipients = DefaultMaxRecipients
	}
	if opts.MaxLineLength <= 0 {
		opts.MaxLineLength = DefaultMaxLineLength
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Logger == nil {
		opts.Logger = mlog.Discard()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	s := &Server{svc: svc, opts: opts, log: opts.Logger.With("listener", opts.Mode.String())}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.tarpit = newTarpit(opts.TarpitFree, opts.TarpitDelay)
	if opts.Mode == MX {
		s.dnsbl = newDNSBL(s, opts.DNSBL)
	}
	if opts.MaxConnections > 0 {
		s.slots = make(chan struct{}, opts.MaxConnections)
	}
	if opts.Mode == Submission && opts.TLSConfig == nil && !opts.ImplicitTLS && !opts.InsecureAuth {
		s.log.Warn("submission without TLS: AUTH is never offered, so no mail can be submitted")
	}

	srv := smtp.NewServer(backend{s})
	srv.Domain = opts.Hostname
	srv.MaxMessageBytes = opts.MaxMessageSize
	srv.MaxRecipients = opts.MaxRecipients
	srv.MaxLineLength = opts.MaxLineLength
	srv.ReadTimeout = opts.ReadTimeout
	srv.WriteTimeout = opts.WriteTimeout
	// RFC 8314 / RFC 4954 4: AUTH only over TLS (or over the internal
	// link, which is TLS that go-smtp does not see).
	srv.AllowInsecureAuth = opts.InsecureAuth
	srv.EnableSMTPUTF8 = true // RFC 6531
	srv.ErrorLog = errorLog{s.log}
	if !opts.ImplicitTLS {
		srv.TLSConfig = opts.TLSConfig
	}
	s.smtp = srv
	return s
}

// Serve accepts connections on ln until Close; it returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		ln.Close()
		return smtp.ErrServerClosed
	}
	if s.slots != nil {
		ln = &limitListener{Listener: ln, s: s}
	}
	return s.smtp.Serve(ln)
}

// Close closes the listeners and every connection at once, then waits for
// deliveries in progress to finish or fail (none of them has been answered
// with 250, so the clients will retry).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	err := s.smtp.Close()
	s.active.Wait()
	if errors.Is(err, net.ErrClosed) { // the caller closed a listener first
		err = nil
	}
	return err
}

// begin registers a delivery in progress; it reports false once the server
// is closing.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.active.Add(1)
	return true
}

// newID returns a short identifier for a transaction, for the Received:
// header and the log.
func (s *Server) newID() string {
	n := s.idCount.Add(1)
	return fmt.Sprintf("%s%04X", randomToken(6), n&0xFFFF)
}

// limitListener enforces Options.MaxConnections.
type limitListener struct {
	net.Listener
	s *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.s.slots <- struct{}{}:
		default:
			go l.s.refuse(c)
			continue
		}
		return l.s.counted(c), nil
	}
}

// counted wraps c so that closing it frees its slot. go-smtp recognizes
// TLS by the concrete type *tls.Conn, so a TLS connection (not yet
// handshaken) is rebuilt over the counted raw connection.
func (s *Server) counted(c net.Conn) net.Conn {
	if tc, ok := c.(*tls.Conn); ok {
		if s.opts.TLSConfig == nil {
			<-s.slots // cannot count it; see Options.MaxConnections
			return c
		}
		return tls.Server(&slotConn{Conn: tc.NetConn(), s: s}, s.opts.TLSConfig)
	}
	return &slotConn{Conn: c, s: s}
}

// refuse answers a connection over the limit (RFC 5321 3.1: 421 at greeting).
func (s *Server) refuse(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "421 4.7.0 %s Too many connections, try again later\r\n", s.opts.Hostname)
	s.log.Info("connection refused: too many connections", "remote", remoteIP(c))
}

type slotConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.s.slots })
	return err
}

// errorLog carries go-smtp's own messages (connection errors, panics it
// recovered) to slog. They hold no message content.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Printf(format string, v ...any) { l.print(fmt.Sprintf(format, v...)) }
func (l errorLog) Println(v ...any)               { l.print(strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }

func (l errorLog) print(msg string) {
	if strings.HasPrefix(msg, "panic") {
		l.log.Error("smtp: "+firstLine(msg), "detail", msg)
		return
	}
	l.log.Info("smtp: " + msg)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// trusted reports whether ip is in Options.TrustedRelays.
func (s *Server) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.opts.TrustedRelays {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// remoteIP returns the client's IP address, or nil.
func remoteIP(c net.Conn) net.IP {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP
	}
	return nil
}
