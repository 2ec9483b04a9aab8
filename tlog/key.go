package tlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/sealpost/sealpost/errors"
)

// NewKey generates a key pair for a log whose origin (C2SP tlog-checkpoint
// origin line, and the note key name) is origin, e.g.
// "mail.example.org/sealpost/log". skey is the signer key in
// golang.org/x/mod/sumdb/note's text form ("PRIVATE+KEY+<origin>+..."); it is
// secret and is what Open takes. vkey is the matching verifier key
// ("<origin>+<hash>+<base64>"), which the log publishes at /key and which a
// monitor needs to verify checkpoints.
func NewKey(origin string) (skey, vkey string, err error) {
	const op = "tlog.NewKey"
	if err := checkOrigin(origin); err != nil {
		return "", "", errors.E(op, errors.Invalid, err)
	}
	skey, vkey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", "", errors.E(op, errors.Internal, err)
	}
	return skey, vkey, nil
}

// VerifierKey returns the verifier key text matching the signer key skey.
func VerifierKey(skey string) (string, error) {
	const op = "tlog.VerifierKey"
	// Let note parse and check skey (name, key hash) first.
	signer, err := note.NewSigner(skey)
	if err != nil {
		return "", errors.E(op, errors.Invalid, errors.Errorf("bad signer key: %v", err))
	}
	// PRIVATE+KEY+<name>+<hash>+<base64(alg || seed)>; note has checked the
	// shape, so the last field is well formed.
	rest := skey
	for range 4 {
		_, rest, _ = strings.Cut(rest, "+")
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", errors.E(op, errors.Invalid, errors.Str("signer key is not an Ed25519 note key"))
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil || v.KeyHash() != signer.KeyHash() {
		return "", errors.E(op, errors.Internal, errors.Str("derived verifier key does not match the signer key"))
	}
	return vkey, nil
}

// checkOrigin applies note's key-name rules, which tlog-checkpoint makes the
// origin's: non-empty valid UTF-8, no Unicode space (so no newline), no '+'.
func checkOrigin(origin string) error {
	if origin == "" || !utf8.ValidString(origin) || strings.ContainsRune(origin, '+') || strings.IndexFunc(origin, unicode.IsSpace) >= 0 {
		return errors.Errorf("invalid log origin %q", origin)
	}
	return nil
}
