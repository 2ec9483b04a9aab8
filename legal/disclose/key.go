package disclose

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"

	"github.com/sealpost/sealpost/errors"
)

// PublicKeyPrefix starts the text form of a deployment's signing key.
const PublicKeyPrefix = "sealpost-ed25519:"

// EncodePublicKey returns the text form of a deployment's Ed25519 public
// key: PublicKeyPrefix followed by the standard base64 (RFC 4648 4, with
// padding) of the 32-byte key (RFC 8032 5.1.5), e.g.
//
//	sealpost-ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
//
// It is what a deployment publishes so that an authority can verify its
// packages offline, and what a manifest's SigningKey holds.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// PublicKeyPEM returns pub as a PEM "PUBLIC KEY" block (an X.509
// SubjectPublicKeyInfo, RFC 8410 4), the form OpenSSL reads: see the
// package documentation for checking a signature with it.
func PublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil { // only for a key of the wrong length
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKey reads a public key in either text form: EncodePublicKey's
// or PublicKeyPEM's. Surrounding white space is ignored. A malformed key is
// an Invalid error.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	const op = "disclose.ParsePublicKey"
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, PublicKeyPrefix); ok {
		b, err := base64.StdEncoding.Strict().DecodeString(rest)
		if err != nil {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("bad base64: %v", err))
		}
		if len(b) != ed25519.PublicKeySize {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("key is %d bytes, want %d", len(b), ed25519.PublicKeySize))
		}
		return ed25519.PublicKey(b), nil
	}
	if strings.HasPrefix(s, "-----BEGIN") {
		block, rest := pem.Decode([]byte(s))
		if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
			return nil, errors.E(op, errors.Invalid, errors.Str("not a single PEM PUBLIC KEY block"))
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, errors.E(op, errors.Invalid, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("PEM holds a %T, not an Ed25519 key", k))
		}
		return pub, nil
	}
	return nil, errors.E(op, errors.Invalid, errors.Errorf("a public key starts with %q or is PEM", PublicKeyPrefix))
}
