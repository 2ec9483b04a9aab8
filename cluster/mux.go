package cluster

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mlog"
)

// Defaults of MuxOptions.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxPending       = 256
)

// MuxOptions configures a Mux.
type MuxOptions struct {
	// HandshakeTimeout bounds the TLS handshake and the reading of the
	// PROXY header of each connection (default 10 s).
	HandshakeTimeout time.Duration
	// MaxPending bounds the connections in their handshake at once
	// (default 256); a connection beyond it is closed at once.
	MaxPending int
	// Logger receives structured logs (default: discarded).
	Logger *slog.Logger
}

// Mux is a node's internal listener: it accepts mutually authenticated TLS
// connections and dispatches each, by its ALPN protocol, to a sub-listener
// (Listener). Handshakes run off the accept loop, each under a deadline, so
// a slow or silent client never holds up others. A connection that fails
// the handshake, negotiates no protocol or one whose sub-listener was never
// asked for, or (for ProtoIMAP, ProtoSubmission and ProtoManageSieve) lacks
// a valid PROXY header, is closed.
//
// Connections handed out for ProtoIMAP, ProtoSubmission and
// ProtoManageSieve report the client's address from the PROXY header as RemoteAddr; they are not
// *tls.Conn, so go-imap and go-smtp see them as cleartext (serve them with
// InsecureAuth: the link is TLS). ProtoHTTP connections are the *tls.Conn
// itself, so an http.Server fills in Request.TLS (see PeerName).
type Mux struct {
	ln   net.Listener
	cfg  *tls.Config
	opts MuxOptions
	log  *slog.Logger
	subs map[string]*subListener

	pending chan struct{} // handshake slots
	done    chan struct{} // closed by Close
	once    sync.Once
	wg      sync.WaitGroup // handshakes in progress

	mu    sync.Mutex
	conns map[net.Conn]struct{} // in their handshake, closed by Close
}

// NewMux returns a Mux over ln, a plain TCP listener, with cfg from
// LoadServerTLS (cfg must require and verify client certificates; the Mux
// sets its ALPN protocols). Call Listener for each protocol served, then
// Serve.
func NewMux(ln net.Listener, cfg *tls.Config, opts MuxOptions) (*Mux, error) {
	const op = "cluster.NewMux"
	if cfg == nil || cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("the internal listener must require client certificates from the deployment CA"))
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("no server certificate"))
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.Logger == nil {
		opts.Logger = mlog.Discard()
	}
	cfg = cfg.Clone()
	cfg.NextProtos = append([]string(nil), protocols...)
	if cfg.MinVersion < tls.VersionTLS13 {
		cfg.MinVersion = tls.VersionTLS13
	}
	m := &Mux{
		ln:      ln,
		cfg:     cfg,
		opts:    opts,
		log:     opts.Logger.With("listener", "internal"),
		subs:    make(map[string]*subListener),
		pending: make(chan struct{}, opts.MaxPending),
		done:    make(chan struct{}),
		conns:   make(map[net.Conn]struct{}),
	}
	for _, p := range protocols {
		m.subs[p] = &subListener{m: m, proto: p, ch: make(chan net.Conn), closed: make(chan struct{})}
	}
	return m, nil
}

// Listener returns the sub-listener of proto (ProtoIMAP, ProtoSubmission, ProtoManageSieve or
// ProtoHTTP), to pass to a server's Serve. Connections of a protocol whose
// Listener was never called are refused. It panics on another proto.
func (m *Mux) Listener(proto string) net.Listener {
	sl := m.subs[proto]
	if sl == nil {
		panic("cluster: Mux.Listener: unknown protocol " + proto)
	}
	sl.mu.Lock()
	sl.used = true
	sl.mu.Unlock()
	return sl
}

