package imapserver

// Sealpost patch 50: a connection holds its 4 KiB read and write buffers
// only while it uses them. Upstream gives each connection a bufio.Reader
// and a bufio.Writer for its whole life; a server holding thousands of
// connections that wait (in IDLE, or between commands) kept 8 KiB each
// for nothing. Here the writer is taken from a pool when a response starts
// and given back once it has been flushed (responseEncoder.end), and the
// reader is given back while the connection waits for the client with
// nothing buffered (waitInput) and taken again when a byte arrives. The
// bytes on the wire are the same: the writer goes back only empty, and
// the byte read while waiting is the first the reader returns.

import (
	"bufio"
	"io"
	"sync"
)

// writeBufferSize is the pooled write buffer's size (Sealpost patch 50):
// one FETCH response of a message up to about 16 KiB (its line, literal
// and closing parenthesis) goes out as one TLS record and one write,
// where upstream's 4 KiB made three. A connection holds it only while it
// writes a response.
const writeBufferSize = 16 << 10

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReader(nil) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) }}
)

// connReader is what a connection's bufio.Reader reads from: the
// connection, after the byte (and the error) that waitInput read while no
// buffer was held.
type connReader struct {
	r       io.Reader
	b       [1]byte
	pending bool  // b holds a byte not yet returned
	err     error // returned after b
}

func (cr *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if cr.pending {
		cr.pending = false
		p[0] = cr.b[0]
		return 1, nil
	}
	if err := cr.err; err != nil {
		cr.err = nil
		return 0, err
	}
	return cr.r.Read(p)
}

// waitInput waits for the client's next byte without holding a read
// buffer, if none has input buffered; it leaves c.br set either way. An
// error is kept for c.br's next read, as if c.br had read it.
func (c *Conn) waitInput() {
	if c.br != nil && c.br.Buffered() > 0 {
		return
	}
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
	if !c.rd.pending && c.rd.err == nil {
		n, err := c.rd.r.Read(c.rd.b[:])
		c.rd.pending = n > 0
		c.rd.err = err
	}
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.rd)
}

// acquireWriter gives c a write buffer for a response. Called with
// c.encMutex held.
func (c *Conn) acquireWriter() {
	if c.bw == nil {
		c.bw = writerPool.Get().(*bufio.Writer)
		c.bw.Reset(c.wr)
	}
}

// releaseWriter gives the write buffer back, unless it still holds bytes
// or a write error (after a failed write, which ends the connection, it
// stays, so that later responses fail as upstream's do). Called with
// c.encMutex held.
func (c *Conn) releaseWriter() {
	if c.bw == nil || c.bw.Buffered() > 0 {
		return
	}
	if _, err := c.bw.Write(nil); err != nil { // the writer's sticky error
		return
	}
	c.bw.Reset(nil)
	writerPool.Put(c.bw)
	c.bw = nil
}
