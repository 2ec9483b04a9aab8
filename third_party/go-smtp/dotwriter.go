package smtp

// Sealpost patch 2: dotWriter.

import (
	"bufio"
	"bytes"
)

// dotWriter is net/textproto's DotWriter, with the same output byte for
// byte: it dot-stuffs lines that begin with a period (RFC 5321 section
// 4.5.2), turns a bare LF into CRLF, and ends the data with ".\r\n" on a
// line of its own. textproto's writes every byte through
// bufio.Writer.WriteByte; this one writes each run of ordinary bytes at
// once, which is most of a message, and lets bufio hand a large run to
// the connection in one write.
type dotWriter struct {
	w     *bufio.Writer
	state int
}

const (
	dotBegin     = iota // at the start of the data
	dotBeginLine        // at the start of a line
	dotData             // inside a line
	dotCR               // just after a CR
)

// Write implements io.Writer.
func (d *dotWriter) Write(b []byte) (n int, err error) {
	for n < len(b) {
		switch d.state {
		case dotBegin, dotBeginLine:
			d.state = dotData
			if b[n] == '.' {
				if err = d.w.WriteByte('.'); err != nil {
					return n, err
				}
			}
			continue // the same byte, now inside the line
		case dotCR:
			d.state = dotData
			if b[n] == '\n' {
				d.state = dotBeginLine
			}
			if err = d.w.WriteByte(b[n]); err != nil {
				return n, err
			}
			n++
			continue
		}
		if i := bytes.IndexAny(b[n:], "\r\n"); i != 0 {
			if i < 0 {
				i = len(b) - n
			}
			m, err := d.w.Write(b[n : n+i])
			n += m
			if err != nil {
				return n, err
			}
			continue
		}
		if b[n] == '\r' {
			d.state = dotCR
		} else {
			if err = d.w.WriteByte('\r'); err != nil {
				return n, err
			}
			d.state = dotBeginLine
		}
		if err = d.w.WriteByte(b[n]); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Close ends the line if need be (empty data, too, as textproto does),
// writes the final ".\r\n" and flushes.
func (d *dotWriter) Close() error {
	switch d.state {
	case dotBegin, dotData:
		d.w.WriteByte('\r')
		fallthrough
	case dotCR:
		d.w.WriteByte('\n')
		fallthrough
	case dotBeginLine:
		d.w.WriteString(".\r\n")
	}
	return d.w.Flush()
}
