package seal

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/ecdh"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
)

var errWiped = errors.Str("key has been wiped")

// Generated is a new key generation: what to store (PublicKey and the two
// wraps), what to show the user once (RecoveryCode), and the unlocked key
// for the session that created it.
type Generated struct {
	PublicKey         []byte // binary OpenPGP transferable public key
	WrappedByPassword []byte // bundle under the Secret's KEK
	WrappedByRecovery []byte // bundle under the recovery code
	RecoveryCode      string // shown once, never stored
	Unlocked          *Unlocked
}

// Generate makes a new key generation for address: an OpenPGP v4 key with
// an Ed25519 primary key and an ECDH Curve25519 encryption subkey, user ID
// "<address>", and a random mailbox key. The bundle is wrapped under s and
// under a new recovery code stretched with p. rand may be nil for
// crypto/rand (since Go 1.26 the standard library's key generation reads
// crypto/rand whatever is passed).
func Generate(address string, s *Secret, p pwhash.Params, rnd io.Reader) (*Generated, error) {
	const op = "seal.Generate"
	if rnd == nil {
		rnd = rand.Reader
	}
	if err := p.Validate(); err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	if _, err := s.key(); err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	if address == "" || strings.ContainsFunc(address, func(r rune) bool {
		return r < ' ' || r == 0x7f || strings.ContainsRune("()<>", r)
	}) {
		return nil, errors.E(op, errors.Invalid, errors.Str("unusable address for a user ID"))
	}

	cfg := &packet.Config{
		Rand:          rnd,
		Algorithm:     packet.PubKeyAlgoEdDSA, // legacy EdDSA + ECDH cv25519: v4, gpg 2.2+
		Curve:         packet.Curve25519,
		DefaultHash:   crypto.SHA256,
		DefaultCipher: packet.CipherAES256,
	}
	e, err := openpgp.NewEntity("", "", address, cfg)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	var pub, priv bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	if err := e.SerializePrivateWithoutSigning(&priv, nil); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	defer wipe(priv.Bytes())
	mk := make([]byte, keyLen)
	if _, err := io.ReadFull(rnd, mk); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	// Re-parse what will be stored, so a key that does not round-trip
	// fails now rather than at the first login.
	u, err := newUnlocked(priv.Bytes(), mk)
	wipe(mk)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	code, raw, err := newRecoveryCode(rnd)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	byPassword, err := u.wrap(s, rnd)
	if err != nil {
		return nil, errors.E(op, err)
	}
	byRecovery, err := u.wrapRecovery(op, raw, p, rnd)
	wipe(raw)
	if err != nil {
		return nil, err
	}
	return &Generated{
		PublicKey:         pub.Bytes(),
		WrappedByPassword: byPassword,
		WrappedByRecovery: byRecovery,
		RecoveryCode:      code,
		Unlocked:          u,
	}, nil
}

// Unlocked is an unwrapped secret bundle: the account's OpenPGP private key
// and mailbox key, in memory only. It is safe for concurrent use by
// multiple goroutines.
type Unlocked struct {
	fpr string // primary key fingerprint, upper-case hex

	mu   sync.RWMutex // guards the fields below against Wipe
	priv []byte       // serialized, unencrypted OpenPGP private key
	mk   []byte       // mailbox key
	dec  []*packet.PrivateKey

	windows windowCache // W of the delivery windows opened (window.go)
}

// newUnlocked parses a serialized private key and checks that it is one
// unencrypted key with at least one decryption key. It copies its inputs.
func newUnlocked(priv, mk []byte) (*Unlocked, error) {
	if len(mk) != keyLen {
		return nil, errors.E(errors.Invalid, errors.Str("mailbox key has the wrong length"))
	}
	el, err := openpgp.ReadKeyRing(bytes.NewReader(priv))
	if err != nil {
		return nil, errors.E(errors.Invalid, errors.Errorf("private key: %v", err))
	}
	if len(el) != 1 {
		return nil, errors.E(errors.Invalid, errors.Errorf("private key: %d keys, want 1", len(el)))
	}
	e := el[0]
	if e.PrivateKey == nil || e.PrivateKey.Encrypted {
		return nil, errors.E(errors.Invalid, errors.Str("private key missing or passphrase-protected"))
	}
	u := &Unlocked{
		fpr:  strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)),
		priv: bytes.Clone(priv),
		mk:   bytes.Clone(mk),
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil && !sk.PrivateKey.Encrypted && !sk.PrivateKey.Dummy() &&
			sk.PublicKey.PubKeyAlgo.CanEncrypt() {
			u.dec = append(u.dec, sk.PrivateKey)
		}
	}
	if len(u.dec) == 0 {
		return nil, errors.E(errors.Invalid, errors.Str("private key has no decryption subkey"))
	}
	return u, nil
}

