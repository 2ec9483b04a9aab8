package imapserver

import (
	"bufio"
	"compress/flate"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

// deflateConn is a net.Conn whose both directions are raw deflate, as
// after COMPRESS DEFLATE (RFC 4978), written with compress/flate: an
// implementation independent of the server's.
type deflateConn struct {
	net.Conn
	r io.Reader
	w *flate.Writer
}

func (c *deflateConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *deflateConn) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err == nil {
		err = c.w.Flush()
	}
	return n, err
}

// compressed turns r on COMPRESS DEFLATE, checking the exact answer.
func (r *rawConn) compressed() {
	r.t.Helper()
	if u, tagged := r.cmd("COMPRESS DEFLATE"); len(u) != 0 || tagged != fmt.Sprintf("T%d OK DEFLATE active\r\n", r.tag) {
		r.t.Fatalf("COMPRESS: %q %q", u, tagged)
	}
	if r.br.Buffered() != 0 {
		r.t.Fatal("bytes after the OK were not compressed")
	}
	w, _ := flate.NewWriter(r.conn, flate.BestSpeed)
	dc := &deflateConn{Conn: r.conn, r: flate.NewReader(r.br), w: w}
	r.conn, r.br = dc, bufio.NewReader(dc)
}

// TestCompress: COMPRESS=DEFLATE after login, both directions deflated,
// messages byte-exact through it, a second COMPRESS refused, and a
// decompression bomb answered like any over-long line.
func TestCompress(t *testing.T) {
	e := newEnv(t)
	e.deliver(simpleMsg)
	r := e.rawTLS()
	if u := r.ok("CAPABILITY"); strings.Contains(u[0], "COMPRESS") {
		t.Errorf("COMPRESS advertised before login: %q", u)
	}
	if _, tagged := r.cmd("COMPRESS DEFLATE"); !strings.Contains(tagged, " BAD ") {
		t.Errorf("COMPRESS before login: %q", tagged)
	}
	r.login(alice)
	if u := r.ok("CAPABILITY"); !strings.Contains(u[0], " COMPRESS=DEFLATE") {
		t.Errorf("COMPRESS=DEFLATE not advertised: %q", u)
	}
	if _, tagged := r.cmd("COMPRESS GZIP"); !strings.Contains(tagged, " BAD ") {
		t.Errorf("COMPRESS GZIP: %q", tagged)
	}
	r.compressed()
	if u := r.ok("CAPABILITY"); strings.Contains(u[0], "COMPRESS") {
		t.Errorf("COMPRESS advertised while active: %q", u)
	}
	if _, tagged := r.cmd("COMPRESS DEFLATE"); tagged != fmt.Sprintf("T%d NO [COMPRESSIONACTIVE] Compression is already active\r\n", r.tag) {
		t.Errorf("second COMPRESS: %q", tagged)
	}
	r.ok("SELECT INBOX")
	for range 3 { // later responses compress against the earlier ones
		u := r.ok("FETCH 1 BODY.PEEK[]")
		mustEqualBytes(t, "BODY[] through DEFLATE", literalOf(t, u[0], "BODY[]"), []byte(simpleMsg))
	}
	big := strings.Repeat("x", 40<<10)
	r.ok("APPEND INBOX {%d+}\r\n%s", len(big)+4, big+"\r\n\r\n")
	u := r.ok("FETCH 2 BODY.PEEK[]")
	mustEqualBytes(t, "40 KiB through DEFLATE", literalOf(t, u[0], "BODY[]"), []byte(big+"\r\n\r\n"))

	// A line of 10 MiB of one byte is 10 KiB deflated: the server reads
	// it decompressed, and the line limit ends it as any other.
	r.tag++
	fmt.Fprintf(r.conn, "T%d NOOP %s", r.tag, strings.Repeat("A", 10<<20))
	_, tagged := r.until(fmt.Sprintf("T%d", r.tag))
	if !strings.Contains(tagged, " BAD ") {
		t.Errorf("bomb: %q", tagged)
	}
	if l := r.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("after the bomb: %q", l)
	}
	// The server is well.
	r2 := e.rawTLS()
	r2.login(alice)
	r2.compressed()
	r2.ok("NOOP")
}

// compressScript speaks COMPRESS DEFLATE from Python: imaplib has no
// COMPRESS, so after its OK the socket is wrapped with zlib (wbits -15,
// raw deflate) both ways.
const compressScript = `
import socket, ssl, sys, zlib
host, port, cafile, user, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
s = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
f = s.makefile("rb")
def line():
    return f.readline().decode()
def check(cond, what):
    if not cond:
        print("FAIL:", what); sys.exit(1)
line()
s.sendall(('a LOGIN %s "%s"\r\n' % (user, password)).encode())
while True:
    l = line()
    if l.startswith("a "): break
check(l.startswith("a OK"), "login " + l)
s.sendall(b"b COMPRESS DEFLATE\r\n")
l = line()
check(l == "b OK DEFLATE active\r\n", "compress " + repr(l))
comp = zlib.compressobj(6, zlib.DEFLATED, -15)
dec = zlib.decompressobj(-15)
def send(cmd, mode=zlib.Z_SYNC_FLUSH):
    s.sendall(comp.compress(cmd) + comp.flush(mode))
s.settimeout(20) # a command the server cannot read ends the test
buf = b""
def until(tag):
    global buf
    out = []
    while True:
        while b"\r\n" not in buf:
            data = s.recv(65536)
            check(data, "connection closed")
            buf += dec.decompress(data)
        l, buf = buf.split(b"\r\n", 1)
        out.append(l)
        if l.startswith(tag + b" "):
            return out
# Z_PARTIAL_FLUSH, as isync's mbsync flushes each command.
send(b'c ID ("name" "python-zlib")\r\n', zlib.Z_PARTIAL_FLUSH)
out = until(b"c")
check(out == [b'* ID ("name" "Sealpost")', b"c OK ID completed"], "id %r" % out)
send(b"d SELECT INBOX\r\ne UID SORT (REVERSE ARRIVAL) UTF-8 ALL\r\n", zlib.Z_PARTIAL_FLUSH)
until(b"d")
out = until(b"e")
check(out[0] == b"* SORT 2 1", "sort %r" % out)
send(b"f COMPRESS DEFLATE\r\n")
out = until(b"f")
check(out[-1].startswith(b"f NO [COMPRESSIONACTIVE]"), "second %r" % out)
send(b"g LOGOUT\r\n")
until(b"g")
print("OK")
`

func TestCompressPython(t *testing.T) {
	e := newEnv(t)
	e.deliver(simpleMsg)
	e.deliver(simpleMsg)
	runPythonOK(t, e, compressScript)
}
