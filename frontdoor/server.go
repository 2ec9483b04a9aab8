// Package frontdoor is Sealpost's public front door for a deployment with
// several regions: it terminates the IMAP (RFC 9051, ports 143 and 993),
// submission (RFC 6409, ports 587 and 465) and ManageSieve (RFC 5804, port
// 4190) connections of every user, speaks the protocol up to
// authentication, finds the account's home region and hands the session
// over to that region's node, after which it only copies bytes both ways.
//
// Before authentication the front door offers what a client needs to get
// there: IMAP CAPABILITY, NOOP, LOGOUT, STARTTLS, ID, LOGIN and
// AUTHENTICATE PLAIN (with SASL-IR and LITERAL+); SMTP EHLO, HELO,
// STARTTLS, AUTH PLAIN and LOGIN, NOOP, RSET and QUIT; ManageSieve
// CAPABILITY, NOOP, LOGOUT, STARTTLS and AUTHENTICATE "PLAIN" (sieve.go).
// Authentication needs TLS (RFC 8314). Credentials are checked only by the home region: the
// front door locates the region (Options.Locate), dials its node over the
// deployment's mutually authenticated TLS (Options.Dial, package cluster),
// writes a PROXY header naming the client, and authenticates there with the
// client's credentials under the client's IMAP tag: AUTHENTICATE PLAIN with
// an initial response, SMTP EHLO and AUTH PLAIN, or ManageSieve
// AUTHENTICATE "PLAIN" with an initial response. On success the region's
// reply goes to the client and the two connections are spliced; from then
// on the front door parses nothing, so every extension the region offers
// (IDLE, APPEND literals, PIPELINING, BDAT, ...) works unchanged. On
// failure the region's connection is closed and the client may try again,
// a bounded number of times.
//
// The front door keeps no state and stores nothing; credentials pass
// through its memory on their way to the home region and are never logged.
// The log names the client's address, the region and the outcome, not the
// user.
package frontdoor

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/cluster"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mlog"
)

// Defaults of Options.
const (
	DefaultCommandTimeout   = 2 * time.Minute
	DefaultPreauthTimeout   = 5 * time.Minute
	DefaultBackendTimeout   = time.Minute
	DefaultMaxAuthFailures  = 3
	DefaultAuthFailureDelay = 200 * time.Millisecond

	// writeTimeout bounds each reply written before the hand-over.
	writeTimeout = time.Minute
	// drainTimeout is how long a spliced session may go on in one
	// direction after the other has ended.
	drainTimeout = 30 * time.Second
	// maxCredential bounds a user name or password, in bytes.
	maxCredential = 1024
	// maxBackendLine bounds a line read from a region before the hand-over.
	maxBackendLine = 16 << 10
)

// Options configures a Server.
type Options struct {
	// Hostname is the front door's public name, in greetings.
	Hostname string
	// TLSConfig holds the public certificate: for STARTTLS, and for the
	// listeners served with implicitTLS. Without it no client can
	// authenticate.
	TLSConfig *tls.Config
	// Locate returns the home region of a normalized address; a NotExist
	// error for an address with no account (the client gets the same
	// reply as for a wrong password). Required.
	Locate func(ctx context.Context, addr string) (sealpost.RegionID, error)
	// Dial returns a connection to the node of region for proto
	// (cluster.ProtoIMAP, cluster.ProtoSubmission or
	// cluster.ProtoManageSieve), typically cluster.Dial with the node's address and the front door's client TLS
	// configuration. It must write nothing: the front door writes the
	// PROXY header itself, with the client's address. Required.
	Dial func(ctx context.Context, region sealpost.RegionID, proto string) (net.Conn, error)
	// Logger receives structured logs (default: discarded).
	Logger *slog.Logger

	// MaxMessageSize is advertised by EHLO as SIZE (RFC 1870); it should
	// be the regions' submission limit (0: SIZE without a number).
	MaxMessageSize int64
	// MaxRecipients is advertised by EHLO as LIMITS RCPTMAX (RFC 9422);
	// it should be the regions' limit (0: not advertised).
	MaxRecipients int
	// ManageSieve is what the regions' ManageSieve servers offer, for the
	// capability response before the hand-over.
	ManageSieve ManageSieveOptions

	// CommandTimeout bounds the wait for each command before the
	// hand-over (default 2 min); PreauthTimeout bounds the whole time
	// from connection to hand-over (default 5 min).
	CommandTimeout, PreauthTimeout time.Duration
	// BackendTimeout bounds locating the region, dialling it and
	// authenticating there (default 1 min).
	BackendTimeout time.Duration
	// MaxAuthFailures closes a connection after that many failed
	// authentications (default 3).
	MaxAuthFailures int
	// AuthFailureDelay is the first estimate of how long a region takes
	// to refuse a wrong password. An address with no account is refused
	// after about as long (a moving average of the regions' refusals), so
	// that the time taken says little about whether it exists
	// (default 200 ms).
	AuthFailureDelay time.Duration
	// MaxConnections bounds concurrent client connections, before and
	// after the hand-over (0: no bound). Clients beyond it are told to
	// come back later and disconnected.
	MaxConnections int
}

