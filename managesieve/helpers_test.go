package managesieve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mlog"
)

// The test accounts and their passwords.
const (
	alice     = "alice@example.test"
	alicePass = "correct horse battery staple"
	throttled = "throttled@example.test" // Login fails errors.Unavailable
	broken    = "broken@example.test"    // Login fails errors.Internal
)

// memBackend is a Backend over accounts in memory; each login opens a
// memAccount over the user's one memScripts.
type memBackend struct {
	mu      sync.Mutex
	users   map[string]*memScripts
	opened  int // accounts opened
	closed  int // accounts closed
	clients []sealpost.Client
}

func newBackend() *memBackend {
	return &memBackend{users: map[string]*memScripts{alice: {scripts: map[string][]byte{}}}}
}

func (b *memBackend) Login(ctx context.Context, addr, password string) (Account, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clients = append(b.clients, sealpost.ClientFrom(ctx))
	switch addr {
	case throttled:
		return nil, errors.E("authguard.Check", errors.Unavailable, errors.Str("too many attempts waiting"))
	case broken:
		return nil, errors.E("postbox.Login", errors.Internal, errors.Str("key unwrap failed: secret detail"))
	}
	u := b.users[addr]
	if u == nil || password != alicePass {
		return nil, errors.E("postbox.Login", errors.Permission)
	}
	b.opened++
	return &memAccount{b: b, s: u}, nil
}

func (b *memBackend) lastClient() sealpost.Client {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.clients) == 0 {
		return sealpost.Client{}
	}
	return b.clients[len(b.clients)-1]
}

func (b *memBackend) counts() (opened, closed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opened, b.closed
}

// memScripts is one user's scripts.
type memScripts struct {
	mu      sync.Mutex
	scripts map[string][]byte
	active  string
}

// memAccount implements Account with the rules the Account contract sets;
// its "compiler" refuses a script with the word "bogus" in it, naming the
// line and column as a real compile error does.
type memAccount struct {
	b      *memBackend
	s      *memScripts
	closed bool
}

var _ Account = (*memAccount)(nil)

func compile(src []byte) error {
	for i, line := range strings.Split(string(src), "\n") {
		if col := strings.Index(line, "bogus"); col >= 0 {
			return errors.E("sieve.Compile", errors.Invalid, errors.Errorf("line %d:%d: unknown command \"bogus\"", i+1, col+1))
		}
		if strings.Contains(line, "internal-failure") {
			return errors.E("sieve.Compile", errors.Internal, errors.Str("disk on fire at /var/secret"))
		}
	}
	return nil
}

func (a *memAccount) Scripts(ctx context.Context) ([]Script, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	var out []Script
	for name := range a.s.scripts {
		out = append(out, Script{Name: name, Active: name == a.s.active})
	}
	slices.SortFunc(out, func(x, y Script) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

func (a *memAccount) GetScript(ctx context.Context, name string) ([]byte, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	src, ok := a.s.scripts[name]
	if !ok {
		return nil, errors.E("mem.GetScript", errors.NotExist)
	}
	return src, nil
}

func (a *memAccount) PutScript(ctx context.Context, name string, src []byte) error {
	if err := compile(src); err != nil {
		return err
	}
	if len(src) > 10_000 {
		return errors.E("mem.PutScript", errors.OverQuota)
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.scripts[name] = bytes.Clone(src)
	return nil
}

func (a *memAccount) CheckScript(ctx context.Context, src []byte) error { return compile(src) }

func (a *memAccount) DeleteScript(ctx context.Context, name string) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if _, ok := a.s.scripts[name]; !ok {
		return errors.E("mem.DeleteScript", errors.NotExist)
	}
	if name == a.s.active {
		return errors.E("mem.DeleteScript", errors.Permission)
	}
	delete(a.s.scripts, name)
	return nil
}

func (a *memAccount) RenameScript(ctx context.Context, oldName, newName string) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	src, ok := a.s.scripts[oldName]
	if !ok {
		return errors.E("mem.RenameScript", errors.NotExist)
	}
	if _, taken := a.s.scripts[newName]; taken {
		return errors.E("mem.RenameScript", errors.Exist)
	}
	delete(a.s.scripts, oldName)
	a.s.scripts[newName] = src
	if a.s.active == oldName {
		a.s.active = newName
	}
	return nil
}

func (a *memAccount) SetActive(ctx context.Context, name string) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if _, ok := a.s.scripts[name]; name != "" && !ok {
		return errors.E("mem.SetActive", errors.NotExist)
	}
	a.s.active = name
	return nil
}

