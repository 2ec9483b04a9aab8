package postbox

import (
	"context"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// AppendItem is one message of an AppendMany.
type AppendItem struct {
	Msg   Message
	Flags []sealpost.Flag
	Date  time.Time // internal date; zero: now
}

// AppendMany files several messages in one of the session's mailboxes, all
// or none (IMAP MULTIAPPEND, RFC 3502): each is sealed to its own blob, then
// every row is inserted in one transaction, the quota checked for the
// whole; on any failure the blobs already written are deleted and nothing
// is filed. It returns the mailbox (for its UIDVALIDITY) and the new
// messages in input order.
func (ss *Session) AppendMany(ctx context.Context, name string, items []AppendItem) (sealpost.Mailbox, []sealpost.Message, error) {
	const op = "postbox.AppendMany"
	if hidden(name) {
		return sealpost.Mailbox{}, nil, errors.E(op, errors.NotExist)
	}
	s := ss.svc
	for _, it := range items {
		if it.Msg.Size() > s.opts.MaxMessageSize {
			return sealpost.Mailbox{}, nil, errors.E(op, errors.TooLarge)
		}
	}
	mbox, err := s.store.MailboxByName(ctx, ss.acct.ID, name)
	if err != nil {
		return sealpost.Mailbox{}, nil, errors.E(op, err)
	}
	q, _, err := s.limits(ctx, ss.acct.Address)
	if err != nil {
		return mbox, nil, errors.E(op, err)
	}
	now := s.opts.Now()
	msgs := make([]sealpost.NewMessage, 0, len(items))
	for _, it := range items {
		ref, keyID, size, err := s.sealFor(ctx, ss.acct, it.Msg, ss.acct.Address)
		if err != nil {
			s.deleteBlobs(ctx, blobsOf(msgs))
			return mbox, nil, errors.E(op, err)
		}
		date := it.Date
		if date.IsZero() {
			date = now
		}
		msgs = append(msgs, sealpost.NewMessage{
			Mailbox: mbox.ID, Flags: it.Flags, InternalDate: date, Size: size, Blob: ref, Key: keyID, Limit: q.Storage,
		})
	}
	added, err := s.store.AddMessages(ctx, msgs)
	if err != nil {
		s.deleteBlobs(ctx, blobsOf(msgs))
		return mbox, nil, errors.E(op, err)
	}
	s.syncLive(ctx, added)
	return mbox, added, nil
}