// Server is the front door. It may serve several listeners of each kind.
type Server struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{} // client and region connections
	wg        sync.WaitGroup        // connection goroutines

	slots     chan struct{} // connection semaphore, nil if unbounded
	failDelay atomic.Int64  // nanoseconds, moving average of refusals
	panics    atomic.Int64  // recovered panics, for tests
}

// New returns a Server. Options.Locate and Options.Dial are required.
func New(opts Options) *Server {
	if opts.Locate == nil || opts.Dial == nil {
		panic("frontdoor: Options.Locate and Options.Dial are required")
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.Logger == nil {
		opts.Logger = mlog.Discard()
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	if opts.PreauthTimeout <= 0 {
		opts.PreauthTimeout = DefaultPreauthTimeout
	}
	if opts.BackendTimeout <= 0 {
		opts.BackendTimeout = DefaultBackendTimeout
	}
	if opts.MaxAuthFailures <= 0 {
		opts.MaxAuthFailures = DefaultMaxAuthFailures
	}
	if opts.AuthFailureDelay <= 0 {
		opts.AuthFailureDelay = DefaultAuthFailureDelay
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger.With("listener", "frontdoor"),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[net.Conn]struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.failDelay.Store(int64(opts.AuthFailureDelay))
	if opts.MaxConnections > 0 {
		s.slots = make(chan struct{}, opts.MaxConnections)
	}
	if opts.TLSConfig == nil {
		s.log.Warn("front door without TLS: no client can authenticate")
	}
	return s
}

// ServeIMAP accepts IMAP clients on ln until Close, then returns nil. With
// implicitTLS (port 993, RFC 8314 3.3) each connection starts with a TLS
// handshake under Options.TLSConfig; ln is a plain TCP listener.
func (s *Server) ServeIMAP(ln net.Listener, implicitTLS bool) error {
	return s.serve(ln, "imap", implicitTLS, s.serveIMAP)
}

// ServeSubmission accepts submission clients on ln until Close, then
// returns nil. With implicitTLS (port 465) each connection starts with a
// TLS handshake.
func (s *Server) ServeSubmission(ln net.Listener, implicitTLS bool) error {
	return s.serve(ln, "submission", implicitTLS, s.serveSubmission)
}

// Close stops the listeners, closes every connection (sessions already
// handed over end too: the front door is in their path) and waits for
// their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		// A TLS connection's Close sends close_notify before it closes
		// the socket; a region seeing it ends the session and answers
		// (an IDLE's "OK IDLE completed") within a loopback round trip,
		// which a splice could still relay to a client not yet closed.
		// Closing the sockets themselves ends every session at once.
		if tc, ok := c.(*tls.Conn); ok {
			tc.NetConn().Close()
		} else {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) serve(ln net.Listener, proto string, implicit bool, handle func(net.Conn, bool)) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return errors.E("frontdoor.Serve", errors.Unavailable, err)
		}
		backoff = 0
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			default:
				go s.refuse(c, proto, implicit)
				continue
			}
		}
		if !s.track(c, true) {
			c.Close()
			s.release()
			return nil
		}
		go func() {
			defer s.wg.Done()
			// The slot is free before the client sees the close.
			defer c.Close()
			defer s.untrack(c)
			defer s.release()
			defer s.recover(proto, c)
			handle(c, implicit)
		}()
	}
}

func (s *Server) release() {
	if s.slots != nil {
		<-s.slots
	}
}

