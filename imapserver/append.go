package imapserver

import (
	"bytes"
	"io"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/seal"
)

// appendLiteral reads an APPEND literal (RFC 9051 6.3.12) into a
// seal.Temp: encrypted under a key held only in memory, a small buffer in
// memory and the rest in an unnamed file that a crash cannot leave behind.
// go-imap has already refused a literal over AppendLimit, and the reader
// gives exactly r.Size() bytes. A literal cut short is the client's
// failure (go-imap closes the connection); a Temp that cannot be written (a
// full disk) is NO [UNAVAILABLE], which the client may retry, and leaves
// nothing behind.
func (s *session) appendLiteral(r imap.LiteralReader) (*seal.Temp, bool, error) {
	temp, err := seal.NewTemp(s.srv.opts.TempDir)
	if err != nil {
		return nil, false, s.fail("append", err, true)
	}
	buf := make([]byte, 32<<10)
	w := &nulWatch{w: temp}
	n, err := io.CopyBuffer(w, io.LimitReader(r, r.Size()), buf)
	if err == nil && n != r.Size() {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		temp.Discard()
		if errors.KindOf(err) == errors.Other {
			return nil, false, err // reading the literal failed: the connection's
		}
		return nil, false, s.fail("append", errors.E("imapserver.Append", errors.Unavailable, err), true)
	}
	if err := temp.Finish(); err != nil {
		temp.Discard()
		return nil, false, s.fail("append", errors.E("imapserver.Append", errors.Unavailable, err), true)
	}
	return temp, w.nul, nil
}

// appendMessage reads an APPEND literal and returns the message to store
// and what releases it. A message with NUL octets (a literal8, RFC 3516
// 4.4) has its binary parts encoded (binary.go) in memory, as FETCH holds
// a message; any other is stored from the Temp as it came.
func (s *session) appendMessage(r imap.LiteralReader) (postbox.Message, func(), error) {
	temp, nul, err := s.appendLiteral(r)
	if err != nil {
		return nil, nil, err
	}
	if !nul {
		return postbox.TempMessage(temp), temp.Discard, nil
	}
	defer temp.Discard()
	raw, err := io.ReadAll(temp.NewReader(0))
	if err != nil {
		return nil, nil, s.fail("append", errors.E("imapserver.Append", errors.Unavailable, err), true)
	}
	return postbox.Bytes(encodeBinaryParts(raw)), func() {}, nil
}

// nulWatch passes writes on and notes whether they held a NUL octet.
type nulWatch struct {
	w   io.Writer
	nul bool
}

func (n *nulWatch) Write(p []byte) (int, error) {
	if !n.nul && bytes.IndexByte(p, 0) >= 0 {
		n.nul = true
	}
	return n.w.Write(p)
}
