package frontdoor

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// rawSieve is a ManageSieve client speaking raw lines.
type rawSieve struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func (e *env) dialSieve() *rawSieve {
	e.t.Helper()
	c, err := net.Dial("tcp", e.sieve)
	if err != nil {
		e.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard, not an assertion
	r := &rawSieve{t: e.t.(*testing.T), conn: c, br: bufio.NewReader(c)}
	e.t.Cleanup(func() { r.conn.Close() })
	return r
}

func (r *rawSieve) line() string {
	r.t.Helper()
	l, err := r.br.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// response reads lines up to and including the one starting with OK, NO
// or BYE, and returns them.
func (r *rawSieve) response() []string {
	r.t.Helper()
	var out []string
	for {
		l := r.line()
		out = append(out, l)
		if strings.HasPrefix(l, "OK") || strings.HasPrefix(l, "NO") || strings.HasPrefix(l, "BYE") {
			return out
		}
	}
}

// do sends a command and checks its final line.
func (r *rawSieve) do(cmd, want string) []string {
	r.t.Helper()
	if _, err := r.conn.Write([]byte(cmd + "\r\n")); err != nil {
		r.t.Fatal(err)
	}
	resp := r.response()
	if got := resp[len(resp)-1]; got != want {
		r.t.Fatalf("%s: got %q, want %q (all: %q)", cmd, got, want, resp)
	}
	return resp
}

// TestManageSievePreauth checks the front door's ManageSieve exchanges
// before the hand-over, line by line (RFC 5804): capabilities without a
// SASL mechanism before TLS and again after STARTTLS with PLAIN, NOOP's
// TAG, refusals of everything else, and authentication failures that say
// the same for an unknown user and a region that cannot answer.
func TestManageSievePreauth(t *testing.T) {
	e := newEnv(t)
	e.startRegion("ie", alice)
	e.startFrontDoor(Options{Dial: e.dialer("frontdoor"), ManageSieve: ManageSieveOptions{Extensions: "fileinto vacation", MaxScriptSize: 65536, MaxRedirects: 5}})
	r := e.dialSieve()
	caps := strings.Join(r.response(), "\n")
	for _, want := range []string{`"IMPLEMENTATION" "Sealpost"`, `"SASL" ""`, `"STARTTLS"`, `"SIEVE" "fileinto vacation"`,
		`"MAXSCRIPTSIZE" "65536"`, `"MAXREDIRECTS" "5"`, `"VERSION" "1.0"`} {
		if !strings.Contains(caps, want) {
			t.Errorf("capabilities lack %s:\n%s", want, caps)
		}
	}
	r.do(`AUTHENTICATE "PLAIN" "`+plainIR("", alice, password)+`"`, `NO (ENCRYPT-NEEDED) "TLS is required to authenticate"`)
	r.do(`LISTSCRIPTS`, `NO "Authenticate first"`)
	// A literal's bytes are read as such, never as a command.
	r.do(`PUTSCRIPT "s" {8+}`+"\r\nLOGOUT\r\n", `NO "Authenticate first"`)
	r.do(`NOOP "a\"b"`, `OK (TAG "a\"b") "Done"`)
	r.do(`NOOP "unterminated`, `NO "Bad arguments"`)
	r.do(`STARTTLS`, `OK "Begin TLS negotiation now"`)
	tc := tls.Client(r.conn, e.clientTLS)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	r.conn, r.br = tc, bufio.NewReader(tc)
	caps = strings.Join(r.response(), "\n")
	if !strings.Contains(caps, `"SASL" "PLAIN"`) || strings.Contains(caps, `"STARTTLS"`) {
		t.Errorf("capabilities after STARTTLS:\n%s", caps)
	}
	r.do(`STARTTLS`, `NO "STARTTLS not available"`)
	r.do(`AUTHENTICATE "LOGIN"`, `NO "Unsupported SASL mechanism"`)
	// An unknown user, answered as a wrong password would be.
	r.do(`AUTHENTICATE "PLAIN" "`+plainIR("", "nobody@demo.example", "x")+`"`, `NO "Authentication failed"`)
	// The response in a second step, as a literal; the cancel.
	if _, err := r.conn.Write([]byte("AUTHENTICATE \"PLAIN\"\r\n")); err != nil {
		t.Fatal(err)
	}
	if l := r.line(); l != `""` {
		t.Fatalf("challenge %q", l)
	}
	r.do(`"*"`, `NO "Authentication canceled"`)
	// dave's region has no node: try later, not a failed login.
	r.do(`AUTHENTICATE "PLAIN" "`+plainIR("", dave, password)+`"`, `NO (TRYLATER) "Temporarily unavailable, try again later"`)
	r.do(`AUTHENTICATE "PLAIN" "`+plainIR("", "nobody@demo.example", "x")+`"`, `NO "Authentication failed"`)
	r.do(`AUTHENTICATE "PLAIN" "`+plainIR("", "nobody@demo.example", "x")+`"`, `BYE "Too many failed authentication attempts"`)
	if rest, _ := r.br.ReadString('\n'); rest != "" {
		t.Errorf("data after BYE: %q", rest)
	}

	// Too many bad commands end the session.
	r = e.dialSieve()
	r.response()
	for range sieveMaxErrors - 1 {
		r.do(`HAVESPACE "x" 10`, `NO "Authenticate first"`)
	}
	r.do(`PUTSCRIPT "x" {7+}`+"\r\nLOGOUT\r\n", `BYE "Too many errors"`)
}
