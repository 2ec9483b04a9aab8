package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/sealpost/sealpost/errors"
)

// decryptSEIPDv1 decrypts a version 1 Symmetrically Encrypted Integrity
// Protected Data packet (RFC 4880 5.13, RFC 9580 5.13.1) whose session key
// is known, for AES ciphers, with the standard library's AES-CFB and SHA-1.
//
// It exists for speed alone: go-crypto's OpenPGP CFB decrypter works a byte
// at a time, and on the FETCH hot path (every read after the first) it was a
// third of the server's CPU. The format is the same one go-crypto reads, and
// nothing here is new cryptography: RFC 4880 5.13 specifies plain CFB with
// an all-zero IV over (prefix || packets || MDC packet), no resynchronisation,
// and the MDC is SHA-1 over everything before its 20-byte hash. The whole
// packet is decrypted into memory and the MDC is checked before any of it is
// parsed or returned. Tests cross-check it against go-crypto's reader on
// every size and every single-byte corruption (cfb_test.go).
//
// ok is false when the cipher is not AES, and the caller must use
// go-crypto's path.
func decryptSEIPDv1(br *bytes.Reader, se *packet.SymmetricallyEncrypted, c packet.CipherFunction, key []byte) (plaintext []byte, ok bool, err error) {
	switch c {
	case packet.CipherAES128, packet.CipherAES192, packet.CipherAES256:
	default:
		return nil, false, nil
	}
	if len(key) != c.KeySize() {
		return nil, true, errors.Str("session key has the wrong size")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, true, errors.Str("bad session key")
	}
	// The packet body after its version octet; strictReader turns a body
	// shorter than its declared length into an error rather than an EOF.
	contents := &strictReader{r: se.Contents}
	ct, err := readAll(contents, br.Len())
	if err != nil || contents.err != nil {
		return nil, true, errors.Str("encrypted data packet truncated")
	}
	if br.Len() != 0 {
		return nil, true, errors.Str("data after the encrypted packet")
	}
	const bs = aes.BlockSize
	const mdcLen = 2 + sha1.Size // the MDC packet: tag 0xD3, length 0x14, hash
	if len(ct) < bs+2+mdcLen {
		return nil, true, errors.Str("encrypted data packet too short")
	}
	// Decrypted in place (ct is our own buffer). RFC 4880 5.13 mandates CFB
	// here; integrity comes from the MDC checked below.
	pt := ct
	cipher.NewCFBDecrypter(block, make([]byte, bs)).XORKeyStream(pt, ct) //nolint:staticcheck
	// RFC 4880 5.13: the MDC hash covers the prefix, the plaintext packets
	// and the MDC packet's two header octets.
	hashed := pt[:len(pt)-sha1.Size]
	sum := sha1.Sum(hashed)
	mdcOK := pt[len(pt)-mdcLen] == 0xD3 && pt[len(pt)-mdcLen+1] == 0x14
	if subtle.ConstantTimeCompare(sum[:], pt[len(pt)-sha1.Size:]) != 1 || !mdcOK {
		return nil, true, errors.Str("modification detection code mismatch")
	}
	// The prefix's quick check (RFC 4880 5.7): its last two octets repeat.
	if pt[bs-2] != pt[bs] || pt[bs-1] != pt[bs+1] {
		return nil, true, errors.Str("modification detection code mismatch")
	}
	body := bytes.NewReader(pt[bs+2 : len(pt)-mdcLen])
	p, err := packet.Read(body)
	if err != nil {
		return nil, true, errors.Str("decrypted data is not a packet")
	}
	lit, isLit := p.(*packet.LiteralData)
	if !isLit {
		return nil, true, errors.Errorf("decrypted %T, want literal data", p)
	}
	plaintext, err = readAll(lit.Body, body.Len())
	if err != nil {
		return nil, true, errors.Str("literal data truncated")
	}
	if _, err := body.ReadByte(); err != io.EOF {
		return nil, true, errors.Str("data after the literal packet")
	}
	return plaintext, true, nil
}
