package imapserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/testenv"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/store/sqlite"
)

const (
	alice    = "alice@example.org"
	bob      = "bob@example.org"
	password = "correct horse battery"
)

// testEnv is a whole stack in a temporary directory: SQLite store, file
// blobs, postbox and this server, listening on loopback with implicit TLS
// (tlsAddr) and in the clear with STARTTLS (plainAddr).
type testEnv struct {
	t         testing.TB
	dir       string
	opts      Options
	store     *sqlite.Store
	blobs     *pack.Store
	svc       *postbox.Service
	srv       *Server
	tlsAddr   string
	plainAddr string
	clientTLS *tls.Config
	serverTLS *tls.Config
	serving   sync.WaitGroup
}

// testCert returns the tests' self-signed certificate for 127.0.0.1.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) { return testenv.TestCert() }

func newEnv(t testing.TB) *testEnv {
	return newEnvOpts(t, Options{})
}

func newEnvOpts(t testing.TB, opts Options) *testEnv {
	t.Helper()
	cert, pool := testCert(t)
	e := &testEnv{
		t:         t,
		dir:       t.TempDir(),
		opts:      opts,
		serverTLS: &tls.Config{Certificates: []tls.Certificate{cert}},
		clientTLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
	}
	e.start()
	ctx := context.Background()
	if err := e.svc.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{alice, bob} {
		if _, err := e.svc.CreateAccount(ctx, a, password); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.stop)
	return e
}

// start opens the stack over e.dir and starts serving.
func (e *testEnv) start() {
	t := e.t
	t.Helper()
	var err error
	if e.store, err = sqlite.Open(filepath.Join(e.dir, "meta.db")); err != nil {
		t.Fatal(err)
	}
	if e.blobs, err = pack.Open(filepath.Join(e.dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	e.svc = postbox.New(e.store, e.blobs, postbox.Options{Params: pwhash.TestParams})
	opts := e.opts
	opts.TLSConfig = e.serverTLS
	e.srv = New(e.svc, opts)

	tl, err := tls.Listen("tcp", "127.0.0.1:0", e.serverTLS)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.tlsAddr, e.plainAddr = tl.Addr().String(), pl.Addr().String()
	for _, ln := range []net.Listener{tl, pl} {
		e.serving.Add(1)
		go func() {
			defer e.serving.Done()
			if err := e.srv.Serve(ln); err != nil {
				t.Errorf("Serve: %v", err)
			}
		}()
	}
}

// stop closes the server and the stack; start may be called again.
func (e *testEnv) stop() {
	if e.srv == nil {
		return
	}
	e.srv.Close()
	e.serving.Wait()
	e.svc.Close()
	e.store.Close()
	e.blobs.Close()
	e.srv = nil
}

// restart closes everything and reopens it over the same files.
func (e *testEnv) restart() {
	e.stop()
	e.start()
}

func (e *testEnv) deliver(raw string, rcpts ...string) {
	e.t.Helper()
	if len(rcpts) == 0 {
		rcpts = []string{alice}
	}
	err := e.svc.Deliver(context.Background(), postbox.Envelope{From: "sender@remote.example", Recipients: rcpts}, postbox.Bytes(raw))
	if err != nil {
		e.t.Fatalf("Deliver: %v", err)
	}
}

// client dials with implicit TLS and logs in as user.
func (e *testEnv) client(user string, opts *imapclient.Options) *imapclient.Client {
	e.t.Helper()
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.TLSConfig = e.clientTLS
	c, err := imapclient.DialTLS(e.tlsAddr, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Login(user, password).Wait(); err != nil {
		e.t.Fatalf("Login: %v", err)
	}
	return c
}

// rawConn is a line-level IMAP client for checking exact responses.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	tag  int
}

func (e *testEnv) rawTLS() *rawConn {
	e.t.Helper()
	conn, err := tls.Dial("tcp", e.tlsAddr, e.clientTLS)
	if err != nil {
		e.t.Fatal(err)
	}
	return newRawConn(e.t, conn)
}

func (e *testEnv) rawPlain() *rawConn {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.plainAddr)
	if err != nil {
		e.t.Fatal(err)
	}
	return newRawConn(e.t, conn)
}

func newRawConn(t testing.TB, conn net.Conn) *rawConn {
	t.Cleanup(func() { conn.Close() })
	r := &rawConn{t: t, conn: conn, br: bufio.NewReader(conn)}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if line := r.line(); !strings.HasPrefix(line, "* OK") {
		t.Fatalf("greeting: %q", line)
	}
	return r
}

var literalRE = regexp.MustCompile(`~?\{(\d+)\+?\}\r\n$`)

// line reads one response line, with any literals it carries inlined.
func (r *rawConn) line() string {
	r.t.Helper()
	l, err := readResponse(r.br)
	if err != nil {
		r.t.Fatal(err)
	}
	return l
}

// readResponse reads one response line, with any literals it carries
// inlined; unlike rawConn's methods, it may be called from any goroutine.
func readResponse(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("read: %v (after %q)", err, b.String()+l)
		}
		b.WriteString(l)
		m := literalRE.FindStringSubmatch(l)
		if m == nil {
			return b.String(), nil
		}
		n, _ := strconv.Atoi(m[1])
		lit := make([]byte, n)
		if _, err := io.ReadFull(br, lit); err != nil {
			return "", fmt.Errorf("read literal: %v", err)
		}
		b.Write(lit)
	}
}

// cmd sends a command and returns the untagged lines and the tagged one.
func (r *rawConn) cmd(format string, args ...any) ([]string, string) {
	r.t.Helper()
	r.tag++
	tag := fmt.Sprintf("T%d", r.tag)
	if _, err := fmt.Fprintf(r.conn, tag+" "+format+"\r\n", args...); err != nil {
		r.t.Fatal(err)
	}
	return r.until(tag)
}

func (r *rawConn) until(tag string) ([]string, string) {
	r.t.Helper()
	var untagged []string
	for {
		l := r.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, l
		}
		untagged = append(untagged, l)
	}
}

// ok runs a command that must succeed.
func (r *rawConn) ok(format string, args ...any) []string {
	r.t.Helper()
	u, tagged := r.cmd(format, args...)
	if !strings.Contains(tagged, " OK") {
		r.t.Fatalf("%s: %q (untagged %q)", fmt.Sprintf(format, args...), tagged, u)
	}
	return u
}

func (r *rawConn) login(user string) {
	r.t.Helper()
	r.ok("LOGIN %s %q", user, password)
}

// literalOf returns the literal that follows item in a response line.
func literalOf(t testing.TB, line, item string) []byte {
	t.Helper()
	i := strings.Index(line, item+" ")
	if i < 0 {
		t.Fatalf("no %s in %q", item, line)
	}
	rest := line[i+len(item)+1:]
	m := regexp.MustCompile(`^~?\{(\d+)\}\r\n`).FindStringSubmatch(rest)
	if m == nil {
		t.Fatalf("no literal after %s in %q", item, line)
	}
	n, _ := strconv.Atoi(m[1])
	return []byte(rest[len(m[0]) : len(m[0])+n])
}

func mustEqualBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}
