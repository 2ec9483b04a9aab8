package postbox

import (
	"bytes"
	"context"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/seal"
)

// This file is delivery across regions. A node that receives mail for an
// account homed in another region (a front door's MX, or another region's
// node) asks the home region for the account's public key, seals the
// message in memory with SealMessage, and hands over only the sealed bytes
// (DeliverSealed). The plaintext never reaches the receiving node's disk
// and never crosses to the home region.

// RecipientKey is what a sender in another region needs to seal for an
// account: nothing secret.
type RecipientKey struct {
	Address   string
	KeyID     sealpost.KeyID // 0 for an own-key account
	PublicKey []byte         // OpenPGP transferable public key, binary
	OwnKey    bool           // seal as PGP/MIME (the owner's client decrypts)
}

// SealMessage seals raw for the holder of r the way this region stores it:
// an OpenPGP message, or PGP/MIME for an own-key account. It returns the
// sealed bytes and the size the message will have over IMAP.
func SealMessage(r *seal.Recipient, ownKey bool, raw []byte, from, to string, now time.Time) ([]byte, int64, error) {
	var buf bytes.Buffer
	buf.Grow(r.SealedSizeHint(len(raw)) + 1024)
	size := int64(len(raw))
	var err error
	if ownKey {
		err = seal.SealPGPMIME(&buf, r, raw, from, to, now)
		size = int64(buf.Len())
	} else {
		err = r.Seal(&buf, raw)
	}
	if err != nil {
		return nil, 0, errors.E("postbox.SealMessage", errors.Internal, err)
	}
	return buf.Bytes(), size, nil
}

// RecipientKey returns the key new mail for addr is sealed to.
func (s *Service) RecipientKey(ctx context.Context, addr string) (RecipientKey, error) {
	t, err := s.target(ctx, sealpost.NormalizeAddress(addr))
	if err != nil {
		return RecipientKey{}, errors.E("postbox.RecipientKey", err)
	}
	keyID := t.keyID
	if t.acct.OwnKey {
		keyID = 0
	}
	return RecipientKey{Address: t.acct.Address, KeyID: keyID, PublicKey: t.pub, OwnKey: t.acct.OwnKey}, nil
}

// DeliverSealed files a message sealed elsewhere (by SealMessage, to the key
// RecipientKey returned) in addr's mailbox of the given use: UseInbox, or
// UseJunk for a message the MX quarantined (any other use is Invalid).
// keyID must still be the active generation (else Invalid: the sender
// fetches the key again and reseals). When it returns nil the message is
// durable.
func (s *Service) DeliverSealed(ctx context.Context, addr string, keyID sealpost.KeyID, sealed []byte, size int64, use sealpost.SpecialUse) error {
	const op = "postbox.DeliverSealed"
	if size < 0 || size > s.opts.MaxMessageSize || int64(len(sealed)) > 2*s.opts.MaxMessageSize+(1<<20) {
		return errors.E(op, errors.TooLarge)
	}
	t, err := s.target(ctx, sealpost.NormalizeAddress(addr))
	if err != nil {
		return errors.E(op, err)
	}
	want := t.keyID
	if t.acct.OwnKey {
		want = 0
	}
	if keyID != want {
		s.forgetTarget(addr)
		return errors.E(op, errors.Invalid, errors.Errorf("sealed to key %d, the active key is %d", keyID, want))
	}
	mbox, err := s.filing(ctx, t, use)
	if err != nil {
		return errors.E(op, err)
	}
	ref, err := s.blobs.Put(ctx, sealed)
	if err != nil {
		return errors.E(op, err)
	}
	added, err := s.store.AddMessages(ctx, []sealpost.NewMessage{{
		Mailbox: mbox, InternalDate: s.opts.Now(), Size: size, Blob: ref, Key: keyID,
		Limit: s.storageLimit(t.acct, false),
	}})
	if err != nil {
		s.forgetTarget(addr)
		s.blobs.Delete(ctx, ref)
		return errors.E(op, err)
	}
	s.syncLive(ctx, added)
	return nil
}
