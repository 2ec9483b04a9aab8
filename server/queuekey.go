package server

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/seal"
)

// queueKey loads, or makes once, the key pair that seals the outbound queue.
//
// Mail for other servers must leave in the form the recipient's server
// accepts, so the process that delivers it must be able to open it: the
// queue is sealed at rest to this deployment key, whose passphrase lives in
// dir (an operator may keep dir on separate, access-controlled storage).
// docs/SECURITY.md explains what this does and does not protect.
func queueKey(dir string, p pwhash.Params) (*seal.Recipient, error) {
	const op = "server.queueKey"
	pubFile := filepath.Join(dir, "queue-key.pub")
	if pub, err := os.ReadFile(pubFile); err == nil {
		r, err := seal.ParseRecipient(pub)
		if err != nil {
			return nil, errors.E(op, errors.Invalid, err)
		}
		return r, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	pass := base64.RawStdEncoding.EncodeToString(raw[:])
	verifier, secret, err := seal.NewPassword(pass, p)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	defer secret.Wipe()
	gen, err := seal.Generate("queue@sealpost.invalid", secret, p, nil)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"queue-key.passphrase", []byte(pass)},
		{"queue-key.verifier", verifier},
		{"queue-key.wrapped", gen.WrappedByPassword},
		{"queue-key.pub", gen.PublicKey},
	} {
		if err := writeFileSync(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
	}
	return seal.ParseRecipient(gen.PublicKey)
}

// openQueueKey unlocks the deployment key made by queueKey: the private
// half that opens the outbound queue and the sealed DKIM keys, in memory
// only, for the delivery service of this process. It needs the
// passphrase file beside the key.
func openQueueKey(dir string) (*seal.Unlocked, error) {
	const op = "server.openQueueKey"
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	pass, err := read("queue-key.passphrase")
	if err != nil {
		return nil, errors.E(op, errors.Unavailable, errors.Errorf("the deployment key's passphrase: %w", err))
	}
	verifier, err := read("queue-key.verifier")
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	wrapped, err := read("queue-key.wrapped")
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	secret, err := seal.CheckPassword(verifier, string(pass))
	if err != nil {
		return nil, errors.E(op, err)
	}
	defer secret.Wipe()
	u, err := secret.Unwrap(wrapped)
	if err != nil {
		return nil, errors.E(op, err)
	}
	return u, nil
}

// OpenSealed opens data sealed to the deployment key (a queue entry, a
// DKIM key) with u. Deployment-key blobs carry no cached session key, so
// every open is one public-key operation.
func OpenSealed(u *seal.Unlocked, sealed []byte) ([]byte, error) {
	plain, _, err := u.Open(sealed, nil)
	return plain, err
}