func (a *memAccount) HaveSpace(ctx context.Context, name string, size int64) error {
	if size > 10_000 {
		return errors.E("mem.HaveSpace", errors.TooLarge)
	}
	return nil
}

func (a *memAccount) Close() {
	if a.closed {
		panic("account closed twice")
	}
	a.closed = true
	a.b.mu.Lock()
	a.b.closed++
	a.b.mu.Unlock()
}

// testServer is a Server on loopback over a memBackend, logging at debug
// level into log.
type testServer struct {
	*Server
	be   *memBackend
	addr string
	log  *testkit.Buffer
}

// tlsConfig is the server side of the test certificate.
func tlsConfig() *tls.Config {
	cert, _ := testenv.TestCert()
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// start serves opts on loopback; the test's end closes the server and
// checks that every account opened was closed and nothing panicked.
func start(t *testing.T, opts Options) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{be: newBackend(), addr: ln.Addr().String(), log: &testkit.Buffer{}}
	if opts.Log == nil {
		opts.Log = mlog.New(ts.log, slog.LevelDebug, false)
	}
	if opts.Extensions == nil {
		opts.Extensions = []string{"fileinto", "envelope", "vacation"}
	}
	ts.Server = New(ts.be, opts)
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ln) }()
	t.Cleanup(func() {
		if err := ts.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if o, c := ts.be.counts(); o != c {
			t.Errorf("%d accounts opened, %d closed", o, c)
		}
		if n := ts.panics.Load(); n != 0 {
			t.Errorf("%d panics recovered:\n%s", n, ts.log)
		}
		if strings.Contains(ts.log.String(), alicePass) {
			t.Errorf("the password reached the log:\n%s", ts.log)
		}
	})
	return ts
}

// client is a raw ManageSieve client: lines out, lines in.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (ts *testServer) dial(t *testing.T) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// line reads one line without its CRLF.
func (c *client) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (after %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// expect reads len(want) lines and compares them exactly.
func (c *client) expect(want ...string) {
	c.t.Helper()
	var got []string
	for range want {
		got = append(got, c.line())
	}
	if !slices.Equal(got, want) {
		c.t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// cmd sends a command line and expects the reply lines.
func (c *client) cmd(line string, want ...string) {
	c.t.Helper()
	c.send(line + "\r\n")
	c.expect(want...)
}

// eof expects the server to have closed the connection.
func (c *client) eof() {
	c.t.Helper()
	if l, err := c.r.ReadString('\n'); err == nil {
		c.t.Fatalf("read %q, want the connection closed", l)
	}
}

// skipGreeting reads the capabilities up to the greeting's OK.
func (c *client) skipGreeting() {
	c.t.Helper()
	for !strings.HasPrefix(c.line(), "OK") {
	}
}

// starttls upgrades the connection and reads the capabilities sent again
// after the handshake (RFC 5804 2.2), returning them.
func (c *client) starttls() []string {
	c.t.Helper()
	c.cmd("STARTTLS", `OK "Begin TLS negotiation"`)
	_, pool := testenv.TestCert()
	tc := tls.Client(c.conn, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	var caps []string
	for l := c.line(); !strings.HasPrefix(l, "OK"); l = c.line() {
		caps = append(caps, l)
	}
	return caps
}

// plain is AUTHENTICATE PLAIN's initial response (RFC 4616).
func plain(authzid, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authzid + "\x00" + user + "\x00" + pass))
}

// login authenticates as alice with an initial response.
func (c *client) login() {
	c.t.Helper()
	c.cmd(fmt.Sprintf(`AUTHENTICATE "PLAIN" "%s"`, plain("", alice, alicePass)), `OK "Authenticated"`)
}