// Addr returns the listener's address.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Serve accepts connections until Close, and then returns nil.
func (m *Mux) Serve() error {
	var backoff time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return nil
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				m.log.Warn("accept", "err", err, "retry", backoff)
				time.Sleep(backoff)
				continue
			}
			return errors.E("cluster.Mux.Serve", errors.Unavailable, err)
		}
		backoff = 0
		select {
		case m.pending <- struct{}{}:
		default:
			m.log.Warn("internal connection refused: too many in handshake", "remote", c.RemoteAddr().String())
			c.Close()
			continue
		}
		if !m.track(c) {
			<-m.pending
			c.Close()
			return nil
		}
		go m.handshake(c)
	}
}

// Close stops accepting, closes every sub-listener and every connection
// still in its handshake. Connections already handed out belong to their
// servers, which close them.
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		m.mu.Lock()
		close(m.done)
		for c := range m.conns {
			c.Close()
		}
		m.mu.Unlock()
		err = m.ln.Close()
		if errors.IsErr(err, net.ErrClosed) {
			err = nil
		}
		m.wg.Wait()
	})
	return err
}

// track records a connection in its handshake and counts it in m.wg;
// false once closed. The count is taken under m.mu, so that Close, which
// closes m.done under the same lock before it waits, never waits while a
// tracked connection's Add is still to come (a WaitGroup's Add racing its
// Wait).
func (m *Mux) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.done:
		return false
	default:
	}
	m.conns[c] = struct{}{}
	m.wg.Add(1)
	return true
}

func (m *Mux) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// handshake completes the TLS handshake and reads the PROXY header of one
// connection, then hands it to its protocol's sub-listener.
func (m *Mux) handshake(raw net.Conn) {
	defer m.wg.Done()
	defer func() { <-m.pending }()
	defer func() {
		if v := recover(); v != nil {
			m.log.Error("panic in internal handshake", "panic", v)
			raw.Close()
		}
	}()
	defer m.untrack(raw)
	remote := raw.RemoteAddr().String()
	refuse := func(reason string, err error) {
		m.log.Info("internal connection refused", "remote", remote, "reason", reason, "err", err)
		raw.Close()
	}

	deadline := time.Now().Add(m.opts.HandshakeTimeout)
	raw.SetDeadline(deadline)
	tc := tls.Server(raw, m.cfg)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		refuse("handshake", err)
		return
	}
	state := tc.ConnectionState()
	proto := state.NegotiatedProtocol
	sl := m.subs[proto]
	if sl == nil || !sl.isUsed() {
		refuse("no protocol served: "+proto, nil)
		return
	}
	var out net.Conn = tc
	if needsProxyHeader(proto) {
		src, _, err := readProxyHeader(tc)
		if err != nil {
			refuse("PROXY header", err)
			return
		}
		var addr net.Addr = tc.RemoteAddr()
		if src != nil {
			addr = src
		}
		out = &proxyConn{Conn: tc, remote: addr}
	}
	raw.SetDeadline(time.Time{})
	m.log.Debug("internal connection", "remote", remote, "peer", PeerName(&state), "proto", proto)
	select {
	case sl.ch <- out:
	case <-sl.closed:
		raw.Close()
	case <-m.done:
		raw.Close()
	}
}

// subListener is the net.Listener of one protocol of a Mux.
type subListener struct {
	m      *Mux
	proto  string
	ch     chan net.Conn
	closed chan struct{}

	mu   sync.Mutex
	used bool
	shut bool
}

var _ net.Listener = (*subListener)(nil)

func (l *subListener) isUsed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.used && !l.shut
}

// Accept returns the next connection of the protocol, or net.ErrClosed
// once the sub-listener or the Mux is closed.
func (l *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
	case <-l.m.done:
	}
	return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
}

// Close closes this sub-listener only; further connections of its
// protocol are refused.
func (l *subListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.shut {
		l.shut = true
		close(l.closed)
	}
	return nil
}

func (l *subListener) Addr() net.Addr { return l.m.ln.Addr() }
