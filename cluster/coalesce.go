package cluster

import (
	"net"
	"sync"
	"time"
)

// A server writing to a handed-over connection (go-imap's, whose buffer is
// 4 KiB) makes one TLS record of each write: on FETCH the front door then
// relayed records of 3.5 KiB on average, paying a read and a write system
// call and a TLS record on each side for every one. Coalesce gathers such
// writes into full records: it holds written bytes until CoalesceBytes have
// gathered, the server reads (a request/response server has then finished
// its response), or CoalesceDelay has passed since the first held byte
// (for what a server writes on its own, such as IMAP IDLE updates).

// The limits of a coalescing connection.
const (
	CoalesceBytes = 16 << 10 // one full TLS record
	CoalesceDelay = time.Millisecond
)

// Coalesce returns ln with every accepted connection's writes coalesced.
func Coalesce(ln net.Listener) net.Listener { return coalescingListener{ln} }

type coalescingListener struct{ net.Listener }

func (l coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &coalescingConn{Conn: c, delay: CoalesceDelay}, nil
}

// coalescingConn holds writes as described for Coalesce. A write error is
// reported by the write that sends, or by the next one.
type coalescingConn struct {
	net.Conn
	delay time.Duration // CoalesceDelay; tests may lengthen it
	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
	err   error
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if len(c.buf) == 0 && len(p) >= CoalesceBytes {
		return c.send(p)
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= CoalesceBytes {
		if _, err := c.send(c.buf); err != nil {
			return 0, err
		}
		c.buf = c.buf[:0]
		return len(p), nil
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(c.delay, c.flushTimer)
	} else if len(c.buf) == len(p) { // the first held bytes
		c.timer.Reset(c.delay)
	}
	return len(p), nil
}

// send writes p through, recording a failure. Called with c.mu held.
func (c *coalescingConn) send(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

// flush sends what is held. Called with c.mu held.
func (c *coalescingConn) flush() error {
	if len(c.buf) == 0 || c.err != nil {
		return c.err
	}
	_, err := c.send(c.buf)
	c.buf = c.buf[:0]
	if cap(c.buf) > 4*CoalesceBytes {
		c.buf = nil
	}
	return err
}

func (c *coalescingConn) flushTimer() {
	c.mu.Lock()
	c.flush()
	c.mu.Unlock()
}

// Read sends what is held first: the peer may be waiting for it.
func (c *coalescingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	err := c.flush()
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// Close sends what is held, then closes.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	c.flush()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	return c.Conn.Close()
}
