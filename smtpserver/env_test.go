package smtpserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/mailauth"
	"github.com/sealpost/sealpost/resolver"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/seal"
	"github.com/sealpost/sealpost/store/sqlite"
)

const (
	domain   = "example.test"
	alice    = "alice@example.test"
	bob      = "bob@example.test"
	password = "correct horse battery"
)

// env is a real Sealpost stack in a temporary directory, with a real DNS
// server for the MX's checks (package mailauth).
type env struct {
	t     testing.TB
	store *sqlite.Store
	blobs *pack.Store
	svc   *postbox.Service
	queue *seal.Generated // the queue key, to open queued blobs
	dns   *testenv.DNS
	// checker authenticates MX mail in servers from serve (unless the
	// Options name another); nil: no checks.
	checker *mailauth.Checker
}

// senderRecords are what the test senders' domains publish: carol's
// elsewhere.example authorizes loopback with SPF and asks for DMARC
// p=reject, so its mail passes aligned; quarantine.example authorizes
// no one and asks for p=quarantine; bücher.example (for SMTPUTF8)
// publishes nothing.
var senderRecords = []string{
	`elsewhere.example. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`,
	`_dmarc.elsewhere.example. 300 IN TXT "v=DMARC1; p=reject"`,
	`quarantine.example. 300 IN TXT "v=spf1 -all"`,
	`_dmarc.quarantine.example. 300 IN TXT "v=DMARC1; p=quarantine"`,
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := pack.Open(filepath.Join(dir, "blobs")) // the default deployment store
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := seal.NewPassword("queue key password", pwhash.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := seal.Generate("queue@sealpost.invalid", secret, pwhash.TestParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	qk, err := seal.ParseRecipient(gen.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	svc := postbox.New(store, blobs, postbox.Options{Params: pwhash.TestParams, QueueKey: qk, MaxMessageSize: 1 << 20})
	t.Cleanup(func() {
		svc.Close()
		store.Close()
		blobs.Close()
	})
	ctx := context.Background()
	if err := svc.AddDomain(ctx, domain); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{alice, bob} {
		if _, err := svc.CreateAccount(ctx, a, password); err != nil {
			t.Fatal(err)
		}
	}
	d := testenv.NewDNS(t, senderRecords...)
	r, err := resolver.New(resolver.Options{Servers: []string{d.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checker, err := mailauth.New(mailauth.Options{Hostname: "mx.example.test", Resolver: r, Hosted: svc.IsHostedDomain})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: store, blobs: blobs, svc: svc, queue: gen, dns: d, checker: checker}
}

// saveSent turns the account's server copy of submitted mail on.
func (e *env) saveSent(addr string) {
	e.t.Helper()
	ctx := context.Background()
	a, err := e.store.Account(ctx, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.SetSettings(ctx, a.ID, sealpost.AccountSettings{SaveSent: true}); err != nil {
		e.t.Fatal(err)
	}
}

// serve starts a Server on 127.0.0.1:0 (TLS if tlsLn) and returns it with
// its address.
func (e *env) serve(opts Options, tlsLn *tls.Config) (*Server, string) {
	e.t.Helper()
	if opts.Hostname == "" {
		opts.Hostname = "mx.example.test"
	}
	if opts.Mode == MX && opts.Checker == nil && e.checker != nil {
		opts.Checker = e.checker
	}
	srv := New(e.svc, opts)
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	if tlsLn != nil {
		ln = tls.NewListener(ln, tlsLn)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	e.t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			e.t.Errorf("Serve: %v", err)
		}
		if n := srv.panics.Load(); n != 0 {
			e.t.Errorf("%d panics recovered", n)
		}
	})
	return srv, ln.Addr().String()
}

// bodies returns the plaintext of every message in an account's mailbox,
// read through an owner's session, and their flags.
func (e *env) bodies(addr, mailbox string) ([][]byte, [][]sealpost.Flag) {
	e.t.Helper()
	ctx := context.Background()
	sess, err := e.svc.Login(ctx, addr, password)
	if err != nil {
		e.t.Fatal(err)
	}
	defer sess.Close()
	m, err := sess.Select(ctx, mailbox)
	if err != nil {
		e.t.Fatal(err)
	}
	defer sess.Release(m)
	var msgs []sealpost.Message
	m.Read(func(_ sealpost.Mailbox, ms []sealpost.Message) { msgs = append(msgs, ms...) })
	var out [][]byte
	var flags [][]sealpost.Flag
	for _, msg := range msgs {
		b, err := sess.Body(ctx, msg)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, b)
		flags = append(flags, msg.Flags)
	}
	return out, flags
}

// count returns how many messages an account's mailbox holds, from the
// store.
func (e *env) count(addr string, use sealpost.SpecialUse) int {
	e.t.Helper()
	ctx := context.Background()
	acct, err := e.svc.LookupAccount(ctx, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	mb, err := e.store.MailboxByUse(ctx, acct.ID, use)
	if err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.store.Messages(ctx, mb.ID, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(msgs)
}

// splitReceived splits a stored message into the Received: header this
// package adds, which must be its first field or come right after the
// MX's Authentication-Results:, and the rest.
func splitReceived(t testing.TB, stored []byte) (string, []byte) {
	t.Helper()
	if bytes.HasPrefix(stored, []byte("Authentication-Results: ")) {
		_, stored = splitField(t, stored)
	}
	s := string(stored)
	if !strings.HasPrefix(s, "Received: ") {
		t.Fatalf("stored message does not start with Received:\n%q", s)
	}
	return splitField(t, stored)
}

// splitField splits a stored message into its first (folded) field and the
// rest.
func splitField(t testing.TB, stored []byte) (string, []byte) {
	t.Helper()
	s := string(stored)
	i := 0
	for {
		j := strings.Index(s[i:], "\r\n")
		if j < 0 {
			t.Fatalf("unterminated header field in %q", s)
		}
		i += j + 2
		if i >= len(s) || (s[i] != ' ' && s[i] != '\t') {
			return s[:i], stored[i:]
		}
	}
}

// rawConn speaks SMTP by hand, for what go-smtp's client would not send.
type rawConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	return dialFrom(t, addr, "")
}

// dialFrom is dialRaw from the local address local ("": the system's
// choice; any 127.0.0.0/8 address is the loopback interface's).
func dialFrom(t testing.TB, addr, local string) *rawConn {
	t.Helper()
	var d net.Dialer
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard, not an assertion
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	rc.expect(220)
	return rc
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := rc.c.Write([]byte(s)); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply.
func (rc *rawConn) reply() (int, string) {
	rc.t.Helper()
	var text []string
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			rc.t.Fatalf("read reply: %v (so far %q)", err, text)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 {
			rc.t.Fatalf("short reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			rc.t.Fatalf("bad reply line %q", line)
		}
		text = append(text, line[4:])
		if line[3] == ' ' {
			return code, strings.Join(text, "\n")
		}
	}
}

func (rc *rawConn) expect(code int) string {
	rc.t.Helper()
	got, text := rc.reply()
	if got != code {
		rc.t.Fatalf("got %d %s, want %d", got, text, code)
	}
	return text
}

// cmd sends a command line and checks the reply's code and, if given, the
// start of its text (the enhanced status code).
func (rc *rawConn) cmd(line string, code int, prefix string) string {
	rc.t.Helper()
	rc.send(line + "\r\n")
	got, text := rc.reply()
	if got != code || !strings.HasPrefix(text, prefix) {
		rc.t.Fatalf("%q: got %d %s, want %d %s", line, got, text, code, prefix)
	}
	return text
}

// selfSigned makes a TLS server config and a client config trusting it.
var selfSigned = sync.OnceValues(func() (*tls.Config, *tls.Config) {
	cert, pool := testenv.TestCert()
	srv := &tls.Config{Certificates: []tls.Certificate{cert}}
	cli := &tls.Config{RootCAs: pool, ServerName: "mx.example.test"}
	return srv, cli
})

// msg builds a CRLF message from lines.
func msg(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\n"
}

func fmtAddr(a string) string { return fmt.Sprintf("<%s>", a) }

// smtpDialRaw connects, reads the first reply line and disconnects.
func smtpDialRaw(addr string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// startTLS upgrades the connection (RFC 3207).
func (rc *rawConn) startTLS(cfg *tls.Config) {
	rc.t.Helper()
	rc.cmd("STARTTLS", 220, "")
	tc := tls.Client(rc.c, cfg)
	if err := tc.Handshake(); err != nil {
		rc.t.Fatal(err)
	}
	rc.c, rc.r = tc, bufio.NewReader(tc)
}
