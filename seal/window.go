package seal

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealpost/sealpost/errors"
)

// The at-rest message format v2 ("window" messages): standard AEAD, and one
// public-key operation per delivery window instead of one per message.
//
//	message:  'S' 2 | rlen u16 | W record[rlen] | salt[32] | chunk 0 | chunk 1 | …
//	W record: OpenPGP v3 PKESK packet(s) (RFC 4880 5.1) whose session key is W
//	          (cipher octet AES-256), to the recipient's encryption subkey
//	K       = HKDF-SHA256(IKM = W, salt = salt, info = "sealpost message v2")
//	chunk i = AES-256-GCM(K, nonce = i u64 | last u8 | 0 0 0, plaintext[i],
//	                      associated data = salt)
//
// The plaintext is cut into chunks of windowChunk bytes (the last may be
// shorter, or empty for an empty message); the nonce numbers each chunk and
// marks the last, the STREAM construction seal.Temp also uses, so chunks
// cannot be reordered, dropped, or the message cut short unnoticed. K is
// unique to the message (a random 256-bit salt), so counter nonces never
// repeat under one key.
//
// A Window is the delivering side's W for one recipient: made fresh, held
// only in memory, sealed to the recipient's public key once (the W record
// every message of the window carries), and dropped by its holder after a
// bounded time or count. The owner's Unlocked opens a W record with one
// X25519 operation and remembers W in memory, keyed by the record's SHA-256,
// so the rest of the window's messages open with HKDF and AES-GCM alone.
// The operator's disk holds W only sealed to the owner.
const (
	recMessage    = 'S'
	formatV2      = 2
	windowSaltLen = 32
	windowChunk   = 64 << 10
	windowHdrMin  = 2 + 2 + windowSaltLen
	infoMessageV2 = "sealpost message v2"
	// maxWindowRecord bounds a W record's length (a PKESK to a 4096-bit
	// RSA key is about 530 bytes).
	maxWindowRecord = 4096
	// windowCacheMax bounds how many windows' W an Unlocked remembers.
	windowCacheMax = 1024
)

// Window seals messages to one recipient under one delivery window key W.
// It is safe for concurrent use; Wipe forgets W.
type Window struct {
	mu     sync.RWMutex
	w      []byte // W; nil once wiped
	record []byte // W sealed to the recipient (the W record)
}

// NewWindow makes a fresh window key W for r and seals it to r's encryption
// key: one public-key operation, the only one the window's messages cost.
func (r *Recipient) NewWindow() (*Window, error) {
	const op = "seal.NewWindow"
	w := make([]byte, sessionCipher.KeySize())
	if _, err := io.ReadFull(rand.Reader, w); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	var rec bytes.Buffer
	cfg := &packet.Config{DefaultCipher: sessionCipher}
	if err := packet.SerializeEncryptedKeyAEAD(&rec, r.enc, sessionCipher, false, w, cfg); err != nil {
		wipe(w)
		return nil, errors.E(op, errors.Internal, err)
	}
	if rec.Len() > maxWindowRecord {
		wipe(w)
		return nil, errors.E(op, errors.Invalid, errors.Str("recipient's key makes too large a window record"))
	}
	return &Window{w: w, record: rec.Bytes()}, nil
}

// Wipe overwrites W; later seals fail with a Sealed error.
func (wd *Window) Wipe() {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	wipe(wd.w)
	wd.w = nil
}

