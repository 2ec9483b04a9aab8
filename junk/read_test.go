package junk

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadAtMost holds readAtMost to io.ReadAll of an io.LimitReader, the
// code it replaced, over readers that yield little at a time, end with
// their data, or fail.
func TestReadAtMost(t *testing.T) {
	data := strings.Repeat("0123456789", 300)
	boom := errors.New("boom")
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return strings.NewReader(data) },
		"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(data)) },
		"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(data)) },
		"data+EOF": func() io.Reader { return iotest.DataErrReader(strings.NewReader(data)) },
		"error":    func() io.Reader { return io.MultiReader(strings.NewReader(data[:700]), iotest.ErrReader(boom)) },
	}
	for name, r := range readers {
		for _, n := range []int{0, 1, 511, 512, 700, 2999, 3000, 3001, 100 << 10} {
			want, wantErr := io.ReadAll(io.LimitReader(r(), int64(n)))
			for _, dst := range [][]byte{nil, make([]byte, 0, 100), make([]byte, 3, 8)} {
				got, err := readAtMost(dst, r(), n)
				if !bytes.Equal(got[len(dst):], want) || !bytes.Equal(got[:len(dst)], dst) || !errors.Is(err, wantErr) && err != wantErr {
					t.Errorf("%s, n=%d, dst %d/%d: got %d bytes, %v; want %d, %v", name, n, len(dst), cap(dst), len(got)-len(dst), err, len(want), wantErr)
				}
			}
		}
	}
}
