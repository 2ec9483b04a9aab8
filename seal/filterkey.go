package seal

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"io"

	"github.com/sealpost/sealpost/errors"
)

// An account's filter key F seals what the account keeps besides its mail
// so that incoming mail can be sorted before it is sealed (its Sieve
// scripts, its spam classifier's model, its vacation memory;
// sealpost.AccountObject). F itself is stored only wrapped: to the owner's
// key, which only the owner's sessions open, and, unless the owner chose
// the strictest mode, to the region's deployment key, which the delivering
// process opens. docs/SECURITY.md ("Filters") says what each wrap allows.
//
// Objects are sealed with AES-256-GCM under a key derived from F with
// HKDF-SHA256 (RFC 5869) for their purpose, with a random 96-bit nonce,
// and bound (as associated data) to the account's address and the
// object's kind, so that an object cannot be passed off as another
// account's or as another kind.

const (
	filterKeyLen     = 32
	filterRecordType = 0x46 // 'F': an object sealed under a filter key
	labelFilter      = "sealpost filter object v1"
	infoFilterSeal   = "sealpost filter seal v1"
)

// FilterKey is an account's filter key F, in memory only.
type FilterKey struct {
	seal []byte // derived: the objects' AEAD key
	f    []byte
}

// NewFilterKey makes a fresh random filter key.
func NewFilterKey() (*FilterKey, error) {
	f := make([]byte, filterKeyLen)
	if _, err := rand.Read(f); err != nil {
		return nil, errors.E("seal.NewFilterKey", errors.Internal, err)
	}
	return newFilterKey(f)
}

func newFilterKey(f []byte) (*FilterKey, error) {
	k, err := hkdf.Key(sha256.New, f, nil, infoFilterSeal, keyLen)
	if err != nil {
		return nil, errors.E("seal.FilterKey", errors.Internal, err)
	}
	return &FilterKey{seal: k, f: f}, nil
}

// A Sealer seals to one public key (a *Recipient; sealpost.Sealer).
type Sealer interface {
	Seal(w io.Writer, plaintext []byte) error
}

// WrapTo seals F to r (the owner's key or the deployment key): an
// OpenPGP message, opened with OpenFilterKey.
func (k *FilterKey) WrapTo(r Sealer) ([]byte, error) {
	var buf bytes.Buffer
	if err := r.Seal(&buf, k.f); err != nil {
		return nil, errors.E("seal.FilterKey.WrapTo", err)
	}
	return buf.Bytes(), nil
}

// OpenFilterKey opens a wrap made by WrapTo with the matching private key.
// Sealed if wrapped is not sealed to u; Invalid if it is not a filter key.
func OpenFilterKey(u *Unlocked, wrapped []byte) (*FilterKey, error) {
	const op = "seal.OpenFilterKey"
	f, _, err := u.Open(wrapped, nil)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if len(f) != filterKeyLen {
		wipe(f)
		return nil, errors.E(op, errors.Invalid, errors.Str("not a filter key"))
	}
	return newFilterKey(f)
}

// Derive returns a 32-byte key for another purpose (the classifier's token
// hashing, the vacation memory's sender hashing), independent of the
// objects' sealing key and of any other purpose (HKDF, RFC 5869).
func (k *FilterKey) Derive(purpose string) [32]byte {
	var out [32]byte
	d, err := hkdf.Key(sha256.New, k.f, nil, "sealpost filter derive v1 "+purpose, len(out))
	if err != nil {
		panic("seal: " + err.Error()) // cannot fail for 32 bytes of SHA-256
	}
	copy(out[:], d)
	wipe(d)
	return out
}

// Equal reports whether k and o are the same key (constant time).
func (k *FilterKey) Equal(o *FilterKey) bool {
	return subtle.ConstantTimeCompare(k.f, o.f) == 1
}

// Wipe zeroes the key in memory; k must not be used afterwards.
func (k *FilterKey) Wipe() {
	wipe(k.f)
	wipe(k.seal)
}

// SealObject seals an object's plaintext under k, bound to binding (the
// account's address and the object's kind).
func (k *FilterKey) SealObject(binding, plaintext []byte) ([]byte, error) {
	out, err := aeadSeal(rand.Reader, k.seal, labelFilter, []byte{filterRecordType}, binding, plaintext)
	if err != nil {
		return nil, errors.E("seal.FilterKey.SealObject", errors.Internal, err)
	}
	return out, nil
}

// OpenObject opens what SealObject sealed with the same key and binding;
// anything else (another key, another binding, a damaged record) is
// Invalid.
func (k *FilterKey) OpenObject(binding, sealed []byte) ([]byte, error) {
	const op = "seal.FilterKey.OpenObject"
	if len(sealed) < 1+nonceLen+tagLen || sealed[0] != filterRecordType {
		return nil, errors.E(op, errors.Invalid, errors.Str("not a filter object"))
	}
	plain, err := aeadOpen(k.seal, labelFilter, sealed[:1], binding, sealed[1:])
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("filter object does not open with this key"))
	}
	return plain, nil
}
