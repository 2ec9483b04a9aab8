package dkim

import (
	"bytes"
	"io"
	"strings"
)

// Canonicalization is a canonicalization algorithm.
type Canonicalization string

const (
	CanonicalizationSimple  Canonicalization = "simple"
	CanonicalizationRelaxed                  = "relaxed"
)

type canonicalizer interface {
	CanonicalizeHeader(s string) string
	CanonicalizeBody(w io.Writer) io.WriteCloser
}

var canonicalizers = map[Canonicalization]canonicalizer{
	CanonicalizationSimple:  new(simpleCanonicalizer),
	CanonicalizationRelaxed: new(relaxedCanonicalizer),
}

// crlfFixer fixes any lone LF without a preceding CR.
type crlfFixer struct {
	cr bool
}

func (cf *crlfFixer) Fix(b []byte) []byte {
	// Sealpost patch 1: mail arrives with CRLF line ends (RFC 5321 2.3.8),
	// so most writes hold no lone LF: return them as they are, without a
	// copy made byte by byte.
	if cf.noLoneLF(b) {
		if len(b) > 0 {
			cf.cr = b[len(b)-1] == '\r'
		}
		return b
	}
	res := make([]byte, 0, len(b))
	for _, ch := range b {
		prevCR := cf.cr
		cf.cr = false
		switch ch {
		case '\r':
			cf.cr = true
		case '\n':
			if !prevCR {
				res = append(res, '\r')
			}
		}
		res = append(res, ch)
	}
	return res
}

// noLoneLF reports whether every LF in b follows a CR (the first may
// follow the CR that ended the previous write).
func (cf *crlfFixer) noLoneLF(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return true
		}
		i += j
		if (i == 0 && !cf.cr) || (i > 0 && b[i-1] != '\r') {
			return false
		}
		i++
	}
}

type simpleCanonicalizer struct{}

func (c *simpleCanonicalizer) CanonicalizeHeader(s string) string {
	return s
}

type simpleBodyCanonicalizer struct {
	w         io.Writer
	crlfBuf   []byte
	crlfFixer crlfFixer
}

func (c *simpleBodyCanonicalizer) Write(b []byte) (int, error) {
	written := len(b)
	b = c.crlfFixer.Fix(b)

	// Sealpost patch 10: upstream appended every write to the line ends
	// held from the one before (a copy of each write). Held line ends
	// followed by anything but more line ends are not trailing: they
	// are written first and b is cut alone; only a write of nothing but
	// line ends is joined to them.
	if len(c.crlfBuf) > 0 {
		if onlyLineEnds(b) {
			c.crlfBuf = append(c.crlfBuf, b...)
			b = c.crlfBuf
		} else {
			if _, err := c.w.Write(c.crlfBuf); err != nil {
				return written, err
			}
			c.crlfBuf = c.crlfBuf[:0]
		}
	}

	end := len(b)
	// If it ends with \r, maybe the next write will begin with \n
	if end > 0 && b[end-1] == '\r' {
		end--
	}
	// Keep all \r\n sequences
	for end >= 2 {
		prev := b[end-2]
		cur := b[end-1]
		if prev != '\r' || cur != '\n' {
			break
		}
		end -= 2
	}

	var err error
	if end > 0 {
		_, err = c.w.Write(b[:end])
	}
	// Our own copy: b may be the caller's. When b is crlfBuf, this
	// moves its tail to the front (copy allows the overlap).
	c.crlfBuf = append(c.crlfBuf[:0], b[end:]...)
	return written, err
}

// onlyLineEnds reports whether b holds nothing but CR and LF bytes.
func onlyLineEnds(b []byte) bool {
	for _, ch := range b {
		if ch != '\r' && ch != '\n' {
			return false
		}
	}
	return true
}

func (c *simpleBodyCanonicalizer) Close() error {
	// Flush crlfBuf if it ends with a single \r (without a matching \n)
	if len(c.crlfBuf) > 0 && c.crlfBuf[len(c.crlfBuf)-1] == '\r' {
		if _, err := c.w.Write(c.crlfBuf); err != nil {
			return err
		}
	}
	c.crlfBuf = nil

	if _, err := c.w.Write([]byte(crlf)); err != nil {
		return err
	}
	return nil
}

