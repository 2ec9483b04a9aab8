package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/sealpost/sealpost/errors"
)

// SealPGPMIME writes raw, a complete RFC 5322 message, to w as an RFC 3156
// PGP/MIME encrypted message to r, for accounts that registered their own
// key. The whole original message, headers included, is the encrypted
// payload; the outer headers are only From, To, Date, a new Message-ID,
// MIME-Version and the Subject "..." (the placeholder of the "protected
// headers" convention), so the real subject does not leak. Lines end in
// CRLF. A zero date means now. It writes with a single call to w.
func SealPGPMIME(w io.Writer, r *Recipient, raw []byte, from, to string, date time.Time) error {
	var b bytes.Buffer
	b.Grow(r.SealedSizeHint(len(raw))*4/3 + 2048)
	if _, err := SealPGPMIMEFrom(&b, r, bytes.NewReader(raw), from, to, date); err != nil {
		return err
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return errors.E("seal.SealPGPMIME", errors.Internal, err)
	}
	return nil
}

// SealPGPMIMEFrom is SealPGPMIME reading the message from src and writing
// as it goes (SealStream, then the armor), in memory bounded whatever the
// message's size. It returns the number of bytes written to w: the size of
// the stored message.
func SealPGPMIMEFrom(w io.Writer, r *Recipient, src io.Reader, from, to string, date time.Time) (int64, error) {
	const op = "seal.SealPGPMIME"
	if !headerSafe(from) || !headerSafe(to) {
		return 0, errors.E(op, errors.Invalid, errors.Str("From or To contains a line break or control character"))
	}
	if date.IsZero() {
		date = time.Now()
	}
	var rnd [24]byte
	if _, err := io.ReadFull(rand.Reader, rnd[:]); err != nil {
		return 0, errors.E(op, errors.Internal, err)
	}
	boundary := "sealpost-" + hex.EncodeToString(rnd[:12])
	msgID := "<" + hex.EncodeToString(rnd[12:]) + "@" + messageIDDomain(from) + ">"

	cw := &countWriter{w: w}
	var b bytes.Buffer
	line := func(s string) { b.WriteString(s); b.WriteString("\r\n") }
	flush := func() error {
		_, err := cw.Write(b.Bytes())
		b.Reset()
		return err
	}
	line("From: " + from)
	line("To: " + to)
	line("Date: " + date.Format(time.RFC1123Z))
	line("Message-ID: " + msgID)
	line("Subject: ...")
	line("MIME-Version: 1.0")
	// RFC 3156 4: the protocol parameter is required and must be quoted.
	line(`Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";`)
	line(` boundary="` + boundary + `"`)
	line("")
	line("This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)")
	line("--" + boundary)
	// First part: the control information (RFC 3156 4).
	line("Content-Type: application/pgp-encrypted")
	line("Content-Description: PGP/MIME version identification")
	line("")
	line("Version: 1")
	line("")
	line("--" + boundary)
	// Second part: the encrypted data, ASCII-armored.
	line(`Content-Type: application/octet-stream; name="encrypted.asc"`)
	line("Content-Description: OpenPGP encrypted message")
	line(`Content-Disposition: inline; filename="encrypted.asc"`)
	line("")
	if err := flush(); err != nil {
		return cw.n, errors.E(op, errors.KindOf(err), err)
	}
	// The armor writes lines ending in LF, the last one without; the
	// message's lines end in CRLF.
	aw, err := armor.Encode(&crlfWriter{w: cw}, "PGP MESSAGE", nil)
	if err != nil {
		return cw.n, errors.E(op, errors.Internal, err)
	}
	if _, err := r.SealFrom(aw, src); err != nil {
		return cw.n, errors.E(op, errors.KindOf(err), err)
	}
	if err := aw.Close(); err != nil {
		return cw.n, errors.E(op, errors.KindOf(err), err)
	}
	line("")
	line("")
	line("--" + boundary + "--")
	if err := flush(); err != nil {
		return cw.n, errors.E(op, errors.KindOf(err), err)
	}
	return cw.n, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// crlfWriter writes each LF as CRLF. Its input (armor) has no CR.
type crlfWriter struct {
	w   io.Writer
	buf []byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.buf = c.buf[:0]
	for _, b := range p {
		if b == '\n' {
			c.buf = append(c.buf, '\r')
		}
		c.buf = append(c.buf, b)
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// headerSafe reports whether s can be a header field body as is: no CR, LF
// or other control characters that would end or corrupt the header.
func headerSafe(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
}

// messageIDDomain returns the domain for a new Message-ID: the sender's, or
// a reserved name (RFC 2606) if from has none.
func messageIDDomain(from string) string {
	addr := from
	if a, err := mail.ParseAddress(from); err == nil {
		addr = a.Address
	}
	i := strings.LastIndexByte(addr, '@')
	d := ""
	if i >= 0 {
		d = addr[i+1:]
	}
	if d == "" || strings.ContainsAny(d, "<>()[]\\,;:\" \t@") {
		return "sealpost.invalid"
	}
	return d
}