// SealFrom seals everything read from src into w as a v2 message of this
// window, as it reads (memory bounded by one chunk), and returns the number
// of plaintext bytes read.
func (wd *Window) SealFrom(w io.Writer, src io.Reader) (int64, error) {
	const op = "seal.Window.SealFrom"
	wd.mu.RLock()
	defer wd.mu.RUnlock()
	if wd.w == nil {
		return 0, errors.E(op, errors.Sealed, errWiped)
	}
	hdr := make([]byte, 0, windowHdrMin+len(wd.record))
	hdr = append(hdr, recMessage, formatV2)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(wd.record)))
	hdr = append(hdr, wd.record...)
	salt := make([]byte, windowSaltLen)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return 0, errors.E(op, errors.Internal, err)
	}
	hdr = append(hdr, salt...)
	key, err := messageKey(wd.w, salt)
	if err != nil {
		return 0, errors.E(op, errors.Internal, err)
	}
	g := newGCM(key)
	wipe(key)
	if _, err := w.Write(hdr); err != nil {
		return 0, errors.E(op, sealKindOf(err), err)
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	// A full chunk is sealed only once more data shows it is not the last,
	// so the pending plaintext and the sealed chunk are separate buffers.
	wb := windowBufs.Get().(*windowBuf)
	defer windowBufs.Put(wb)
	buf, pending := wb.ct[:0], wb.pt[:0]
	defer clear(wb.pt)
	var n int64
	var i uint64
	flush := func(last bool) error {
		ct := g.Seal(buf[:0], windowNonce(i, last), pending, salt)
		i++
		pending = pending[:0]
		_, err := w.Write(ct)
		return err
	}
	for {
		m, rerr := src.Read((*bp)[:min(len(*bp), windowChunk)])
		for p := (*bp)[:m]; len(p) > 0; {
			if len(pending) == windowChunk {
				if err := flush(false); err != nil {
					return n, errors.E(op, sealKindOf(err), err)
				}
			}
			k := min(len(p), windowChunk-len(pending))
			pending = append(pending, p[:k]...)
			p = p[k:]
		}
		n += int64(m)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, errors.E(op, sealKindOf(rerr), rerr)
		}
	}
	if err := flush(true); err != nil {
		return n, errors.E(op, sealKindOf(err), err)
	}
	return n, nil
}

// sealKindOf keeps the kind of a writer's or reader's error (a full disk is
// Unavailable); anything else is Internal.
func sealKindOf(err error) errors.Kind {
	if k := errors.KindOf(err); k != errors.Other {
		return k
	}
	return errors.Internal
}

// windowBuf is SealFrom's working memory, recycled: delivery seals many
// small messages, and a fresh 128 KiB each time would dominate its cost.
type windowBuf struct{ pt, ct []byte }

var windowBufs = sync.Pool{New: func() any {
	return &windowBuf{pt: make([]byte, windowChunk), ct: make([]byte, windowChunk+gcmTag)}
}}

func windowNonce(i uint64, last bool) []byte {
	var n [nonceLen]byte
	binary.BigEndian.PutUint64(n[:8], i)
	if last {
		n[8] = 1
	}
	return n[:]
}

// messageKey is HKDF-SHA256 (RFC 5869) of W with the message's salt.
func messageKey(w, salt []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, w, salt, infoMessageV2, keyLen)
}

// IsWindowMessage reports whether sealed is in the v2 window format rather
// than an OpenPGP message (whose first octet always has its high bit set,
// RFC 4880 4.2).
func IsWindowMessage(sealed []byte) bool {
	return len(sealed) >= 2 && sealed[0] == recMessage
}

// windowParts splits a v2 message into its W record, salt and chunks.
func windowParts(sealed []byte) (record, salt, chunks []byte, err error) {
	if len(sealed) < windowHdrMin || sealed[0] != recMessage {
		return nil, nil, nil, errors.Str("not a window message")
	}
	if sealed[1] != formatV2 {
		return nil, nil, nil, errors.Errorf("message format %d unknown", sealed[1])
	}
	rlen := int(binary.BigEndian.Uint16(sealed[2:4]))
	if rlen > maxWindowRecord || len(sealed) < windowHdrMin+rlen {
		return nil, nil, nil, errors.Str("message header truncated")
	}
	record = sealed[4 : 4+rlen]
	salt = sealed[4+rlen : 4+rlen+windowSaltLen]
	return record, salt, sealed[4+rlen+windowSaltLen:], nil
}

// openChunks decrypts and authenticates every chunk under key; no plaintext
// is returned unless all of them, and the end marker, hold.
func openChunks(key, salt, chunks []byte) ([]byte, error) {
	g := newGCM(key)
	full := windowChunk + gcmTag
	nchunks := len(chunks)/full + 1
	if len(chunks)%full == 0 && len(chunks) > 0 {
		nchunks = len(chunks) / full // a plaintext of whole chunks
	}
	if len(chunks) < gcmTag {
		return nil, errors.Str("message truncated")
	}
	out := make([]byte, 0, len(chunks)-nchunks*gcmTag)
	for i := range nchunks {
		ct := chunks[:min(full, len(chunks))]
		chunks = chunks[len(ct):]
		last := i == nchunks-1
		var err error
		if out, err = g.Open(out, windowNonce(uint64(i), last), ct, salt); err != nil {
			clear(out)
			return nil, errors.Str("message does not authenticate (tampered, truncated or wrong key)")
		}
	}
	return out, nil
}

