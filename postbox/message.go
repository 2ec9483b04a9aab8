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

// Message is the text of a message to file. Delivery reads it once for
// each copy it seals (one per recipient account, the sender's Sent copy,
// the outbound queue), from the start each time, and never holds it whole:
// each copy is sealed as it is read into a BlobWriter. A large message
// arriving over SMTP or IMAP APPEND is a seal.Temp behind this interface;
// a small one made in memory is Bytes.
type Message interface {
	// Size is the message's length in bytes.
	Size() int64
	// NewReader returns a reader of the whole message from its first
	// byte. Readers are used one after another, never at once.
	NewReader() io.Reader
}

// Bytes is a Message held in memory.
type Bytes []byte

// Size is len(b).
func (b Bytes) Size() int64 { return int64(len(b)) }

// NewReader reads b.
func (b Bytes) NewReader() io.Reader { return bytes.NewReader(b) }

// SealTo seals msg for the holder of r the way this region stores it (an
// OpenPGP message, or PGP/MIME for an own-key account) into w as it reads
// it, and returns the size the message has over IMAP: the plaintext's, or
// for an own-key account the PGP/MIME message's.
func SealTo(w io.Writer, r *seal.Recipient, ownKey bool, msg Message, from, to string, now time.Time) (int64, error) {
	const op = "postbox.SealTo"
	var size int64
	var err error
	if ownKey {
		size, err = seal.SealPGPMIMEFrom(w, r, msg.NewReader(), from, to, now)
	} else {
		size, err = r.SealFrom(w, msg.NewReader())
	}
	if err != nil {
		return 0, errors.E(op, sealKind(err), err)
	}
	return size, nil
}

// sealKind keeps the kind of a failure to write (a full disk is
// Unavailable) or to read the message (a damaged temporary is Internal);
// anything else is Internal.
func sealKind(err error) errors.Kind {
	if k := errors.KindOf(err); k != errors.Other {
		return k
	}
	return errors.Internal
}

// putSealed seals msg for acct (keyID and r, its active key) into a new
// blob, durable when it returns. For an own-key account the key ID
// returned is 0.
func (s *Service) putSealed(ctx context.Context, acct sealpost.Account, keyID sealpost.KeyID, r *seal.Recipient, msg Message, from string) (sealpost.BlobRef, sealpost.KeyID, int64, error) {
	const op = "postbox.seal"
	w, err := s.blobs.Create(ctx)
	if err != nil {
		return "", 0, 0, errors.E(op, err)
	}
	defer w.Abort()
	var size int64
	if acct.OwnKey {
		size, err = SealTo(w, r, true, msg, from, acct.Address, s.opts.Now())
		keyID = 0
	} else {
		// Stored mail: the v2 format in the recipient's delivery window.
		size, err = s.windows.sealFrom(w, r, msg.NewReader())
		if err != nil {
			err = errors.E(op, sealKind(err), err)
		}
	}
	if err != nil {
		return "", 0, 0, errors.E(op, err)
	}
	ref, err := w.Commit(ctx)
	if err != nil {
		return "", 0, 0, errors.E(op, err)
	}
	return ref, keyID, size, nil
}

// putFrom writes everything read from src, already sealed, into a new
// blob, durable when it returns, and returns the number of bytes.
func (s *Service) putFrom(ctx context.Context, src io.Reader, limit int64) (sealpost.BlobRef, int64, error) {
	const op = "postbox.put"
	w, err := s.blobs.Create(ctx)
	if err != nil {
		return "", 0, errors.E(op, err)
	}
	defer w.Abort()
	n, err := io.Copy(w, io.LimitReader(src, limit+1))
	if err != nil {
		return "", 0, errors.E(op, sealKind(err), err)
	}
	if n > limit {
		return "", 0, errors.E(op, errors.TooLarge)
	}
	ref, err := w.Commit(ctx)
	if err != nil {
		return "", 0, errors.E(op, err)
	}
	return ref, n, nil
}

// putQueued seals msg to the queue key into a new blob, durable when it
// returns, and returns the plaintext's size.
func (s *Service) putQueued(ctx context.Context, msg Message) (sealpost.BlobRef, int64, error) {
	const op = "postbox.Enqueue"
	w, err := s.blobs.Create(ctx)
	if err != nil {
		return "", 0, errors.E(op, err)
	}
	defer w.Abort()
	size, err := s.opts.QueueKey.SealFrom(w, msg.NewReader())
	if err != nil {
		return "", 0, errors.E(op, sealKind(err), err)
	}
	ref, err := w.Commit(ctx)
	if err != nil {
		return "", 0, errors.E(op, err)
	}
	return ref, size, nil
}

// TempMessage is a message waiting in a seal.Temp (an SMTP DATA or an IMAP
// APPEND literal as it arrived) as a Message.
func TempMessage(t *seal.Temp) Message { return tempMessage{t} }

type tempMessage struct{ t *seal.Temp }

func (m tempMessage) Size() int64          { return m.t.Size() }
func (m tempMessage) NewReader() io.Reader { return m.t.NewReader(0) }
