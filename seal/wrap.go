package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base32"
	"io"
	"strings"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
)

const (
	nonceLen = 12 // AES-GCM's standard 96-bit nonce
	tagLen   = 16

	labelBundle  = "sealpost bundle v1"
	labelSession = "sealpost session key v1"
)

func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("seal: " + err.Error()) // keys are always 32 bytes here
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic("seal: " + err.Error())
	}
	return g
}

// associatedData is label, a NUL, the record header and the caller's
// binding. The label and header have fixed lengths for a given record
// type, so the concatenation is unambiguous.
func associatedData(label string, header, binding []byte) []byte {
	ad := make([]byte, 0, len(label)+1+len(header)+len(binding))
	ad = append(ad, label...)
	ad = append(ad, 0)
	ad = append(ad, header...)
	return append(ad, binding...)
}

// aeadSeal returns header | nonce | AES-256-GCM(key, plaintext) with a random
// nonce, authenticating label, header and binding.
func aeadSeal(rnd io.Reader, key []byte, label string, header, binding, plaintext []byte) ([]byte, error) {
	g := newGCM(key)
	out := make([]byte, len(header)+nonceLen, len(header)+nonceLen+len(plaintext)+tagLen)
	copy(out, header)
	nonce := out[len(header):]
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, err
	}
	return g.Seal(out, nonce, plaintext, associatedData(label, header, binding)), nil
}

// aeadOpen opens the nonce | ciphertext that follows header in a record made
// by aeadSeal. The caller checks that rest is long enough.
func aeadOpen(key []byte, label string, header, binding, rest []byte) ([]byte, error) {
	g := newGCM(key)
	return g.Open(nil, rest[:nonceLen], rest[nonceLen:], associatedData(label, header, binding))
}

// Recovery codes: 20 random bytes (160 bits), base32 (RFC 4648 6) without
// padding, in groups of four: "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567".
const (
	recoveryLen   = 20
	recoveryChars = 32
	recoveryGroup = 4
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func newRecoveryCode(rnd io.Reader) (code string, raw []byte, err error) {
	raw = make([]byte, recoveryLen)
	if _, err := io.ReadFull(rnd, raw); err != nil {
		return "", nil, err
	}
	s := b32.EncodeToString(raw)
	var b strings.Builder
	for i := 0; i < len(s); i += recoveryGroup {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i : i+recoveryGroup])
	}
	return b.String(), raw, nil
}

// parseRecoveryCode decodes a code as the user typed it: case does not
// matter, dashes and white space are ignored, and the digits 0, 1 and 8,
// which base32 does not use, are read as the letters O, I and B they are
// mistaken for.
func parseRecoveryCode(code string) ([]byte, error) {
	var b strings.Builder
	for _, c := range code {
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c == '0':
			c = 'O'
		case c == '1':
			c = 'I'
		case c == '8':
			c = 'B'
		}
		if b.Len() >= recoveryChars {
			return nil, errors.Str("recovery code too long")
		}
		b.WriteRune(c)
	}
	if b.Len() != recoveryChars {
		return nil, errors.Str("recovery code has the wrong length")
	}
	raw, err := b32.DecodeString(b.String())
	if err != nil || len(raw) != recoveryLen {
		return nil, errors.Str("recovery code has characters outside A-Z and 2-7")
	}
	return raw, nil
}

// The secret bundle: 1 | len u32 | OpenPGP private key | MK.
func encodeBundle(priv, mk []byte) []byte {
	b := make([]byte, 0, 1+4+len(priv)+len(mk))
	b = append(b, formatV1)
	b = append(b, byte(len(priv)>>24), byte(len(priv)>>16), byte(len(priv)>>8), byte(len(priv)))
	b = append(b, priv...)
	return append(b, mk...)
}

func decodeBundle(b []byte) (priv, mk []byte, err error) {
	if len(b) < 1+4+keyLen {
		return nil, nil, errors.Str("bundle too short")
	}
	if b[0] != formatV1 {
		return nil, nil, errors.Errorf("unknown bundle version %d", b[0])
	}
	n := uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
	if n != uint64(len(b)-5-keyLen) {
		return nil, nil, errors.Str("bundle length mismatch")
	}
	return b[5 : 5+n], b[5+n:], nil
}