func (c *simpleCanonicalizer) CanonicalizeBody(w io.Writer) io.WriteCloser {
	return &simpleBodyCanonicalizer{w: w}
}

type relaxedCanonicalizer struct{}

func (c *relaxedCanonicalizer) CanonicalizeHeader(s string) string {
	k, v, ok := strings.Cut(s, ":")
	if !ok {
		return strings.TrimSpace(strings.ToLower(s)) + ":" + crlf
	}

	k = strings.TrimSpace(strings.ToLower(k))
	// Sealpost patch 9: the value's runs of WSP and line ends made one
	// space, leading and trailing ones dropped, in one buffer (what
	// strings.Join of strings.FieldsFunc gave, without a string a word).
	var b strings.Builder
	b.Grow(len(k) + 1 + len(v) + len(crlf))
	b.WriteString(k)
	b.WriteByte(':')
	space := false
	for i := 0; i < len(v); {
		if relaxedSpecial[v[i]] {
			space = true
			i++
			continue
		}
		if space && b.Len() > len(k)+1 {
			b.WriteByte(' ')
		}
		space = false
		j := i + 1
		for j < len(v) && !relaxedSpecial[v[j]] {
			j++
		}
		b.WriteString(v[i:j])
		i = j
	}
	b.WriteString(crlf)
	return b.String()
}

// relaxedSpecial holds the bytes the relaxed body canonicalization looks
// at: WSP and the line ends (Sealpost patch 9).
var relaxedSpecial = [256]bool{' ': true, '\t': true, '\r': true, '\n': true}

type relaxedBodyCanonicalizer struct {
	w         io.Writer
	buf       []byte // Sealpost patch 6: canonical, kept from write to write
	crlfBuf   []byte
	wsp       bool
	written   bool
	crlfFixer crlfFixer
}

func (c *relaxedBodyCanonicalizer) Write(b []byte) (int, error) {
	written := len(b)

	b = c.crlfFixer.Fix(b)

	// Sealpost patch 6: one buffer for every write, not one each.
	canonical := c.buf[:0]
	if cap(canonical) < len(b) {
		canonical = make([]byte, 0, len(b))
	}
	for i := 0; i < len(b); {
		ch := b[i]
		if ch == ' ' || ch == '\t' {
			c.wsp = true
			i++
		} else if ch == '\r' || ch == '\n' {
			c.wsp = false
			c.crlfBuf = append(c.crlfBuf, ch)
			i++
		} else {
			if len(c.crlfBuf) > 0 {
				canonical = append(canonical, c.crlfBuf...)
				c.crlfBuf = c.crlfBuf[:0]
			}
			if c.wsp {
				canonical = append(canonical, ' ')
				c.wsp = false
			}

			// Sealpost patch 2: the run of ordinary bytes at once.
			// Sealpost patch 9: a single space between ordinary bytes
			// is its own canonical form, so it does not end the run.
			j := i + 1
			for j < len(b) {
				if !relaxedSpecial[b[j]] {
					j++
				} else if b[j] == ' ' && j+1 < len(b) && !relaxedSpecial[b[j+1]] {
					j += 2
				} else {
					break
				}
			}
			canonical = append(canonical, b[i:j]...)
			i = j
		}
	}

	if !c.written && len(canonical) > 0 {
		c.written = true
	}

	_, err := c.w.Write(canonical)
	c.buf = canonical[:0]
	return written, err
}

func (c *relaxedBodyCanonicalizer) Close() error {
	if c.written {
		if _, err := c.w.Write([]byte(crlf)); err != nil {
			return err
		}
	}
	return nil
}

func (c *relaxedCanonicalizer) CanonicalizeBody(w io.Writer) io.WriteCloser {
	return &relaxedBodyCanonicalizer{w: w}
}

type limitedWriter struct {
	W io.Writer
	N int64
}

func (w *limitedWriter) Write(b []byte) (int, error) {
	if w.N <= 0 {
		return len(b), nil
	}

	skipped := 0
	if int64(len(b)) > w.N {
		b = b[:w.N]
		skipped = int(int64(len(b)) - w.N)
	}

	n, err := w.W.Write(b)
	w.N -= int64(n)
	return n + skipped, err
}
