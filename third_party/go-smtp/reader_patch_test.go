package smtp

// Sealpost patches 4 and 5: the DATA reader and the line-length reader
// give what upstream's gave, for any input read in any pieces.

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// upstreamDataRead is dataReader.Read as released in v0.25.1.
func upstreamDataRead(r *dataReader, b []byte) (n int, err error) {
	if r.limited {
		if r.n <= 0 {
			return 0, ErrDataTooLarge
		}
		if int64(len(b)) > r.n {
			b = b[0:r.n]
		}
	}
	const (
		stateBeginLine = iota
		stateDot
		stateDotCR
		stateCR
		stateData
		stateEOF
	)
	for n < len(b) && r.state != stateEOF {
		var c byte
		c, err = r.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			break
		}
		switch r.state {
		case stateBeginLine:
			if c == '.' {
				r.state = stateDot
				continue
			}
			if c == '\r' {
				r.state = stateCR
				break
			}
			r.state = stateData
		case stateDot:
			if c == '\r' {
				r.state = stateDotCR
				continue
			}
			r.state = stateData
		case stateDotCR:
			if c == '\n' {
				r.state = stateEOF
				continue
			}
			r.state = stateData
		case stateCR:
			if c == '\n' {
				r.state = stateBeginLine
				break
			}
			r.state = stateData
		case stateData:
			if c == '\r' {
				r.state = stateCR
			}
		}
		b[n] = c
		n++
	}
	if err == nil && r.state == stateEOF {
		err = io.EOF
	}
	if r.limited {
		r.n -= int64(n)
	}
	return
}

type upstreamData struct{ *dataReader }

func (u upstreamData) Read(b []byte) (int, error) { return upstreamDataRead(u.dataReader, b) }

// upstreamLineLimit is lineLimitReader.Read as released in v0.25.1.
type upstreamLineLimit struct{ *lineLimitReader }

func (u upstreamLineLimit) Read(b []byte) (int, error) {
	r := u.lineLimitReader
	if r.curLineLength > r.LineLimit && r.LineLimit > 0 {
		return 0, ErrTooLongLine
	}
	n, err := r.R.Read(b)
	if err != nil {
		return n, err
	}
	if r.LineLimit == 0 {
		return n, nil
	}
	for _, chr := range b[:n] {
		if chr == '\n' {
			r.curLineLength = 0
		}
		r.curLineLength++
		if r.curLineLength > r.LineLimit {
			return 0, ErrTooLongLine
		}
	}
	return n, nil
}

// readAll reads r in reads of step bytes, returning what it read, the
// first error and the count of reads.
func readAll(r io.Reader, step int) ([]byte, error) {
	var out []byte
	buf := make([]byte, step)
	for i := 0; i < 10000; i++ {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func FuzzReaders(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\n", "..x\r\n.\r\n", ".\rX\r\n.\r\n", "line\r\nmore\n.\r\nafter", "\r\r\n\r.\r\n", "abc", "x\r\n.\r", "long line without end"} {
		f.Add([]byte(s), uint8(7), uint8(16), uint8(5), uint16(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, step, bufSize, lineLimit uint8, max uint16) {
		st, bs := int(step%41)+1, int(bufSize%64)+16
		read := func(patched bool) ([]byte, error) {
			src := iotest.HalfReader(bytes.NewReader(in)) // short reads, as a network gives
			ll := &lineLimitReader{R: src, LineLimit: int(lineLimit % 40)}
			var llr io.Reader = ll
			if !patched {
				llr = upstreamLineLimit{ll}
			}
			dr := &dataReader{r: bufio.NewReaderSize(llr, bs)}
			if max > 0 {
				dr.limited, dr.n = true, int64(max%300)
			}
			if patched {
				return readAll(dr, st)
			}
			return readAll(upstreamData{dr}, st)
		}
		got, gerr := read(true)
		want, werr := read(false)
		if !bytes.Equal(got, want) || gerr != werr {
			t.Fatalf("read %q: got %q, %v; upstream %q, %v", in, got, gerr, want, werr)
		}
	})
}