// refuse answers a client beyond MaxConnections. Over implicit TLS there
// is no cheap way to say it, so the connection is just closed.
func (s *Server) refuse(c net.Conn, proto string, implicit bool) {
	defer c.Close()
	s.log.Info("connection refused: too many connections", "proto", proto, "remote", remoteIP(c))
	if implicit {
		return
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if proto == "imap" {
		io.WriteString(c, "* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
	} else {
		io.WriteString(c, "421 4.7.0 "+s.opts.Hostname+" Too many connections, try again later\r\n")
	}
}

// recover turns a panic in a connection's goroutine into a log entry and
// the end of that connection only.
func (s *Server) recover(proto string, c net.Conn) {
	if v := recover(); v != nil {
		s.panics.Add(1)
		s.log.Error("panic in front door session", "proto", proto, "remote", remoteIP(c), "panic", v, "stack", string(debug.Stack()))
	}
}

// track records a connection for Close, and counts a served one (whose
// goroutine calls s.wg.Done) in s.wg; false once closed.
func (s *Server) track(c net.Conn, served bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	if served {
		// Counted under s.mu: Close sets closed under it before it
		// waits, so its Wait never races this Add.
		s.wg.Add(1)
	}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// locate finds addr's home region. A NotExist error means no such account.
func (s *Server) locate(ctx context.Context, addr string) (sealpost.RegionID, error) {
	addr = sealpost.NormalizeAddress(addr)
	if len(addr) > 320 || sealpost.DomainOf(addr) == "" {
		return "", errors.E("frontdoor.locate", errors.NotExist)
	}
	return s.opts.Locate(ctx, addr)
}

// dialRegion connects to region's node for proto and writes the PROXY
// header naming client. The connection is tracked for Close; the caller
// closes it and calls untrack unless it hands it over.
func (s *Server) dialRegion(ctx context.Context, region sealpost.RegionID, proto string, client net.Conn) (net.Conn, error) {
	const op = "frontdoor.dialRegion"
	b, err := s.opts.Dial(ctx, region, proto)
	if err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	if !s.track(b, false) {
		b.Close()
		return nil, errors.E(op, errors.Unavailable, errors.Str("shutting down"))
	}
	if d, ok := ctx.Deadline(); ok {
		b.SetDeadline(d)
	}
	if err := cluster.WriteProxyHeader(b, client.RemoteAddr(), client.LocalAddr()); err != nil {
		s.closeRegion(b)
		return nil, errors.E(op, errors.Unavailable, err)
	}
	return b, nil
}

func (s *Server) closeRegion(b net.Conn) {
	b.Close()
	s.untrack(b)
}

// noteRefusal records how long a region took to refuse credentials, for
// pacing refusals of unknown addresses.
func (s *Server) noteRefusal(d time.Duration) {
	for {
		old := s.failDelay.Load()
		nu := old + (int64(d)-old)/8 // exponential moving average, weight 1/8
		if s.failDelay.CompareAndSwap(old, nu) {
			return
		}
	}
}

// pace waits until a refusal started at start has taken about as long as
// a region's refusal of a wrong password.
func (s *Server) pace(ctx context.Context, start time.Time) {
	wait := time.Duration(s.failDelay.Load()) - time.Since(start)
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// splice copies bytes both ways between a client and its region until both
// directions end, or one fails. Bytes already read into the readers'
// buffers go first. A direction that ends cleanly is half-closed on the
// other side, and the remaining one gets drainTimeout to finish. It closes
// both connections.
func (s *Server) splice(client net.Conn, cr *bufio.Reader, region net.Conn, rr *bufio.Reader) {
	defer s.closeRegion(region)
	defer client.Close()
	client.SetDeadline(time.Time{})
	region.SetDeadline(time.Time{})
	done := make(chan error, 2)
	go func() { done <- copyHalf(region, client, cr) }()
	go func() { done <- copyHalf(client, region, rr) }()
	if err := <-done; err != nil {
		client.Close()
		region.Close()
	} else {
		dl := time.Now().Add(drainTimeout)
		client.SetDeadline(dl)
		region.SetDeadline(dl)
	}
	<-done
}

// copyHalf copies src (first what br has buffered) to dst, then
// half-closes dst. It returns nil if src ended cleanly.
func copyHalf(dst, src net.Conn, br *bufio.Reader) error {
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if _, err := dst.Write(b); err != nil {
			return err
		}
	}
	_, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, 32<<10))
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		cw.CloseWrite()
	}
	return err
}

// remoteIP returns the address of a connection's peer without the port.
func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return c.RemoteAddr().String()
}
