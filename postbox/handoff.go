package postbox

import (
	"bytes"
	"context"
	"io"
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
	// Filters says that delivery here runs filters for the account (an
	// active Sieve script, a trained classifier, or the deployment's spam
	// engine): such mail must reach this region as it arrived (Deliver),
	// not sealed elsewhere, since only here can its filter key be opened.
	Filters bool
}

// SealMessage seals raw for the holder of r the way this region stores it
// (SealTo) in memory, and returns the sealed bytes and the size the
// message will have over IMAP.
func SealMessage(r *seal.Recipient, ownKey bool, raw []byte, from, to string, now time.Time) ([]byte, int64, error) {
	var buf bytes.Buffer
	buf.Grow(r.SealedSizeHint(len(raw)) + 1024)
	size, err := SealTo(&buf, r, ownKey, Bytes(raw), from, to, now)
	if err != nil {
		return nil, 0, errors.E("postbox.SealMessage", err)
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
	filters, err := s.runsFilters(ctx, t.acct)
	if err != nil {
		return RecipientKey{}, errors.E("postbox.RecipientKey", err)
	}
	return RecipientKey{Address: t.acct.Address, KeyID: keyID, PublicKey: t.pub, OwnKey: t.acct.OwnKey, Filters: filters}, nil
}

// DeliverSealed files a message sealed elsewhere (by SealTo, to the key
// RecipientKey returned), read from sealed as it arrives, in addr's mailbox
// of the given use: UseInbox, or UseJunk for a message the MX quarantined
// (any other use is Invalid). keyID must still be the active generation
// (else Invalid, before sealed is read: the sender fetches the key again
// and reseals), and the account must have no filters to run here (else
// Invalid too: RecipientKey now says Filters, and the sender hands the
// message over as it arrived). size is the plaintext's; for an own-key
// account the stored PGP/MIME message is what IMAP serves, so its length
// is the size and the argument is ignored. When it returns nil the message is durable; else no
// blob is left.
func (s *Service) DeliverSealed(ctx context.Context, addr string, keyID sealpost.KeyID, sealed io.Reader, size int64, use sealpost.SpecialUse) error {
	const op = "postbox.DeliverSealed"
	if size < 0 || size > s.opts.MaxMessageSize {
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
	// Mail for an account filtered here must arrive as it was received
	// (Deliver): the sender's RecipientKey predates the account's filters.
	// Invalid, as for a stale key, makes the sender ask again.
	if filters, err := s.runsFilters(ctx, t.acct); err != nil {
		return errors.E(op, err)
	} else if filters {
		return errors.E(op, errors.Invalid, errors.Str("the account's mail is filtered here: hand it over as it arrived"))
	}
	mbox, err := s.filing(ctx, t, use)
	if err != nil {
		return errors.E(op, err)
	}
	ref, n, err := s.putFrom(ctx, sealed, 2*s.opts.MaxMessageSize+(1<<20))
	if err != nil {
		return errors.E(op, err)
	}
	if t.acct.OwnKey {
		size = n
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
