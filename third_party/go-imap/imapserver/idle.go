package imapserver

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

func (c *Conn) handleIdle(dec *imapwire.Decoder) error {
	if !dec.ExpectCRLF() {
		return dec.Err()
	}

	if err := c.checkState(imap.ConnStateAuthenticated); err != nil {
		return err
	}

	if err := c.writeContReq("idling"); err != nil {
		return err
	}

	if s, ok := c.session.(SessionIdleStart); ok { // Sealpost patch 51
		return c.idleStarted(dec, s)
	}

	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				c.server.logger().Printf("panic idling: %v\n%s", v, debug.Stack())
				done <- fmt.Errorf("imapserver: panic idling")
			}
		}()
		w := &UpdateWriter{conn: c, allowExpunge: true}
		done <- c.session.Idle(w, stop)
	}()

	eof, err := c.readDone(dec)
	close(stop)
	if eof || err != nil {
		return err
	}
	return <-done
}

// idleStarted is IDLE for a SessionIdleStart: the connection's goroutine
// alone waits for DONE (Sealpost patch 51, idlenotify.go).
func (c *Conn) idleStarted(dec *imapwire.Decoder, s SessionIdleStart) error {
	stop, err := s.StartIdle(&UpdateWriter{conn: c, allowExpunge: true})
	if err != nil {
		return err
	}
	eof, err := c.readDone(dec)
	stopErr := stop()
	if eof || err != nil {
		return err
	}
	return stopErr
}

// readDone waits for the DONE that ends IDLE (RFC 2177). The end of input
// ends IDLE without error, as upstream's did. The reader may change while
// waiting (patch 50): dec, the IDLE command's decoder, is given the new one.
func (c *Conn) readDone(dec *imapwire.Decoder) (eof bool, err error) {
	c.setReadTimeout(idleReadTimeout)
	c.waitInput() // Sealpost patch 50: no read buffer held while idling
	dec.SetReader(c.br)
	line, isPrefix, err := c.br.ReadLine()
	if err == io.EOF {
		return true, nil
	} else if err != nil {
		return false, err
	} else if isPrefix || string(line) != "DONE" {
		return false, newClientBugError("Syntax error: expected DONE to end IDLE command")
	}
	return false, nil
}
