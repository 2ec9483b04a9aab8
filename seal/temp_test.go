package seal

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"testing"
)

// A Temp gives back what was written, from any offset, whatever the size
// (in memory, or spilled to an unnamed file), and leaves no file in its
// directory at any point.
func TestTempRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, tempChunk - 1, tempChunk, tempChunk + 1, 5*tempChunk + 3, tempMemory + 1} {
		data := make([]byte, n)
		rand.Read(data)
		tmp, err := NewTemp(dir)
		if err != nil {
			t.Fatal(err)
		}
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1000)
			if _, err := tmp.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if err := tmp.Finish(); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("%d bytes: %d names in the Temp's directory", n, len(ents))
		}
		for _, off := range []int{0, 1, tempChunk, n / 2, n} {
			if off > n {
				continue
			}
			got, err := io.ReadAll(tmp.NewReader(int64(off)))
			if err != nil || !bytes.Equal(got, data[off:]) {
				t.Fatalf("%d bytes from %d: %d bytes back, %v", n, off, len(got), err)
			}
		}
		if tmp.Size() != int64(n) {
			t.Errorf("Size %d, want %d", tmp.Size(), n)
		}
		tmp.Discard()
		if _, err := io.ReadAll(tmp.NewReader(0)); err == nil && n > 0 {
			t.Error("read after Discard succeeded")
		}
	}
}

// A flipped bit anywhere in the stored ciphertext is an error, never
// different plaintext; so is a chunk moved.
func TestTempTampered(t *testing.T) {
	data := make([]byte, 3*tempChunk+10)
	rand.Read(data)
	tmp, err := NewTemp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tmp.Write(data)
	tmp.Finish()
	defer tmp.Discard()
	mem, ok := tmp.buf.InMemory()
	if !ok {
		t.Fatal("expected the ciphertext in memory")
	}
	for _, i := range []int{0, 100, tempChunk + gcmTag - 1, len(mem) - 1} {
		mem[i] ^= 1
		if got, err := io.ReadAll(tmp.NewReader(0)); err == nil {
			t.Fatalf("bit %d flipped: read %d bytes without error", i, len(got))
		}
		mem[i] ^= 1
	}
	// Swap the first two chunks.
	c := tempChunk + gcmTag
	a := bytes.Clone(mem[:c])
	copy(mem[:c], mem[c:2*c])
	copy(mem[c:2*c], a)
	if _, err := io.ReadAll(tmp.NewReader(0)); err == nil {
		t.Fatal("chunks swapped: read without error")
	}
}

// SealStream's output is an ordinary sealed message: it opens to the
// plaintext, for every size around go-crypto's partial-length steps.
func TestSealStreamOpens(t *testing.T) {
	a := newTestAccount(t, "pw")
	u, r := a.gen.Unlocked, a.rcpt
	for _, n := range []int{0, 1, 511, 512, 513, sealChunk, 3*sealChunk + 7, 1 << 20} {
		data := make([]byte, n)
		rand.Read(data)
		var buf bytes.Buffer
		if got, err := r.SealFrom(&buf, bytes.NewReader(data)); err != nil || got != int64(n) {
			t.Fatalf("SealFrom %d bytes: %d, %v", n, got, err)
		}
		pt, _, err := u.Open(buf.Bytes(), []byte("ref"))
		if err != nil || !bytes.Equal(pt, data) {
			t.Fatalf("%d bytes: open: %v", n, err)
		}
	}
}
