package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"io"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/spill"
)

// Temp holds a message in transit: an SMTP DATA or an IMAP APPEND literal
// from its first byte until it has been sealed to every recipient. It is
// written once as it arrives and read back once per recipient, so the
// message never has to be held in memory whole.
//
// What is kept is ciphertext under a random 256-bit key made for this Temp
// alone, which exists only in this value's memory: it is never written,
// logged or derived from anything, and Discard forgets it. The ciphertext is
// the STREAM construction (Hoang, Reyhanitabar, Rogaway and Vizár, 2015; as
// age and Tink's streaming AEAD use it) over AES-256-GCM: the plaintext cut
// into chunks of tempChunk bytes, chunk i sealed with the nonce
// i (8 bytes, big-endian) | last (1 byte: 1 for the final chunk) | 0 0 0,
// so chunks cannot be reordered, dropped, or the stream cut short without
// the reader noticing. Up to tempMemory bytes of ciphertext stay in memory;
// beyond that they go to an anonymous file (package spill) in the Temp's
// directory, which has no name and so disappears with the process however
// it ends. Nothing in the directory can be opened again without the key,
// and the key dies with the process.
//
// A Temp is written by one goroutine, then Finished; after that NewReader
// may be called any number of times, from several goroutines.
type Temp struct {
	aead  cipher.AEAD
	buf   *spill.Buffer
	chunk []byte // plaintext not yet sealed (< tempChunk bytes)
	n     int64  // plaintext bytes written
	count uint64 // chunks sealed
	done  bool
	err   error
}

const (
	// tempChunk is the plaintext size of a chunk.
	tempChunk = 64 << 10
	// tempMemory is how much ciphertext a Temp keeps in memory before
	// spilling to a file: enough for most messages never to touch a disk.
	tempMemory = 256 << 10
	gcmTag     = 16
)

// NewTemp returns an empty Temp spilling to an anonymous file in dir.
func NewTemp(dir string) (*Temp, error) {
	const op = "seal.NewTemp"
	key := make([]byte, 32)
	defer wipe(key)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	// The chunk buffer grows as data comes: most messages are far smaller
	// than a chunk.
	return &Temp{aead: aead, buf: spill.NewBuffer(dir, tempMemory)}, nil
}

func tempNonce(i uint64, last bool) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[:8], i)
	if last {
		n[8] = 1
	}
	return n[:]
}

// Write appends plaintext. A failure (disk full: Unavailable) is final.
func (t *Temp) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.done {
		return 0, errors.E("seal.Temp.Write", errors.Invalid, errors.Str("write after Finish"))
	}
	n := 0
	for len(p) > 0 {
		if len(t.chunk) == tempChunk {
			if err := t.sealChunk(false); err != nil {
				return n, err
			}
		}
		m := min(len(p), tempChunk-len(t.chunk))
		t.chunk = append(t.chunk, p[:m]...)
		p = p[m:]
		n += m
		t.n += int64(m)
	}
	return n, nil
}

// sealChunk seals the pending chunk and appends it to the buffer. A full
// chunk is sealed only once more data comes, so the last chunk is always
// known to be last when it is sealed.
func (t *Temp) sealChunk(last bool) error {
	ct := t.aead.Seal(t.chunk[:0:0], tempNonce(t.count, last), t.chunk, nil)
	clear(t.chunk)
	t.chunk = t.chunk[:0]
	t.count++
	if _, err := t.buf.Write(ct); err != nil {
		t.err = errors.E("seal.Temp.Write", errors.KindOf(err), err)
		return t.err
	}
	return nil
}

// Finish seals the last chunk; the Temp can be read from then on.
func (t *Temp) Finish() error {
	if t.err != nil || t.done {
		return t.err
	}
	if err := t.sealChunk(true); err != nil {
		return err
	}
	t.done = true
	t.chunk = nil
	return nil
}

// Size is the number of plaintext bytes written.
func (t *Temp) Size() int64 { return t.n }

// NewReader returns a reader of the plaintext from offset off (0: the
// start). A chunk that fails authentication (the file was tampered with)
// is an Internal error from Read, before any of its bytes are returned.
func (t *Temp) NewReader(off int64) io.Reader {
	if !t.done {
		return errReader{errors.E("seal.Temp.NewReader", errors.Invalid, errors.Str("Temp not finished"))}
	}
	i := uint64(off / tempChunk)
	return &tempReader{t: t, next: i, skip: int(off % tempChunk)}
}

// Discard forgets the key and frees the memory and the file. The Temp must
// not be used after.
func (t *Temp) Discard() {
	t.aead = nil // the key lives only in the cipher's state
	clear(t.chunk)
	t.chunk = nil
	t.buf.Close()
	if t.err == nil {
		t.err = errors.E("seal.Temp", errors.Invalid, errors.Str("discarded"))
	}
}

type tempReader struct {
	t    *Temp
	next uint64 // next chunk to open
	skip int    // bytes of it to drop (the start offset)
	ct   []byte // ciphertext buffer, reused
	pt   []byte // plaintext of the current chunk not yet read
	err  error
}

func (r *tempReader) Read(p []byte) (int, error) {
	for len(r.pt) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.next >= r.t.count {
			return 0, io.EOF
		}
		r.err = r.open()
	}
	n := copy(p, r.pt)
	r.pt = r.pt[n:]
	return n, nil
}

// open reads, authenticates and decrypts the next chunk.
func (r *tempReader) open() error {
	const op = "seal.Temp.Read"
	if r.t.aead == nil {
		return errors.E(op, errors.Invalid, errors.Str("Temp discarded"))
	}
	i := r.next
	off := int64(i) * (tempChunk + gcmTag)
	n := min(int64(tempChunk+gcmTag), r.t.buf.Len()-off)
	if n < gcmTag {
		return errors.E(op, errors.Internal, errors.Str("temporary file truncated"))
	}
	if cap(r.ct) < int(n) {
		r.ct = make([]byte, n)
	}
	ct := r.ct[:n]
	if _, err := r.t.buf.ReadAt(ct, off); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	pt, err := r.t.aead.Open(ct[:0], tempNonce(i, i == r.t.count-1), ct, nil)
	if err != nil {
		return errors.E(op, errors.Internal, errors.Str("temporary file does not authenticate"))
	}
	r.next++
	if r.skip > len(pt) {
		return errors.E(op, errors.Invalid, errors.Str("offset past the end"))
	}
	r.pt = pt[r.skip:]
	r.skip = 0
	return nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
