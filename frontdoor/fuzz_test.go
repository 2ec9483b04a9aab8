package frontdoor

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
)

// scriptConn is a client connection that sends a fixed script and records
// what the server says. Deadlines are ignored: reads end at the script's
// end.
type scriptConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *scriptConn) Read(b []byte) (int, error)  { return c.in.Read(b) }
func (c *scriptConn) Write(b []byte) (int, error) { return c.out.Write(b) }
func (c *scriptConn) Close() error                { return nil }
func (c *scriptConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 993}
}
func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 50000}
}
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzServer is a front door whose only region cannot be reached: every
// authentication ends in a refusal (unknown user) or UNAVAILABLE.
func fuzzServer(tb testing.TB) *Server {
	cert, _ := testenv.TestCert()
	s := New(Options{
		Hostname:         "fd.test",
		TLSConfig:        &tls.Config{Certificates: []tls.Certificate{cert}},
		Locate:           locate,
		AuthFailureDelay: time.Nanosecond,
		Dial: func(context.Context, sealpost.RegionID, string) (net.Conn, error) {
			return nil, errors.E("fuzz.Dial", errors.Unavailable)
		},
	})
	tb.Cleanup(func() { s.Close() })
	return s
}

// runScript runs one session over a script, as IMAP or submission, as if
// TLS were already on (tlsOn) or not, recovering panics as the server does.
func runScript(s *Server, proto string, script []byte, tlsOn bool) string {
	c := &scriptConn{in: bytes.NewReader(script)}
	func() {
		defer s.recover(proto, c)
		switch proto {
		case "imap":
			ic := &imapClient{client: s.newClient(c, proto)}
			ic.isTLS = tlsOn
			ic.run()
		case "managesieve":
			sc := &sieveClient{client: s.newClient(c, proto)}
			sc.isTLS = tlsOn
			if sc.capabilities() == nil {
				for sc.command() {
				}
			}
		default:
			sc := &smtpClient{client: s.newClient(c, proto)}
			sc.isTLS = tlsOn
			sc.run()
		}
	}()
	return c.out.String()
}

// checkOutput checks that a session's output is whole lines, up to any TLS
// handshake (whose bytes are binary).
func checkOutput(t *testing.T, out, greeting, tlsStart string) {
	t.Helper()
	if !strings.HasPrefix(out, greeting) {
		t.Fatalf("output does not start with the greeting: %q", out)
	}
	if i := strings.Index(out, tlsStart); i >= 0 {
		out = out[:i+len(tlsStart)]
	}
	if !strings.HasSuffix(out, "\r\n") {
		t.Fatalf("output does not end with CRLF: %q", out)
	}
}

// healthy checks that the server has recovered no panic and still answers
// a well-formed session.
func healthy(t *testing.T, s *Server, proto, script string, want ...string) {
	t.Helper()
	if n := s.panics.Load(); n != 0 {
		t.Fatalf("%d panics", n)
	}
	out := runScript(s, proto, []byte(script), true)
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("healthy session lacks %q:\n%s", w, out)
		}
	}
}

func FuzzIMAPPreauth(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range []string{
		"a CAPABILITY\r\nb NOOP\r\nc LOGOUT\r\n",
		"a LOGIN alice@demo.example \"pass word\"\r\n",
		"a LOGIN {18}\r\nalice@demo.example {4+}\r\npass\r\n",
		"a AUTHENTICATE PLAIN AGFsaWNlQGRlbW8uZXhhbXBsZQBwYXNz\r\n",
		"a AUTHENTICATE PLAIN\r\nAGJvYkBkZW1vLmV4YW1wbGUAcGFzcw==\r\n",
		"a AUTHENTICATE PLAIN\r\n*\r\n",
		"a ID (\"name\" \"x\" \"version\" NIL)\r\nb ID NIL\r\n",
		"a FOO {3+}\r\nabc\r\nb NOOP\r\n",
		"a STARTTLS\r\n\x16\x03\x01\x00\x05hello",
		"* NOOP\r\n\r\na\r\n a\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, tlsOn := range []bool{false, true} {
			out := runScript(s, "imap", script, tlsOn)
			checkOutput(t, out, "* OK [CAPABILITY ", " OK Begin TLS negotiation now\r\n")
		}
		healthy(t, s, "imap", "a CAPABILITY\r\nb LOGIN nobody@demo.example x\r\nc LOGOUT\r\n",
			"a OK", "b NO [AUTHENTICATIONFAILED]", "c OK")
	})
}

func FuzzSMTPPreauth(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range []string{
		"EHLO client.example\r\nNOOP\r\nRSET\r\nQUIT\r\n",
		"EHLO x\r\nAUTH PLAIN AGFsaWNlQGRlbW8uZXhhbXBsZQBwYXNz\r\n",
		"EHLO x\r\nAUTH PLAIN\r\nAGJvYkBkZW1vLmV4YW1wbGUAcGFzcw==\r\n",
		"EHLO x\r\nAUTH LOGIN YWxpY2VAZGVtby5leGFtcGxl\r\ncGFzcw==\r\n",
		"EHLO x\r\nAUTH LOGIN\r\n*\r\n",
		"HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nBDAT 10 LAST\r\n",
		"EHLO x\r\nSTARTTLS\r\n\x16\x03\x01\x00\x05hello",
		"\r\n \r\nAUTH\r\nVRFY x\r\nHELP\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, tlsOn := range []bool{false, true} {
			out := runScript(s, "submission", script, tlsOn)
			checkOutput(t, out, "220 fd.test ", "220 2.0.0 Ready to start TLS\r\n")
		}
		healthy(t, s, "submission", "EHLO x\r\nAUTH PLAIN "+plainIR("", "nobody@demo.example", "x")+"\r\nQUIT\r\n",
			"250-fd.test", "535 5.7.8", "221 2.0.0")
	})
}

func FuzzManageSievePreauth(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range []string{
		"CAPABILITY\r\nNOOP\r\nNOOP \"tag\"\r\nLOGOUT\r\n",
		"AUTHENTICATE \"PLAIN\" \"AGFsaWNlQGRlbW8uZXhhbXBsZQBwYXNz\"\r\n",
		"AUTHENTICATE \"PLAIN\"\r\n\"AGJvYkBkZW1vLmV4YW1wbGUAcGFzcw==\"\r\n",
		"AUTHENTICATE \"PLAIN\" {32+}\r\nAGFsaWNlQGRlbW8uZXhhbXBsZQBwYXNz\r\n",
		"AUTHENTICATE \"PLAIN\"\r\n\"*\"\r\n",
		"PUTSCRIPT \"x\" {5+}\r\nkeep;\r\nLISTSCRIPTS\r\n",
		"NOOP \"a\\\"b\\\\\"\r\nNOOP \"unterminated\r\nNOOP {99999999+}\r\n",
		"STARTTLS\r\n\x16\x03\x01\x00\x05hello",
		"\r\n \r\nAUTHENTICATE\r\nAUTHENTICATE \"X\" \"Y\" \"Z\"\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, tlsOn := range []bool{false, true} {
			out := runScript(s, "managesieve", script, tlsOn)
			checkOutput(t, out, "\"IMPLEMENTATION\" \"Sealpost\"\r\n", "OK \"Begin TLS negotiation now\"\r\n")
		}
		healthy(t, s, "managesieve", "CAPABILITY\r\nAUTHENTICATE \"PLAIN\" \""+plainIR("", "nobody@demo.example", "x")+"\"\r\nLOGOUT\r\n",
			"\"SASL\" \"PLAIN\"", "NO \"Authentication failed\"", "OK \"Logout completed\"")
	})
}
