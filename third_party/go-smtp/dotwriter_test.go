package smtp

// Sealpost patch 2: dotWriter's test.

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// FuzzDotWriter checks that dotWriter writes what net/textproto's
// DotWriter writes, for any data cut into writes at any points.
func FuzzDotWriter(f *testing.F) {
	for _, s := range []string{"", ".", "a\r\n.b\r\n", "a\nb\n", "x\r\r\n", "\r", ".\r\n.\r\n", "line\r\n..\r\nend"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		var want, got bytes.Buffer
		ww := bufio.NewWriter(&want)
		wd := textproto.NewWriter(ww).DotWriter()
		gw := bufio.NewWriter(&got)
		gd := &dotWriter{w: gw}
		step := int(cut%17) + 1
		for i := 0; i < len(data); i += step {
			end := i + step
			if end > len(data) {
				end = len(data)
			}
			part := data[i:end]
			wd.Write(part)
			if n, err := gd.Write(part); n != len(part) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		wd.Close()
		gd.Close()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("dotWriter(%q) = %q, textproto writes %q", data, got.Bytes(), want.Bytes())
		}
	})
}
