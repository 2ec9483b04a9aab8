package smtpserver

import (
	"bytes"
	"errors"
	"io"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/seal"
)

// This file receives a message as it arrives: DATA (or BDAT) is read in
// small pieces, checked as it goes (line endings, size), and written to a
// seal.Temp, which keeps it encrypted under a key held only in memory and
// spills past a small buffer to an unnamed file. The header section alone
// is also kept in memory (at most maxHeader bytes), for the checks that
// need it (mailauth, From: on submission) and for the fields prepended to
// it. A connection thus holds a few hundred KiB whatever the message's
// size. Delivery then reads the Temp once per sealed copy (a
// postbox.Message: see composed).

// maxHeader bounds the header section (RFC 5322 2.1: header fields, up to
// the first empty line) held in memory; mailauth reads no further either.
const maxHeader = 1 << 20

// readBuf is the size of each read of message data: deadlineReader cuts
// reads to dataChunk anyway.
const readBuf = dataChunk

var replyHeaderTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
	Message: "Message header section too big for system"}

// received is a message whose data has ended: the header section in
// memory, the whole message (header and body) in temp.
type received struct {
	header []byte // the header section with its ending empty line, if any
	temp   *seal.Temp
}

// bodyOffset is where the body starts in the Temp.
func (m *received) bodyOffset() int64 { return int64(len(m.header)) }

// discard frees the Temp and forgets its key.
func (m *received) discard() {
	if m != nil && m.temp != nil {
		m.temp.Discard()
		m.temp = nil
	}
}

// receive reads the message data of DATA or BDAT into a Temp in dir.
// go-smtp's DATA reader ends the data only on CRLF "." CRLF, with a dot
// alone on a line that began after a CRLF, and removes the dot-stuffing
// (RFC 5321 4.5.2); it never ends on a bare LF or CR form such as
// LF "." LF or CR "." CR, which is what SMTP smuggling relies on. receive
// then refuses data holding a bare CR or LF at all (RFC 5321 2.3.8), so
// that such a message cannot be carried on to a laxer server either.
//
// go-smtp's reader departs from net/textproto's in two ways, both on bare
// CRs, and both can only make the data end later, never sooner, so neither
// can split one message into two: a line "." CR followed by a byte other
// than LF loses its dot and CR (the message is then accepted without
// them); and after CR CR LF the next line is not taken as a line start, so
// a "." there does not end the data (a client that sends it waits for a
// reply until ReadTimeout, then gets 451).
//
// On any refusal receive stops reading and frees what it wrote; go-smtp
// then reads the rest of the data and drops it before replying, so the
// connection stays in step and nothing of the message is kept. A Temp
// that cannot be written (a full disk) is 451 4.3.0.
//
// tap, if not nil, is given the message as it arrives: its header section
// once complete (or the whole data, at the end, if it has no empty line),
// then the body piece by piece (authcheck.go: DKIM hashes it meanwhile).
func receive(r io.Reader, limit int64, dir string, tap bodyTap) (*received, error) {
	temp, err := seal.NewTemp(dir)
	if err != nil {
		return nil, replyTempFailure
	}
	m := &received{temp: temp}
	var lc lineChecker
	hs := headerScanner{max: maxHeader}
	tapped := false // tap has the header section
	buf := make([]byte, readBuf)
	var n int64
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			n += int64(k)
			if n > limit {
				m.discard()
				return nil, replyTooLarge
			}
			chunk := buf[:k]
			if e := lc.check(chunk); e != nil {
				m.discard()
				return nil, e
			}
			body, ok := hs.scan(chunk)
			if !ok {
				m.discard()
				return nil, replyHeaderTooLarge
			}
			if tap != nil && hs.done {
				if !tapped {
					tap.Header(hs.header())
					tapped = true
				}
				if len(body) > 0 {
					tap.Write(body)
				}
			}
			if _, err := temp.Write(chunk); err != nil {
				m.discard()
				return nil, errDisk{err}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			m.discard()
			var se *smtp.SMTPError
			switch {
			case errors.As(rerr, &se) && se.Code == smtp.ErrDataTooLarge.Code:
				return nil, replyTooLarge // RFC 1870 6.3
			case errors.Is(rerr, smtp.ErrTooLongLine):
				return nil, replyLineTooLong
			}
			return nil, replyReadFailed
		}
	}
	if e := lc.end(); e != nil {
		m.discard()
		return nil, e
	}
	if err := temp.Finish(); err != nil {
		m.discard()
		return nil, errDisk{err}
	}
	m.header = hs.header()
	if tap != nil && !tapped {
		tap.Header(m.header)
	}
	return m, nil
}

