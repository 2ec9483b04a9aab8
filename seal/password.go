package seal

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"io"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
)

const (
	saltLen     = 16
	keyLen      = 32
	paramsLen   = 4 + 4 + 1
	formatV1    = 1
	recVerifier = 'V'
	recPassword = 'P'
	recRecovery = 'R'
	recSession  = 'K'
)

// HKDF info strings: each derived key has its own, so no key is ever used
// for two purposes (RFC 5869 3.2).
const (
	infoAuth        = "sealpost v1 password auth key"
	infoKEK         = "sealpost v1 password key-encryption key"
	infoRecoveryKEK = "sealpost v1 recovery key-encryption key"
)

// appendParams appends p as a record stores it: time and memory big-endian,
// then the lanes (paramsLen bytes).
func appendParams(b []byte, p pwhash.Params) []byte {
	b = binary.BigEndian.AppendUint32(b, p.Time)
	b = binary.BigEndian.AppendUint32(b, p.MemoryKiB)
	return append(b, p.Threads)
}

// parseParams reads the parameters appendParams wrote. The caller checks
// them with Validate before use.
func parseParams(b []byte) pwhash.Params {
	return pwhash.Params{
		Time:      binary.BigEndian.Uint32(b[0:4]),
		MemoryKiB: binary.BigEndian.Uint32(b[4:8]),
		Threads:   b[8],
	}
}

// derive runs Argon2id once over secret and splits its 64-byte output with
// HKDF-SHA256 into two 32-byte keys named by info1 and info2. p must be
// valid.
func derive(secret, salt []byte, p pwhash.Params, info1, info2 string) (k1, k2 []byte) {
	ikm := pwhash.Key(secret, salt, p, 64)
	defer wipe(ikm)
	k1 = hkdfKey(ikm, info1)
	if info2 != "" {
		k2 = hkdfKey(ikm, info2)
	}
	return k1, k2
}

func hkdfKey(ikm []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, ikm, nil, info, keyLen)
	if err != nil {
		// Only possible for an output longer than 255*32 bytes.
		panic("seal: hkdf: " + err.Error())
	}
	return k
}

// A Secret holds the key-encryption key derived from a password. It exists
// only in memory, for the length of a session or an administrative action.
// A Secret may be used by several goroutines at once, except Wipe.
type Secret struct {
	kek []byte
}

// Wipe overwrites the key. The Secret is unusable afterwards.
func (s *Secret) Wipe() {
	if s == nil {
		return
	}
	wipe(s.kek)
	s.kek = nil
}

func (s *Secret) key() ([]byte, error) {
	if s == nil || len(s.kek) != keyLen {
		return nil, errors.Str("secret is wiped")
	}
	return s.kek, nil
}

// NewPassword derives keys from a new password under a fresh random salt. It
// returns the verifier to store and the Secret whose KEK wraps the account's
// key bundles.
func NewPassword(password string, p pwhash.Params) (verifier []byte, s *Secret, err error) {
	const op = "seal.NewPassword"
	if password == "" {
		return nil, nil, errors.E(op, errors.Invalid, errors.Str("empty password"))
	}
	if err := p.Validate(); err != nil {
		return nil, nil, errors.E(op, errors.Invalid, err)
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return nil, nil, errors.E(op, errors.Internal, err)
	}
	auth, kek := derive([]byte(password), salt, p, infoAuth, infoKEK)
	sum := sha256.Sum256(auth)
	wipe(auth)

	v := make([]byte, 0, verifierLen)
	v = append(v, recVerifier, formatV1)
	v = appendParams(v, p)
	v = append(v, salt...)
	v = append(v, sum[:]...)
	return v, &Secret{kek: kek}, nil
}

const verifierLen = 2 + paramsLen + saltLen + sha256.Size

// parseVerifier splits a stored verifier record into its parts.
func parseVerifier(v []byte) (p pwhash.Params, salt, sum []byte, err error) {
	if len(v) < 2 || v[0] != recVerifier {
		return p, nil, nil, errors.Str("not a password verifier record")
	}
	if v[1] != formatV1 {
		return p, nil, nil, errors.Errorf("unknown verifier version %d", v[1])
	}
	if len(v) != verifierLen {
		return p, nil, nil, errors.Str("verifier record has the wrong length")
	}
	p = parseParams(v[2:])
	if err := p.Validate(); err != nil {
		return p, nil, nil, err
	}
	salt = v[2+paramsLen : 2+paramsLen+saltLen]
	sum = v[2+paramsLen+saltLen:]
	return p, salt, sum, nil
}

// CheckPassword checks password against a stored verifier, with one Argon2id
// run. On success it returns the password's Secret; on a mismatch, a
// Permission error. A malformed verifier is an Invalid error.
func CheckPassword(verifier []byte, password string) (*Secret, error) {
	const op = "seal.CheckPassword"
	p, salt, want, err := parseVerifier(verifier)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	auth, kek := derive([]byte(password), salt, p, infoAuth, infoKEK)
	got := sha256.Sum256(auth)
	wipe(auth)
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		wipe(kek)
		return nil, errors.E(op, errors.Permission, errors.Str("wrong password"))
	}
	return &Secret{kek: kek}, nil
}

// wipe overwrites b with zeros. It is best effort: the garbage collector
// may have copied the bytes elsewhere.
func wipe(b []byte) {
	clear(b)
}
