package inflate

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand"
	"testing"
	"time"
)

// partialFlush is "c NAMESPACE\r\n" deflated by zlib (level 6, raw) and
// flushed with Z_PARTIAL_FLUSH, as isync's mbsync sends each IMAP command
// under COMPRESS=DEFLATE: the data block, then an empty fixed block whose
// last bits zlib holds back.
var partialFlush = []byte{0x4a, 0x56, 0xf0, 0x73, 0xf4, 0x75, 0x0d, 0x0e, 0x70, 0x74, 0x76, 0xe5, 0xe5, 0x02, 0x08}

// TestPartialFlushReadable: the command is readable with no more input
// (upstream's decompressor waited for the next command's bytes).
func TestPartialFlushReadable(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(partialFlush)
	r := NewReader(pr)
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 64)
		n, _ := io.ReadAtLeast(r, b, len("c NAMESPACE\r\n"))
		got <- string(b[:n])
	}()
	select {
	case s := <-got:
		if s != "c NAMESPACE\r\n" {
			t.Fatalf("read %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the partially flushed command is not readable without more input")
	}
}

// TestSameAsUpstream: whole streams decode to what compress/flate's own
// decompressor gives, at every level and with sync flushes inside.
func TestSameAsUpstream(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		var plain []byte
		for len(plain) < rng.Intn(200_000) {
			if rng.Intn(2) == 0 {
				plain = append(plain, bytes.Repeat([]byte("IMAP "), rng.Intn(50))...)
			} else {
				b := make([]byte, rng.Intn(500))
				rng.Read(b)
				plain = append(plain, b...)
			}
		}
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, rng.Intn(10)-1)
		for off := 0; off < len(plain); {
			n := rng.Intn(30_000) + 1
			if n > len(plain)-off {
				n = len(plain) - off
			}
			w.Write(plain[off : off+n])
			if rng.Intn(3) == 0 {
				w.Flush()
			}
			off += n
		}
		w.Close()
		want, err := io.ReadAll(flate.NewReader(bytes.NewReader(z.Bytes())))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(NewReader(bytes.NewReader(z.Bytes())))
		if err != nil || !bytes.Equal(got, want) || !bytes.Equal(got, plain) {
			t.Fatalf("stream %d: %d bytes, %v; want %d", i, len(got), err, len(want))
		}
	}
}