// bodyTap takes a message as it arrives (a *mailauth.Run).
type bodyTap interface {
	Header(h []byte)
	Write(p []byte) (int, error)
}

// errDisk is a failure to write the Temp (451 4.3.0); the cause is logged.
type errDisk struct{ err error }

func (e errDisk) Error() string { return "temporary file: " + e.err.Error() }

// lineChecker is checkLineEndings over data that arrives in pieces.
type lineChecker struct {
	cr bool // the last byte seen was a CR
}

// check examines the next piece of data.
func (c *lineChecker) check(p []byte) *smtp.SMTPError {
	if c.cr && len(p) > 0 {
		if p[0] != '\n' {
			return replyBareCR
		}
		c.cr = false
		p = p[1:]
	}
	for i := 0; ; {
		j := bytes.IndexAny(p[i:], "\r\n")
		if j < 0 {
			return nil
		}
		i += j
		if p[i] == '\n' {
			return replyBareLF // an LF not after a CR
		}
		if i+1 == len(p) {
			c.cr = true // the next piece must start with LF
			return nil
		}
		if p[i+1] != '\n' {
			return replyBareCR
		}
		i += 2
	}
}

// end checks the end of the data: a CR there is bare.
func (c *lineChecker) end() *smtp.SMTPError {
	if c.cr {
		return replyBareCR
	}
	return nil
}

// headerScanner keeps the header section of data arriving in pieces: the
// bytes up to and including the first empty line (CRLF CRLF, or a CRLF at
// the very start), or all the data if there is none.
type headerScanner struct {
	max  int
	buf  []byte
	done bool
}

// scan takes the next piece; false if the header section is over max.
// Once the header section is complete, body is the part of p after it
// (all of p after the piece that completed it).
func (h *headerScanner) scan(p []byte) (body []byte, ok bool) {
	if h.done {
		return p, true
	}
	before := len(h.buf)
	start := max(0, before-3) // an ending may span pieces
	h.buf = append(h.buf, p...)
	if len(h.buf) >= 2 && h.buf[0] == '\r' && h.buf[1] == '\n' {
		h.buf, h.done = h.buf[:2], true // no header fields at all
		return p[2-before:], true
	}
	if i := bytes.Index(h.buf[start:], []byte("\r\n\r\n")); i >= 0 {
		h.buf, h.done = h.buf[:start+i+4], true
		return p[len(h.buf)-before:], len(h.buf) <= h.max
	}
	return nil, len(h.buf) <= h.max
}

// header returns the header section.
func (h *headerScanner) header() []byte { return h.buf }

// composed is a received message behind fields added in front of its
// header section (Authentication-Results:, Received:, and on submission
// Date: and Message-ID:): the postbox.Message that is delivered. head is
// the new header section in memory; the body is read from the Temp.
type composed struct {
	head []byte
	m    *received
}

// Size is the composed message's length.
func (c composed) Size() int64 {
	return int64(len(c.head)) + c.m.temp.Size() - c.m.bodyOffset()
}

// NewReader reads the composed message from its start.
func (c composed) NewReader() io.Reader {
	return io.MultiReader(bytes.NewReader(c.head), c.m.temp.NewReader(c.m.bodyOffset()))
}
