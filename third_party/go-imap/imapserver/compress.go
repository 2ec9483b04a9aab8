package imapserver

// Sealpost patch 33: COMPRESS=DEFLATE (RFC 4978), offered when Options.Caps
// holds it, after login.
//
// Both directions are raw deflate (RFC 1951) on the connection, under TLS
// when there is TLS. The read side is compress/flate's decompressor (about
// 45 KiB); the decoder reads decompressed bytes, so the command-line and
// literal limits and the read timeouts bound what a client can make the
// server hold or do, however well its input compresses (a decompression
// bomb is an over-long line, answered BAD and BYE). The write side keeps no
// compressor per connection (Go's keeps about 1.2 MiB, klauspost's 300-800
// KiB): each flush, after every response line, is deflated on its own with
// the last 8 KiB sent as its dictionary (klauspost's StatelessDeflate), so a
// connection holds 8 KiB for it and responses still compress against what
// went before.

import (
	"bytes"
	"compress/flate"
	"io"
	"strings"

	kflate "github.com/klauspost/compress/flate"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// CapCompressDeflate is COMPRESS=DEFLATE (RFC 4978).
const CapCompressDeflate imap.Cap = "COMPRESS=DEFLATE"

// deflateDict is how much of what was sent serves as the next flush's
// dictionary (StatelessDeflate's most).
const deflateDict = 8 << 10

// handleCompress: "COMPRESS" SP algorithm (RFC 4978 3).
func (c *Conn) handleCompress(tag string, dec *imapwire.Decoder) error {
	var alg string
	if !dec.ExpectSP() || !dec.ExpectAtom(&alg) || !dec.ExpectCRLF() {
		return dec.Err()
	}
	if err := c.checkState(imap.ConnStateAuthenticated); err != nil {
		return err
	}
	if !c.server.options.caps().Has(CapCompressDeflate) || !strings.EqualFold(alg, "DEFLATE") {
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
	c.br.Reset(flate.NewReader(io.MultiReader(&buf, rw)))
	c.bw.Reset(&deflateWriter{w: rw})
	return nil
}

// deflateWriter deflates each write on its own, flushed to a byte boundary
// (RFC 4978 4: the server flushes after each response), with the last
// deflateDict bytes written as its dictionary.
type deflateWriter struct {
	w    io.Writer
	dict []byte
}

func (d *deflateWriter) Write(p []byte) (int, error) {
	if err := kflate.StatelessDeflate(d.w, p, false, d.dict); err != nil {
		return 0, err
	}
	if len(p) >= deflateDict {
		d.dict = append(d.dict[:0], p[len(p)-deflateDict:]...)
	} else {
		if keep := deflateDict - len(p); len(d.dict) > keep {
			d.dict = append(d.dict[:0], d.dict[len(d.dict)-keep:]...)
		}
		d.dict = append(d.dict, p...)
	}
	return len(p), nil
}