// Wrap seals the bundle under the password Secret s, for storing as
// Key.WrappedByPassword (after a password change, under the new Secret).
func (u *Unlocked) Wrap(s *Secret) ([]byte, error) {
	return u.wrap(s, rand.Reader)
}

func (u *Unlocked) wrap(s *Secret, rnd io.Reader) ([]byte, error) {
	const op = "seal.Wrap"
	kek, err := s.key()
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.mk == nil {
		return nil, errors.E(op, errors.Sealed, errWiped)
	}
	bundle := encodeBundle(u.priv, u.mk)
	defer wipe(bundle)
	out, err := aeadSeal(rnd, kek, labelBundle, []byte{recPassword, formatV1}, nil, bundle)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return out, nil
}

// WrapRecovery seals the bundle under a key derived from the recovery code
// with Argon2id parameters p and a fresh salt, both kept in the record.
func (u *Unlocked) WrapRecovery(code string, p pwhash.Params) ([]byte, error) {
	const op = "seal.WrapRecovery"
	raw, err := parseRecoveryCode(code)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	return u.wrapRecovery(op, raw, p, rand.Reader)
}

func (u *Unlocked) wrapRecovery(op string, raw []byte, p pwhash.Params, rnd io.Reader) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	header := make([]byte, 0, recoveryHeaderLen)
	header = append(header, recRecovery, formatV1)
	header = appendParams(header, p)
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	header = append(header, salt...)
	rk, _ := derive(raw, salt, p, infoRecoveryKEK, "")
	defer wipe(rk)

	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.mk == nil {
		return nil, errors.E(op, errors.Sealed, errWiped)
	}
	bundle := encodeBundle(u.priv, u.mk)
	defer wipe(bundle)
	out, err := aeadSeal(rnd, rk, labelBundle, header, nil, bundle)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return out, nil
}

const (
	passwordHeaderLen = 2
	recoveryHeaderLen = 2 + paramsLen + saltLen
)

// Unwrap opens a bundle wrapped under this password Secret. A record that
// does not authenticate under the Secret (another password, or tampered) is
// a Permission error; a malformed record, Invalid.
func (s *Secret) Unwrap(wrapped []byte) (*Unlocked, error) {
	const op = "seal.Unwrap"
	kek, err := s.key()
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	if err := checkHeader(wrapped, recPassword, passwordHeaderLen); err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	bundle, err := aeadOpen(kek, labelBundle, wrapped[:passwordHeaderLen], nil, wrapped[passwordHeaderLen:])
	if err != nil {
		return nil, errors.E(op, errors.Permission, errors.Str("bundle does not open with this password"))
	}
	return unlockBundle(op, bundle)
}

// UnwrapRecovery opens a bundle wrapped under a recovery code. A code that
// does not open it is a Permission error; a code that is not in the form
// Generate produces, or a malformed record, Invalid.
func UnwrapRecovery(wrapped []byte, code string) (*Unlocked, error) {
	const op = "seal.UnwrapRecovery"
	if err := checkHeader(wrapped, recRecovery, recoveryHeaderLen); err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	p := parseParams(wrapped[2:])
	if err := p.Validate(); err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	raw, err := parseRecoveryCode(code)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	header := wrapped[:recoveryHeaderLen]
	rk, _ := derive(raw, header[2+paramsLen:], p, infoRecoveryKEK, "")
	defer wipe(rk)
	bundle, err := aeadOpen(rk, labelBundle, header, nil, wrapped[recoveryHeaderLen:])
	if err != nil {
		return nil, errors.E(op, errors.Permission, errors.Str("bundle does not open with this recovery code"))
	}
	return unlockBundle(op, bundle)
}

// checkHeader checks a wrapped record's type, version and minimum length
// (header, nonce, tag).
func checkHeader(rec []byte, typ byte, headerLen int) error {
	if len(rec) < 2 || rec[0] != typ {
		return errors.Str("not a record of the expected type")
	}
	if rec[1] != formatV1 {
		return errors.Errorf("unknown record version %d", rec[1])
	}
	if len(rec) < headerLen+nonceLen+tagLen {
		return errors.Str("record too short")
	}
	return nil
}

func unlockBundle(op string, bundle []byte) (*Unlocked, error) {
	defer wipe(bundle)
	priv, mk, err := decodeBundle(bundle)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	u, err := newUnlocked(priv, mk)
	if err != nil {
		return nil, errors.E(op, err)
	}
	return u, nil
}
