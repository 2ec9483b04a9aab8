package seal

import (
	"crypto/rand"
	"io"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealpost/sealpost/errors"
)

// sealChunk bounds each write into go-crypto's packet writers. Their
// partial-length writer (RFC 4880 4.2.2.4) flushes one power-of-two chunk
// per Write and buffers the rest, so cutting writes keeps its buffer near
// twice this size however much is sealed.
const sealChunk = 32 << 10

// SealStream returns a writer that seals what is written to it for r and
// writes the OpenPGP message to w as it goes: the same packets as Seal
// (RFC 4880 11.3: a v3 PKESK, then a SEIPD v1 packet, AES-256 with MDC,
// holding one binary literal data packet), the literal data in partial
// lengths (4.2.2.4), so its size need not be known. Close writes the end of
// both packets and the MDC; until then w holds an incomplete message. The
// memory used is a few times sealChunk, whatever the message's size. The
// session key exists only inside go-crypto's cipher state.
func (r *Recipient) SealStream(w io.Writer) (io.WriteCloser, error) {
	const op = "seal.SealStream"
	key := make([]byte, sessionCipher.KeySize())
	defer wipe(key)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	cfg := &packet.Config{DefaultCipher: sessionCipher}
	if err := packet.SerializeEncryptedKeyAEAD(w, r.enc, sessionCipher, false, key, cfg); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	seipd, err := packet.SerializeSymmetricallyEncrypted(w, sessionCipher, false, packet.CipherSuite{}, key, cfg)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	lit, err := packet.SerializeLiteral(seipd, true, "", 0)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return &chunkWriter{w: lit}, nil
}

// chunkWriter cuts writes to sealChunk bytes and names errors.
type chunkWriter struct {
	w   io.WriteCloser
	err error
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n := 0
	for len(p) > 0 {
		m := min(len(p), sealChunk)
		k, err := c.w.Write(p[:m])
		n += k
		if err != nil {
			c.err = errors.E("seal.SealStream", errors.KindOf(err), err)
			return n, c.err
		}
		p = p[m:]
	}
	return n, nil
}

// Close closes the literal packet, which closes the SEIPD packet and
// writes the MDC.
func (c *chunkWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	if err := c.w.Close(); err != nil {
		c.err = errors.E("seal.SealStream", errors.KindOf(err), err)
		return c.err
	}
	c.err = errors.E("seal.SealStream", errors.Invalid, errors.Str("write after Close"))
	return nil
}

// SealFrom seals everything read from src for r into w (SealStream), and
// returns the number of plaintext bytes read.
func (r *Recipient) SealFrom(w io.Writer, src io.Reader) (int64, error) {
	sw, err := r.SealStream(w)
	if err != nil {
		return 0, err
	}
	n, err := copyChunks(sw, src)
	if err != nil {
		return n, err
	}
	return n, sw.Close()
}

// copyBufs recycles copyChunks' buffers: a delivery to n accounts copies n
// times.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, sealChunk); return &b }}

// copyChunks is io.Copy with a sealChunk buffer, never delegating to
// ReadFrom or WriteTo (which might read or write everything at once).
func copyChunks(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		m, rerr := src.Read(buf)
		if m > 0 {
			k, werr := dst.Write(buf[:m])
			n += int64(k)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
