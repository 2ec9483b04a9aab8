package frontdoor

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/cluster"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/imapserver"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/smtpserver"
	"github.com/sealpost/sealpost/store/sqlite"
)

const (
	domain   = "demo.example"
	alice    = "alice@demo.example" // homed in ie
	bob      = "bob@demo.example"   // homed in us
	dave     = "dave@demo.example"  // homed in eu, a region with no node
	password = "correct horse battery"
)

// homes is the deployment's directory for the tests.
var homes = map[string]sealpost.RegionID{alice: "ie", bob: "us", dave: "eu"}

// region is one regional node in-process: its own store and blobs, postbox,
// IMAP and submission servers, served on a cluster.Mux with mTLS.
type region struct {
	id    sealpost.RegionID
	store *sqlite.Store
	blobs *pack.Store
	svc   *postbox.Service
	imap  *imapserver.Server
	smtp  *smtpserver.Server
	mux   *cluster.Mux
	addr  string
	log   *testkit.Buffer // the region's log, at debug level
	wg    sync.WaitGroup
}

// env is a deployment in a temporary folder: a CA, regions "ie" and "us"
// and a front door, every listener on loopback.
type env struct {
	t       testing.TB
	caDir   string
	regions map[sealpost.RegionID]*region
	fd      *Server
	fdWG    sync.WaitGroup

	// The front door's listeners: IMAP with STARTTLS and implicit TLS,
	// submission with STARTTLS and implicit TLS, ManageSieve.
	imap, imaps, sub, subs, sieve string
	clientTLS                     *tls.Config // trusts the front door's public certificate
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, caDir: filepath.Join(t.TempDir(), "ca"), regions: map[sealpost.RegionID]*region{}}
	if err := cluster.NewCA(e.caDir); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"frontdoor", "region-ie", "region-us"} {
		if _, _, err := cluster.IssueNode(e.caDir, n, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	e.startRegion("ie", alice)
	e.startRegion("us", bob)
	e.startFrontDoor(Options{Dial: e.dialer("frontdoor")})
	return e
}

func (e *env) nodeFiles(name string) (string, string, string) {
	return filepath.Join(e.caDir, cluster.CACertFile), filepath.Join(e.caDir, name+".crt"), filepath.Join(e.caDir, name+".key")
}

func (e *env) startRegion(id sealpost.RegionID, accounts ...string) {
	t := e.t
	t.Helper()
	dir := t.TempDir()
	r := &region{id: id, log: &testkit.Buffer{}}
	var err error
	if r.store, err = sqlite.Open(filepath.Join(dir, "meta.db")); err != nil {
		t.Fatal(err)
	}
	if r.blobs, err = pack.Open(filepath.Join(dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	logger := mlog.New(r.log, slog.LevelDebug, false)
	r.svc = postbox.New(r.store, r.blobs, postbox.Options{Params: pwhash.TestParams, MaxMessageSize: 4 << 20, Logger: logger})
	ctx := context.Background()
	if err := r.svc.AddDomain(ctx, domain); err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if _, err := r.svc.CreateAccount(ctx, a, password); err != nil {
			t.Fatal(err)
		}
	}
	r.imap = imapserver.New(r.svc, imapserver.Options{InsecureAuth: true, Logger: logger})
	r.smtp = smtpserver.New(r.svc, smtpserver.Options{Mode: smtpserver.Submission, InsecureAuth: true,
		Hostname: "region-" + string(id) + ".internal", Logger: logger})

	ca, crt, key := e.nodeFiles("region-" + string(id))
	cfg, err := cluster.LoadServerTLS(ca, crt, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	if r.mux, err = cluster.NewMux(ln, cfg, cluster.MuxOptions{Logger: logger}); err != nil {
		t.Fatal(err)
	}
	// As server.startInternal wires it: IMAP writes coalesced into full records.
	imapLn, smtpLn := cluster.Coalesce(r.mux.Listener(cluster.ProtoIMAP)), r.mux.Listener(cluster.ProtoSubmission)
	r.wg.Add(3)
	go func() { defer r.wg.Done(); r.mux.Serve() }()
	go func() { defer r.wg.Done(); r.imap.Serve(imapLn) }()
	go func() { defer r.wg.Done(); r.smtp.Serve(smtpLn) }()
	t.Cleanup(func() {
		// The Mux first, so that the servers' Serve return before their
		// Close: go-imap's Close waits on a WaitGroup that Serve adds to
		// without synchronization, which the race detector reports.
		r.mux.Close()
		r.wg.Wait()
		r.imap.Close()
		r.smtp.Close()
		r.svc.Close()
		r.store.Close()
		r.blobs.Close()
	})
	e.regions[id] = r
}

// dialer returns an Options.Dial that reaches the regions with the named
// node's certificate.
func (e *env) dialer(node string) func(context.Context, sealpost.RegionID, string) (net.Conn, error) {
	return func(ctx context.Context, id sealpost.RegionID, proto string) (net.Conn, error) {
		r := e.regions[id]
		if r == nil {
			return nil, errors.E("test.Dial", errors.Unavailable, errors.Errorf("no node for region %s", id))
		}
		ca, crt, key := e.nodeFiles(node)
		cfg, err := cluster.LoadClientTLS(ca, crt, key, "region-"+string(id))
		if err != nil {
			return nil, err
		}
		return cluster.Dial(ctx, r.addr, proto, cfg)
	}
}

func locate(_ context.Context, addr string) (sealpost.RegionID, error) {
	if r, ok := homes[addr]; ok {
		return r, nil
	}
	return "", errors.E("test.Locate", errors.NotExist)
}

// startFrontDoor starts a front door with opts (Locate, TLS and host name
// filled in) on five loopback listeners, and makes it e's.
func (e *env) startFrontDoor(opts Options) {
	t := e.t
	t.Helper()
	cert, pool := testenv.TestCert()
	if opts.Hostname == "" {
		opts.Hostname = "mail.demo.example"
	}
	if opts.Locate == nil {
		opts.Locate = locate
	}
	opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	if opts.AuthFailureDelay == 0 {
		opts.AuthFailureDelay = time.Millisecond
	}
	e.clientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	fd := New(opts)
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	lns := []net.Listener{listen(), listen(), listen(), listen(), listen()}
	e.imap, e.imaps, e.sub, e.subs = lns[0].Addr().String(), lns[1].Addr().String(), lns[2].Addr().String(), lns[3].Addr().String()
	e.sieve = lns[4].Addr().String()
	var wg sync.WaitGroup
	for i, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch {
			case i < 2:
				err = fd.ServeIMAP(ln, i == 1)
			case i < 4:
				err = fd.ServeSubmission(ln, i == 3)
			default:
				err = fd.ServeManageSieve(ln)
			}
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		}()
	}
	t.Cleanup(func() {
		fd.Close()
		wg.Wait()
		if n := fd.panics.Load(); n != 0 {
			t.Errorf("%d panics recovered", n)
		}
	})
	e.fd = fd
}

// count returns how many messages addr's mailbox holds in region id's
// store, or -1 if the region has no such account.
func (e *env) count(id sealpost.RegionID, addr string, use sealpost.SpecialUse) int {
	e.t.Helper()
	r := e.regions[id]
	ctx := context.Background()
	acct, err := r.store.Account(ctx, addr)
	if errors.Is(errors.NotExist, err) {
		return -1
	}
	if err != nil {
		e.t.Fatal(err)
	}
	mb, err := r.store.MailboxByUse(ctx, acct.ID, use)
	if err != nil {
		e.t.Fatal(err)
	}
	msgs, err := r.store.Messages(ctx, mb.ID, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(msgs)
}

// bodies returns the plaintext of the messages in addr's INBOX in region
// id, read through an owner's session.
func (e *env) bodies(id sealpost.RegionID, addr string) []string {
	e.t.Helper()
	ctx := context.Background()
	sess, err := e.regions[id].svc.Login(ctx, addr, password)
	if err != nil {
		e.t.Fatal(err)
	}
	defer sess.Close()
	m, err := sess.Select(ctx, "INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	defer sess.Release(m)
	var msgs []sealpost.Message
	m.Read(func(_ sealpost.Mailbox, ms []sealpost.Message) { msgs = append(msgs, ms...) })
	var out []string
	for _, msg := range msgs {
		b, err := sess.Body(ctx, msg)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// rawIMAP is a line-level IMAP client, for exact responses.
type rawIMAP struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	n    int
}

func (e *env) dialIMAP(implicit bool) *rawIMAP {
	e.t.Helper()
	var c net.Conn
	var err error
	if implicit {
		c, err = tls.Dial("tcp", e.imaps, e.clientTLS)
	} else {
		c, err = net.Dial("tcp", e.imap)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	r := &rawIMAP{t: e.t, conn: c, br: bufio.NewReader(c)}
	e.t.Cleanup(func() { r.conn.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard, not an assertion
	if g := r.line(); !strings.HasPrefix(g, "* OK [CAPABILITY ") {
		e.t.Fatalf("greeting %q", g)
	}
	return r
}

var literalRE = regexp.MustCompile(`\{(\d+)\}\r\n$`)

// line reads a response line with its literals inlined.
func (r *rawIMAP) line() string {
	r.t.Helper()
	var b strings.Builder
	for {
		l, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("read: %v (after %q)", err, b.String()+l)
		}
		b.WriteString(l)
		m := literalRE.FindStringSubmatch(l)
		if m == nil {
			return b.String()
		}
		n, _ := strconv.Atoi(m[1])
		lit := make([]byte, n)
		if _, err := io.ReadFull(r.br, lit); err != nil {
			r.t.Fatalf("read literal: %v", err)
		}
		b.Write(lit)
	}
}

func (r *rawIMAP) send(s string) {
	r.t.Helper()
	if _, err := r.conn.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// cmd sends a tagged command and returns the untagged lines and the
// tagged one.
func (r *rawIMAP) cmd(format string, args ...any) ([]string, string) {
	r.t.Helper()
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	r.send(tag + " " + fmt.Sprintf(format, args...) + "\r\n")
	return r.until(tag)
}

func (r *rawIMAP) until(tag string) ([]string, string) {
	r.t.Helper()
	var untagged []string
	for {
		l := r.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(strings.TrimRight(l, "\r\n"), tag+" ")
		}
		untagged = append(untagged, l)
	}
}

// expect runs a command and checks the start of its tagged status.
func (r *rawIMAP) expect(prefix, format string, args ...any) []string {
	r.t.Helper()
	u, status := r.cmd(format, args...)
	if !strings.HasPrefix(status, prefix) {
		r.t.Fatalf("%s: got %q (untagged %q), want %s", fmt.Sprintf(format, args...), status, u, prefix)
	}
	return u
}

func (r *rawIMAP) startTLS(cfg *tls.Config) {
	r.t.Helper()
	r.expect("OK", "STARTTLS")
	tc := tls.Client(r.conn, cfg)
	if err := tc.Handshake(); err != nil {
		r.t.Fatal(err)
	}
	r.conn, r.br = tc, bufio.NewReader(tc)
}

// closed checks that the server closed the connection after what it
// said last.
func (r *rawIMAP) closed() {
	r.t.Helper()
	rest, _ := io.ReadAll(r.br)
	if len(rest) != 0 {
		r.t.Errorf("data after the end: %q", rest)
	}
}