// windowCache remembers the W of windows an Unlocked has opened, keyed by
// the SHA-256 of their W record. It is bounded: when full, it is emptied
// (a miss costs one public-key operation).
type windowCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte][]byte
}

func (c *windowCache) get(id [sha256.Size]byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.m[id]) // the caller wipes its copy
}

func (c *windowCache) put(id [sha256.Size]byte, w []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= windowCacheMax {
		c.wipe()
		c.m = make(map[[sha256.Size]byte][]byte)
	}
	c.m[id] = bytes.Clone(w)
}

func (c *windowCache) wipe() {
	for _, w := range c.m {
		wipe(w)
	}
	c.m = nil
}

// windowKey returns W for a W record: from the cache, or with one
// public-key operation. The caller holds u.mu for reading.
func (u *Unlocked) windowKey(record []byte) ([]byte, error) {
	id := sha256.Sum256(record)
	if w := u.windows.get(id); w != nil {
		return w, nil
	}
	br := bytes.NewReader(record)
	var eks []*packet.EncryptedKey
	for br.Len() > 0 && len(eks) < maxPKESK {
		p, err := packet.Read(br)
		if err != nil {
			return nil, errors.E(errors.Invalid, errors.Errorf("window record: %v", err))
		}
		ek, ok := p.(*packet.EncryptedKey)
		if !ok {
			return nil, errors.E(errors.Invalid, errors.Errorf("window record holds %T", p))
		}
		eks = append(eks, ek)
	}
	c, w, err := u.sessionKey(eks)
	if err != nil {
		return nil, err
	}
	defer wipe(w)
	if c != sessionCipher {
		return nil, errors.E(errors.Invalid, errors.Str("window key for another cipher"))
	}
	u.windows.put(id, w)
	return bytes.Clone(w), nil
}

// openWindow opens a v2 message: W (cached or one public-key operation),
// then HKDF and AES-GCM. It returns the plaintext and the message key.
// The caller holds u.mu for reading.
func (u *Unlocked) openWindow(sealed []byte) (plaintext, key []byte, err error) {
	record, salt, chunks, err := windowParts(sealed)
	if err != nil {
		return nil, nil, errors.E(errors.Invalid, err)
	}
	w, err := u.windowKey(record)
	if err != nil {
		return nil, nil, err
	}
	key, err = messageKey(w, salt)
	wipe(w)
	if err != nil {
		return nil, nil, errors.E(errors.Internal, err)
	}
	plaintext, err = openChunks(key, salt, chunks)
	if err != nil {
		wipe(key)
		return nil, nil, errors.E(errors.Invalid, err)
	}
	return plaintext, key, nil
}

// openWindowCached opens a v2 message with its message key.
func openWindowCached(sealed, key []byte) ([]byte, error) {
	_, salt, chunks, err := windowParts(sealed)
	if err != nil {
		return nil, errors.E(errors.Invalid, err)
	}
	pt, err := openChunks(key, salt, chunks)
	if err != nil {
		return nil, errors.E(errors.Invalid, err)
	}
	return pt, nil
}

// ExportMessage returns a stored message in the form gpg opens: an OpenPGP
// message as it is stored; a v2 window message opened (with
// wrappedSessionKey if not nil, as OpenCached; otherwise as Open) and sealed
// again to u's own encryption key as an OpenPGP message (Recipient.Seal:
// PKESK + SEIPD v1, AES-256 with MDC). Only the owner's session can do
// this, as only it can open the message.
func (u *Unlocked) ExportMessage(sealed, wrappedSessionKey, binding []byte) ([]byte, error) {
	const op = "seal.ExportMessage"
	if !IsWindowMessage(sealed) {
		return sealed, nil
	}
	var plain []byte
	var err error
	if wrappedSessionKey != nil {
		plain, err = u.OpenCached(sealed, wrappedSessionKey, binding)
	}
	if wrappedSessionKey == nil || err != nil {
		plain, _, err = u.Open(sealed, binding)
	}
	if err != nil {
		return nil, errors.E(op, err)
	}
	defer clear(plain)
	u.mu.RLock()
	if len(u.dec) == 0 {
		u.mu.RUnlock()
		return nil, errors.E(op, errors.Sealed, errWiped)
	}
	r := &Recipient{fpr: u.fpr, enc: &u.dec[0].PublicKey, overhead: 1024}
	u.mu.RUnlock()
	var buf bytes.Buffer
	if err := r.Seal(&buf, plain); err != nil {
		return nil, errors.E(op, err)
	}
	return buf.Bytes(), nil
}
