package outbound

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/resolver"
	"github.com/sealpost/sealpost/seal"
	"github.com/sealpost/sealpost/store/sqlite"
)

// peer is another mail server on a loopback address: emersion/go-smtp's
// server, the same library Sealpost's listeners use. A recipient's local
// part says how it answers: "perm..." gets 550 5.1.1, "temp..." 451 4.2.0,
// anything else is accepted; a sender "slow..." has its DATA answered
// after a tenth of a second.
type peer struct {
	t    testing.TB
	addr string

	mu    sync.Mutex
	got   []received
	conns atomic.Int64
	live  atomic.Int64 // connections open now
	most  atomic.Int64 // the most open at once
	tls   atomic.Int64 // sessions that ran STARTTLS

	requireAuth bool
	auths       []string
}

type received struct {
	from  string
	rcpts []string
	data  []byte
	tls   bool
}

type peerOptions struct {
	port     int         // 0: any free port
	tls      *tls.Config // offer STARTTLS (or, with implicit, TLS from the first byte)
	implicit bool
	auth     bool // require AUTH PLAIN as relay-user / relay-pass
	badTLS   bool // offer STARTTLS, then fail every handshake
}

func newPeer(t testing.TB, ip string, o peerOptions) *peer {
	t.Helper()
	p := &peer{t: t, requireAuth: o.auth}
	srv := smtp.NewServer(peerBackend{p})
	srv.Domain = "peer.example.test"
	srv.EnableSMTPUTF8 = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0) // connections the tests cut on purpose
	switch {
	case o.badTLS:
		srv.TLSConfig = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return nil, errors.New("no certificate today")
		}}
	case o.tls != nil && !o.implicit:
		srv.TLSConfig = o.tls
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(o.port))
	var ln net.Listener
	var err error
	if o.implicit {
		ln, err = tls.Listen("tcp", addr, o.tls)
	} else {
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	go srv.Serve(counting{ln, p})
	t.Cleanup(func() { srv.Close() })
	return p
}

// port is the peer's port.
func (p *peer) port() int {
	_, port, _ := net.SplitHostPort(p.addr)
	n, _ := strconv.Atoi(port)
	return n
}

// counting counts connections as they are accepted and closed.
type counting struct {
	net.Listener
	p *peer
}

func (l counting) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.p.conns.Add(1)
	n := l.p.live.Add(1)
	for {
		m := l.p.most.Load()
		if n <= m || l.p.most.CompareAndSwap(m, n) {
			break
		}
	}
	return &closeCounted{Conn: c, p: l.p}, nil
}

type closeCounted struct {
	net.Conn
	p    *peer
	once sync.Once
}

func (c *closeCounted) Close() error {
	c.once.Do(func() { c.p.live.Add(-1) })
	return c.Conn.Close()
}

func (p *peer) messages() []received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]received(nil), p.got...)
}

type peerBackend struct{ p *peer }

func (b peerBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	if isTLS {
		b.p.tls.Add(1)
	}
	return &peerSession{p: b.p, tls: isTLS}, nil
}

type peerSession struct {
	p      *peer
	tls    bool
	authed bool
	from   string
	rcpts  []string
}

func (s *peerSession) AuthMechanisms() []string {
	if !s.p.requireAuth {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *peerSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "relay-user" || pass != "relay-pass" {
			return errors.New("bad credentials")
		}
		s.authed = true
		s.p.mu.Lock()
		s.p.auths = append(s.p.auths, user)
		s.p.mu.Unlock()
		return nil
	}), nil
}

func (s *peerSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.p.requireAuth && !s.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	s.from = from
	return nil
}

func (s *peerSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	local, _, _ := strings.Cut(to, "@")
	switch {
	case strings.HasPrefix(local, "perm"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	case strings.HasPrefix(local, "temp"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Mailbox busy, try later"}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *peerSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if strings.HasPrefix(s.from, "slow") {
		time.Sleep(100 * time.Millisecond)
	}
	s.p.mu.Lock()
	s.p.got = append(s.p.got, received{from: s.from, rcpts: s.rcpts, data: data, tls: s.tls})
	s.p.mu.Unlock()
	return nil
}

func (s *peerSession) Reset()        { s.from, s.rcpts = "", nil }
func (s *peerSession) Logout() error { return nil }

// env is a region's queue with a delivery service over it, a real DNS
// server, and the notices it filed.
type env struct {
	t      testing.TB
	store  *sqlite.Store
	blobs  *pack.Store
	key    *seal.Recipient
	dns    *testenv.DNS
	clock  *testkit.Clock
	svc    *Service
	mu     sync.Mutex
	notice []notice
}

type notice struct {
	to  string
	msg []byte
}

func newEnv(t testing.TB, o Options, records ...string) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(dir + "/meta.db")
	testkit.Must(t, err)
	t.Cleanup(func() { st.Close() })
	blobs, err := pack.Open(dir + "/blobs") // the default deployment's blob store
	testkit.Must(t, err)
	t.Cleanup(func() { blobs.Close() })
	_, secret, err := seal.NewPassword("queue key", pwhash.TestParams)
	testkit.Must(t, err)
	gen, err := seal.Generate("queue@sealpost.invalid", secret, pwhash.TestParams, nil)
	testkit.Must(t, err)
	unlocked, err := secret.Unwrap(gen.WrappedByPassword)
	testkit.Must(t, err)
	key, err := seal.ParseRecipient(gen.PublicKey)
	testkit.Must(t, err)
	e := &env{t: t, store: st, blobs: blobs, key: key, dns: testenv.NewDNS(t, records...), clock: testkit.NewClock(time.Now())}
	r, err := resolver.New(resolver.Options{Servers: []string{e.dns.Addr}, Timeout: 2 * time.Second, Now: e.clock.Now})
	testkit.Must(t, err)
	o.Hostname = "sealpost.example.test"
	o.Queue, o.Blobs, o.Resolver, o.Now = st, blobs, r, e.clock.Now
	o.Open = func(sealed []byte) ([]byte, error) {
		plain, _, err := unlocked.Open(sealed, nil)
		return plain, err
	}
	o.Notify = func(_ context.Context, to string, msg []byte) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.notice = append(e.notice, notice{to, msg})
		return nil
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = 10 * time.Second
	}
	e.svc, err = New(o)
	testkit.Must(t, err)
	return e
}

// enqueue seals msg to the queue key and queues it for rcpts.
func (e *env) enqueue(from string, rcpts []string, msg string) sealpost.QueuedMessage {
	e.t.Helper()
	var sealed bytes.Buffer
	testkit.Must(e.t, e.key.Seal(&sealed, []byte(msg)))
	ref, err := e.blobs.Put(context.Background(), sealed.Bytes())
	testkit.Must(e.t, err)
	m := sealpost.QueuedMessage{From: from, Recipients: rcpts, Blob: ref, Size: int64(len(msg)), Queued: e.clock.Now(), NextTry: e.clock.Now()}
	ids, err := e.store.Enqueue(context.Background(), []sealpost.QueuedMessage{m})
	testkit.Must(e.t, err)
	m.ID = ids[0]
	return m
}

// run delivers whatever is due, once, and waits for it.
func (e *env) run() {
	e.t.Helper()
	var wg sync.WaitGroup
	e.svc.cycle(context.Background(), &wg, true)
	wg.Wait()
}

func (e *env) queue() []sealpost.QueuedMessage {
	e.t.Helper()
	q, err := e.store.Queue(context.Background())
	testkit.Must(e.t, err)
	return q
}

func (e *env) notices() []notice {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]notice(nil), e.notice...)
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
