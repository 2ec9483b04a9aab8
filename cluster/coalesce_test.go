package cluster

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// pair returns a coalescing server side and a plain client side of a real
// loopback TCP connection.
func pair(t *testing.T) (*coalescingConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl := Coalesce(ln)
	done := make(chan net.Conn)
	go func() {
		c, err := cl.Accept()
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := (<-done).(*coalescingConn)
	t.Cleanup(func() { srv.Close(); client.Close() })
	return srv, client
}

// readWithin reads exactly n bytes from c, failing if they take longer
// than d to arrive.
func readWithin(t *testing.T, c net.Conn, n int, d time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

func TestCoalesceHoldsSmallWritesUntilFull(t *testing.T) {
	srv, client := pair(t)
	srv.delay = time.Hour
	chunk := bytes.Repeat([]byte("a"), 4<<10)
	for range 3 {
		srv.Write(chunk)
	}
	srv.mu.Lock()
	held := len(srv.buf)
	srv.mu.Unlock()
	if held != 3*len(chunk) {
		t.Fatalf("held %d bytes after three small writes, want %d", held, 3*len(chunk))
	}
	srv.Write(chunk) // reaches CoalesceBytes: sent as one
	srv.mu.Lock()
	held = len(srv.buf)
	srv.mu.Unlock()
	if held != 0 {
		t.Errorf("still holding %d bytes after a full record's worth", held)
	}
	got := readWithin(t, client, 4*len(chunk), 5*time.Second)
	if !bytes.Equal(got, bytes.Repeat(chunk, 4)) {
		t.Error("bytes changed on the way")
	}
}

// What a server writes and then waits on (a response, then reading the
// next command) goes out when it reads.
func TestCoalesceFlushesOnRead(t *testing.T) {
	srv, client := pair(t)
	srv.delay = time.Hour // only the read can send it
	srv.Write([]byte("* OK response\r\n"))
	go func() {
		buf := make([]byte, 64)
		srv.Read(buf) // blocks for the client's next command, after flushing
	}()
	if got := readWithin(t, client, 15, 5*time.Second); string(got) != "* OK response\r\n" {
		t.Errorf("got %q", got)
	}
	client.Write([]byte("a NOOP\r\n"))
}

// What a server writes on its own, without reading after (IMAP IDLE
// updates), goes out after CoalesceDelay.
func TestCoalesceFlushesAfterDelay(t *testing.T) {
	srv, client := pair(t)
	for i := range 2 {
		srv.Write([]byte("* 3 EXISTS\r\n"))
		if got := readWithin(t, client, 12, 5*time.Second); string(got) != "* 3 EXISTS\r\n" {
			t.Errorf("update %d: got %q", i, got)
		}
	}
}

func TestCoalesceCloseSendsHeldBytes(t *testing.T) {
	srv, client := pair(t)
	srv.delay = time.Hour
	srv.Write([]byte("* BYE\r\n"))
	srv.Close()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "* BYE\r\n" {
		t.Errorf("after close: %q, %v", got, err)
	}
}

func TestCoalesceWriteErrorIsReported(t *testing.T) {
	srv, client := pair(t)
	client.Close()
	srv.Conn.Close() // the connection fails under the coalescer
	big := make([]byte, CoalesceBytes)
	if _, err := srv.Write(big); err == nil {
		t.Error("a write through a closed connection succeeded")
	}
	if _, err := srv.Write([]byte("x")); err == nil {
		t.Error("a later write did not report the earlier failure")
	}
}