// Fingerprint returns the primary key's fingerprint in upper-case hex, as
// gpg prints it.
func (u *Unlocked) Fingerprint() string { return u.fpr }

// Wipe overwrites the mailbox key and, as far as the OpenPGP library allows,
// the private key. Later calls fail with a Sealed error. It waits for calls
// in progress to finish.
func (u *Unlocked) Wipe() {
	u.mu.Lock()
	defer u.mu.Unlock()
	wipe(u.priv)
	wipe(u.mk)
	for _, k := range u.dec {
		switch pk := k.PrivateKey.(type) {
		case *ecdh.PrivateKey:
			wipe(pk.D)
		case *eddsa.PrivateKey:
			wipe(pk.D)
		}
	}
	u.priv, u.mk, u.dec = nil, nil, nil
	u.windows.mu.Lock()
	u.windows.wipe()
	u.windows.mu.Unlock()
}

// exportS2KCount is the iteration count of the exported key's S2K: the
// largest RFC 4880 3.7.1.3 can express (65011712 bytes hashed), which is
// also what gpg calibrates to on current hardware.
const exportS2KCount = 65011712

// ExportPrivateKey returns the private key, ASCII-armored, its secret parts
// protected with passphrase: S2K usage 254 (SHA-1 checksum), iterated and
// salted SHA-256 S2K, AES-256 (RFC 4880 5.5.3), the format gpg 2.2 and 2.4
// import.
func (u *Unlocked) ExportPrivateKey(passphrase string) ([]byte, error) {
	const op = "seal.ExportPrivateKey"
	if passphrase == "" {
		return nil, errors.E(op, errors.Invalid, errors.Str("empty passphrase"))
	}
	u.mu.RLock()
	if u.priv == nil {
		u.mu.RUnlock()
		return nil, errors.E(op, errors.Sealed, errWiped)
	}
	// Parse a private copy: encrypting mutates the packets, and other
	// goroutines may be using u's.
	el, err := openpgp.ReadKeyRing(bytes.NewReader(u.priv))
	u.mu.RUnlock()
	if err != nil || len(el) != 1 {
		return nil, errors.E(op, errors.Internal, errors.Str("cannot re-read private key"))
	}
	e := el[0]
	cfg := &packet.Config{
		DefaultCipher: packet.CipherAES256,
		S2KConfig: &s2k.Config{
			S2KMode:  s2k.IteratedSaltedS2K,
			Hash:     crypto.SHA256,
			S2KCount: exportS2KCount,
		},
	}
	if err := e.EncryptPrivateKeys([]byte(passphrase), cfg); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	var out bytes.Buffer
	w, err := armor.Encode(&out, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	if err := w.Close(); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// ArmorPublicKey returns an OpenPGP public key (binary or armored) as an
// ASCII-armored public key block. It re-serializes the parsed keys, so only
// public material can come out; input holding private keys is refused.
func ArmorPublicKey(pub []byte) ([]byte, error) {
	const op = "seal.ArmorPublicKey"
	el, err := readKeys(pub)
	if err != nil {
		return nil, errors.E(op, err)
	}
	var out bytes.Buffer
	w, err := armor.Encode(&out, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	for _, e := range el {
		if err := e.Serialize(w); err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// maxPublicKey bounds the size of a public key accepted from a user.
const maxPublicKey = 1 << 20

// readKeys parses public keys, armored or binary, and refuses private ones.
func readKeys(pub []byte) (openpgp.EntityList, error) {
	if len(pub) > maxPublicKey {
		return nil, errors.E(errors.TooLarge, errors.Str("public key larger than 1 MiB"))
	}
	var el openpgp.EntityList
	var err error
	if bytes.HasPrefix(bytes.TrimSpace(pub), []byte("-----BEGIN ")) {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(pub))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(pub))
	}
	if err != nil {
		return nil, errors.E(errors.Invalid, errors.Errorf("public key: %v", err))
	}
	if len(el) == 0 {
		return nil, errors.E(errors.Invalid, errors.Str("no public key"))
	}
	for _, e := range el {
		if e.PrivateKey != nil {
			return nil, errors.E(errors.Invalid, errors.Str("input holds private key material; give the public key only"))
		}
	}
	return el, nil
}
