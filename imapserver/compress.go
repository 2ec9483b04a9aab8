package imapserver

import (
	"io"

	"github.com/klauspost/compress/flate"

	goimap "github.com/emersion/go-imap/v2/imapserver"
)

var _ goimap.SessionCompress = (*session)(nil)

// deflateDict is how much of what was sent serves as the next write's
// dictionary: StatelessDeflate's most.
const deflateDict = 8 << 10

// DeflateWriter implements COMPRESS=DEFLATE's server-to-client side (RFC
// 4978). A compressor that keeps its state keeps its hash tables too: 1.2
// MiB per connection for compress/flate's, 300-800 KiB for klauspost's, too
// much to spend on every idle mobile client. Instead each write (a response
// line, or a run of literal bytes) is deflated on its own by klauspost's
// StatelessDeflate, whose working memory is pooled, with the last 8 KiB
// sent as its dictionary, and flushed to a byte boundary: a connection
// holds 8 KiB for its compression, and responses still compress against
// what went before.
func (s *session) DeflateWriter(w io.Writer) io.Writer { return &deflateWriter{w: w} }

type deflateWriter struct {
	w    io.Writer
	dict []byte // the last deflateDict bytes written, at most
}

func (d *deflateWriter) Write(p []byte) (int, error) {
	if err := flate.StatelessDeflate(d.w, p, false, d.dict); err != nil {
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
