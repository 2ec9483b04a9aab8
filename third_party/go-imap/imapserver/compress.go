package imapserver

// Sealpost patch 33: COMPRESS=DEFLATE (RFC 4978), offered after login to a
// session that implements SessionCompress, when Options.Caps holds it.
//
// Both directions are raw deflate (RFC 1951) on the connection, under TLS
// when there is TLS. The read side is compress/flate's decompressor (about
// 45 KiB); the decoder reads decompressed bytes, so the command-line and
// literal limits and the read timeouts bound what a client can make the
// server hold or do, however well its input compresses (a decompression
// bomb is an over-long line, answered BAD and BYE). The write side is the
// session's (compress/flate's compressor keeps about 1.2 MiB, which a
// server may not want to spend per connection).

import (
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
	"github.com/emersion/go-imap/v2/internal/inflate"
)

// CapCompressDeflate is COMPRESS=DEFLATE (RFC 4978).
const CapCompressDeflate imap.Cap = "COMPRESS=DEFLATE"

// SessionCompress is an IMAP session which supports COMPRESS=DEFLATE (RFC
// 4978).
type SessionCompress interface {
	Session

	// DeflateWriter returns a writer that deflates what it is given onto
	// w as one raw deflate stream, each Write flushed to a byte boundary
	// (RFC 4978 4: the server flushes after each response); its Write is
	// called after every response line, and with literals' bytes.
	DeflateWriter(w io.Writer) io.Writer
}

// handleCompress: "COMPRESS" SP algorithm (RFC 4978 3).
func (c *Conn) handleCompress(tag string, dec *imapwire.Decoder) error {
	var alg string
	if !dec.ExpectSP() || !dec.ExpectAtom(&alg) || !dec.ExpectCRLF() {
		return dec.Err()
	}
	if err := c.checkState(imap.ConnStateAuthenticated); err != nil {
		return err
	}
	session, ok := c.session.(SessionCompress)
	if !ok || !c.server.options.caps().Has(CapCompressDeflate) || !strings.EqualFold(alg, "DEFLATE") {
		return newClientBugError("Unknown compression algorithm " + alg)
	}
	if c.deflating {
		// RFC 4978 3: a second COMPRESS is refused.
		return &imap.Error{
			Type: imap.StatusResponseTypeNo,
			Code: "COMPRESSIONACTIVE",
			Text: "Compression is already active",
		}
	}

	// Hold the encoder until both directions are switched, so that no
	// update is written uncompressed after the OK.
	enc := newResponseEncoder(c)
	defer enc.end()
	err := writeStatusResp(enc.Encoder, tag, &imap.StatusResponse{
		Type: imap.StatusResponseTypeOK,
		Text: "DEFLATE active",
	})
	if err != nil {
		return err
	}
	// Bytes the client sent after the command are already compressed.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, c.br, int64(c.br.Buffered())); err != nil {
		return err
	}
	rw := c.server.options.wrapReadWriter(c.conn)
	c.deflating = true
	// Sealpost patch 50: the pooled buffers read and write through c.rd
	// and c.wr (connbuf.go).
	// Sealpost patch 37: compress/flate's decompressor, patched so that a
	// command is readable at the end of its block (internal/inflate):
	// mbsync ends each command with Z_PARTIAL_FLUSH, not Z_SYNC_FLUSH.
	c.rd = connReader{r: inflate.NewReader(io.MultiReader(&buf, rw))}
	c.wr = session.DeflateWriter(rw)
	c.br.Reset(&c.rd)
	c.bw.Reset(c.wr)
	return nil
}
