package postbox

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/seal"
)

// ExportedKey is one key generation in a form standard OpenPGP tools read.
type ExportedKey struct {
	ID         sealpost.KeyID
	Active     bool
	PublicKey  []byte // ASCII-armored
	PrivateKey []byte // ASCII-armored, protected by the export passphrase; nil if locked
}

// ExportKeys returns the account's key generations, the private parts this
// session has unlocked protected by passphrase (OpenPGP S2K, as gpg reads).
func (ss *Session) ExportKeys(ctx context.Context, passphrase string) ([]ExportedKey, error) {
	const op = "postbox.ExportKeys"
	keys, err := ss.svc.store.Keys(ctx, ss.acct.ID)
	if err != nil {
		return nil, errors.E(op, err)
	}
	var out []ExportedKey
	for _, k := range keys {
		pub, err := seal.ArmorPublicKey(k.PublicKey)
		if err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
		ek := ExportedKey{ID: k.ID, Active: k.Active, PublicKey: pub}
		if u := ss.keys[k.ID]; u != nil {
			if ek.PrivateKey, err = u.ExportPrivateKey(passphrase); err != nil {
				return nil, errors.E(op, errors.Internal, err)
			}
		}
		out = append(out, ek)
	}
	return out, nil
}

// ExportMessages calls fn for every message of every mailbox with its
// sealed form: an OpenPGP message to the key generation msg.Key (or, for
// msg.Key 0, the PGP/MIME form of own-key mode). A message stored in the
// v2 format (seal's window messages) is opened with the session's key and
// sealed again as OpenPGP to the same key, so gpg opens every file; an
// OpenPGP one is passed on as stored. Nothing is written in the clear.
func (ss *Session) ExportMessages(ctx context.Context, fn func(mbox sealpost.Mailbox, msg sealpost.Message, sealed []byte) error) error {
	const op = "postbox.ExportMessages"
	mboxes, err := ss.Mailboxes(ctx)
	if err != nil {
		return errors.E(op, err)
	}
	for _, mb := range mboxes {
		msgs, err := ss.svc.store.Messages(ctx, mb.ID, 0)
		if err != nil {
			return errors.E(op, err)
		}
		for _, m := range msgs {
			sealed, err := ss.svc.readBlob(ctx, m.Blob)
			if err != nil {
				return errors.E(op, err)
			}
			if u := ss.keys[m.Key]; m.Key != 0 && u != nil {
				// The v2 at-rest format is sealed again as OpenPGP.
				if sealed, err = u.ExportMessage(sealed, m.SessionKey, []byte(m.Blob)); err != nil {
					return errors.E(op, err)
				}
			}
			if err := fn(mb, m, sealed); err != nil {
				return err
			}
		}
	}
	return nil
}
