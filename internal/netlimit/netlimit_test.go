package netlimit

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/testenv"
)

// serve accepts on l until it is closed, holding every connection open
// until the client closes it (reading to EOF), and promoting it when the
// client sends "auth\n".
func serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if line == "auth\n" {
					Promote(c)
					c.Write([]byte("ok\n"))
				}
			}
		}()
	}
}

func listen(t *testing.T, o Options) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(ln, o)
	t.Cleanup(func() { l.Close() })
	go serve(l)
	return l
}

// dialFrom connects to l from the loopback address src (127.0.0.x).
func dialFrom(t *testing.T, l net.Listener, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether the server closed c, after reading what it
// wrote first.
func refused(t *testing.T, c net.Conn) (bool, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		return false, string(b) // timed out: still open
	}
	return true, string(b)
}

// open reports whether c is still open: a probe line gets no EOF within
// a moment.
func open(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.Write([]byte("ping\n"))
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestPerSource(t *testing.T) {
	l := listen(t, Options{Name: "smtp", PerSource: 3, Refusal: []byte("421 4.7.0 Too many connections\r\n")})
	var cs []net.Conn
	for range 3 {
		cs = append(cs, dialFrom(t, l, "127.0.0.2"))
	}
	for _, c := range cs {
		if !open(t, c) {
			t.Fatal("a connection within the bound was closed")
		}
	}
	ok, said := refused(t, dialFrom(t, l, "127.0.0.2"))
	if !ok || !strings.HasPrefix(said, "421 4.7.0") {
		t.Fatalf("the fourth connection from one source: closed %v, said %q", ok, said)
	}
	// Another source is not affected.
	if c := dialFrom(t, l, "127.0.0.3"); !open(t, c) {
		t.Fatal("another source was refused")
	}
	// A place freed is a place again.
	cs[0].Close()
	time.Sleep(50 * time.Millisecond)
	if c := dialFrom(t, l, "127.0.0.2"); !open(t, c) {
		t.Fatal("a freed place was not given again")
	}
}

func TestListenerAndPoolMax(t *testing.T) {
	pool := &Pool{Max: 3}
	a := listen(t, Options{Name: "a", Pool: pool, Max: 2})
	b := listen(t, Options{Name: "b", Pool: pool})
	c1, c2 := dialFrom(t, a, "127.0.0.2"), dialFrom(t, a, "127.0.0.3")
	if !open(t, c1) || !open(t, c2) {
		t.Fatal("closed within the bounds")
	}
	if ok, _ := refused(t, dialFrom(t, a, "127.0.0.4")); !ok {
		t.Fatal("listener a took more than its Max")
	}
	// b still has the pool's third place, and not a fourth.
	if c := dialFrom(t, b, "127.0.0.5"); !open(t, c) {
		t.Fatal("b was refused though the pool had room")
	}
	if ok, _ := refused(t, dialFrom(t, b, "127.0.0.6")); !ok {
		t.Fatal("the pool took more than its Max")
	}
	if pool.Open() != 3 {
		t.Errorf("pool holds %d, want 3", pool.Open())
	}
}

func TestPreAuth(t *testing.T) {
	l := listen(t, Options{Name: "imap", PerSource: 10, PreAuthPerSource: 2, PreAuthLifetime: 300 * time.Millisecond})
	a, b := dialFrom(t, l, "127.0.0.2"), dialFrom(t, l, "127.0.0.2")
	if ok, _ := refused(t, dialFrom(t, l, "127.0.0.2")); !ok {
		t.Fatal("a third unauthenticated connection was taken")
	}
	// a authenticates: it leaves the unauthenticated count and outlives
	// the lifetime; b does not, and is closed at its end.
	a.Write([]byte("auth\n"))
	if line, err := bufio.NewReader(a).ReadString('\n'); err != nil || line != "ok\n" {
		t.Fatalf("auth: %q %v", line, err)
	}
	if c := dialFrom(t, l, "127.0.0.2"); !open(t, c) {
		t.Fatal("a place freed by authentication was not given")
	}
	time.Sleep(500 * time.Millisecond)
	if !open(t, a) {
		t.Error("the authenticated connection was closed")
	}
	if ok, _ := refused(t, b); !ok {
		t.Error("the unauthenticated connection outlived its lifetime")
	}
}

// TestTLSHandshakeDeadline: on an implicit-TLS listener a client that
// connects and sends nothing is closed at FirstDeadline; one that speaks
// TLS gets a *tls.Conn on the server side and a working session.
func TestTLSHandshakeDeadline(t *testing.T) {
	cert, err := tls.X509KeyPair(testenv.TestCertPEM())
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t, Options{Name: "imaps", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, FirstDeadline: 200 * time.Millisecond})
	if ok, _ := refused(t, dialFrom(t, l, "127.0.0.2")); !ok {
		t.Fatal("a silent client outlived the handshake deadline")
	}
	tc := tls.Client(dialFrom(t, l, "127.0.0.3"), &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("auth\n"))
	if line, err := bufio.NewReader(tc).ReadString('\n'); err != nil || line != "ok\n" {
		t.Fatalf("over TLS: %q %v", line, err)
	}
}

func TestSourceOf(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:25":               "192.0.2.7/32",
		"[::ffff:192.0.2.7]:25":      "192.0.2.7/32",
		"[2001:db8:1:2:3:4:5:6]:993": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ff::1]:993":   "2001:db8:1:2::/64",
	} {
		a, _ := net.ResolveTCPAddr("tcp", in)
		if got := sourceOf(a); got != netip.MustParsePrefix(want) {
			t.Errorf("sourceOf(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestBudget(t *testing.T) {
	if b := Budget(1024); b != 896 {
		t.Errorf("Budget(1024) = %d", b)
	}
	if b := Budget(20000); b != 17500 {
		t.Errorf("Budget(20000) = %d", b)
	}
	if n, err := RaiseFileLimit(); err != nil || n < 64 {
		t.Errorf("RaiseFileLimit = %d, %v", n, err)
	}
}
