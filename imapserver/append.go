package imapserver

import (
	"io"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost/errors"
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
func (s *session) appendLiteral(r imap.LiteralReader) (*seal.Temp, error) {
	temp, err := seal.NewTemp(s.srv.opts.TempDir)
	if err != nil {
		return nil, s.fail("append", err, true)
	}
	buf := make([]byte, 32<<10)
	n, err := io.CopyBuffer(writerOnly{temp}, io.LimitReader(r, r.Size()), buf)
	if err == nil && n != r.Size() {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		temp.Discard()
		if errors.KindOf(err) == errors.Other {
			return nil, err // reading the literal failed: the connection's
		}
		return nil, s.fail("append", errors.E("imapserver.Append", errors.Unavailable, err), true)
	}
	if err := temp.Finish(); err != nil {
		temp.Discard()
		return nil, s.fail("append", errors.E("imapserver.Append", errors.Unavailable, err), true)
	}
	return temp, nil
}

// writerOnly hides a writer's other methods from io.Copy.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
