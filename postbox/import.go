package postbox

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// This file files mail brought from elsewhere (package importer): like
// delivery it seals each message to the owner's public key only, so that
// whoever runs an import (the operator, for a user) needs no password and
// can read nothing of the result; unlike delivery no filter runs, and the
// message keeps the flags and internal date it had at the source.

// ImportItem is one message of an ImportBatch.
type ImportItem struct {
	Msg   Message
	Flags []sealpost.Flag // \Recent is dropped (RFC 9051 2.3.2: the server's)
	Date  time.Time       // internal date; zero: now
}

// ImportBatch is what Import files: messages for one mailbox of one
// account.
type ImportBatch struct {
	Address string
	// Mailbox is the mailbox's name ("/" as hierarchy delimiter). When Use
	// is set and the account has a mailbox with that special use, that
	// mailbox is the target whatever its name; otherwise the named one,
	// created (with Use, and its parents) when missing.
	Mailbox string
	Use     sealpost.SpecialUse
	Items   []ImportItem
	// Prepared, when not nil, is called once every message is sealed and
	// durable but before any is filed, with the target mailbox as read
	// before the filing (its UIDNext is a lower bound of the UIDs the
	// messages will get) and the messages' blobs in input order: the
	// importer records them, so that after a crash it can tell whether
	// the batch was filed (importer's state). An error aborts the batch.
	Prepared func(mbox sealpost.Mailbox, blobs []sealpost.BlobRef) error
}

// importSealers is how many messages of a batch are sealed at once: each
// waits for the blob store's durable commit, which the pack store shares
// among concurrent writers (one fdatasync for many), so a batch costs a
// few syncs rather than one per message.
const importSealers = 16

// Import seals every message of b to the account's active public key and
// files them all in one transaction (all or none), checked against the
// account's storage quota. When it returns nil they are durable; it
// returns them (with their UIDs) in input order. A message over the size
// limit fails the batch with TooLarge before anything is written: the
// importer checks sizes first.
func (s *Service) Import(ctx context.Context, b ImportBatch) ([]sealpost.Message, error) {
	const op = "postbox.Import"
	for _, it := range b.Items {
		if it.Msg.Size() > s.opts.MaxMessageSize {
			return nil, errors.E(op, errors.TooLarge)
		}
	}
	t, err := s.target(ctx, sealpost.NormalizeAddress(b.Address))
	if err != nil {
		return nil, errors.E(op, err)
	}
	mbox, err := s.importMailbox(ctx, t.acct, b.Mailbox, b.Use)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if len(b.Items) == 0 {
		return nil, nil
	}
	now := s.opts.Now()
	limit := s.storageLimit(t.acct, false)
	msgs := make([]sealpost.NewMessage, len(b.Items))
	errs := make([]error, len(b.Items))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(importSealers, len(b.Items)) {
		wg.Go(func() {
			for i := range next {
				it := b.Items[i]
				ref, keyID, size, err := s.putSealed(ctx, t.acct, t.keyID, t.r, it.Msg, t.acct.Address)
				if err != nil {
					errs[i] = err
					continue
				}
				date := it.Date
				if date.IsZero() {
					date = now
				}
				msgs[i] = sealpost.NewMessage{
					Mailbox: mbox.ID, Flags: importFlags(it.Flags), InternalDate: date,
					Size: size, Blob: ref, Key: keyID, Limit: limit,
				}
			}
		})
	}
	for i := range b.Items {
		next <- i
	}
	close(next)
	wg.Wait()
	written := make([]sealpost.NewMessage, 0, len(msgs))
	for _, m := range msgs {
		if m.Blob != "" {
			written = append(written, m)
		}
	}
	for _, err := range errs {
		if err != nil {
			s.deleteBlobs(ctx, blobsOf(written))
			return nil, errors.E(op, err)
		}
	}
	if b.Prepared != nil {
		if err := b.Prepared(mbox, blobsOf(msgs)); err != nil {
			s.deleteBlobs(ctx, blobsOf(msgs))
			return nil, errors.E(op, err)
		}
	}
	added, err := s.store.AddMessages(ctx, msgs)
	if err != nil {
		s.forgetTarget(b.Address)
		// The caller's record of the batch (Prepared) says whether it
		// may have been filed; a failed commit filed nothing, so the
		// blobs go.
		s.deleteBlobs(ctx, blobsOf(msgs))
		return nil, errors.E(op, err)
	}
	s.syncLive(ctx, added)
	return added, nil
}

// ImportTarget returns the mailbox Import would file into, creating it as
// Import would: for a caller that must know it before sealing anything
// (the importer, checking what an interrupted batch left).
func (s *Service) ImportTarget(ctx context.Context, addr, name string, use sealpost.SpecialUse) (sealpost.Mailbox, error) {
	const op = "postbox.ImportTarget"
	t, err := s.target(ctx, sealpost.NormalizeAddress(addr))
	if err != nil {
		return sealpost.Mailbox{}, errors.E(op, err)
	}
	mbox, err := s.importMailbox(ctx, t.acct, name, use)
	if err != nil {
		return sealpost.Mailbox{}, errors.E(op, err)
	}
	return mbox, nil
}

// importMailbox finds, or creates, the mailbox an import files into (see
// ImportBatch.Mailbox). A created mailbox and its created parents are
// subscribed, as a client's CREATE would leave them in a client's list.
func (s *Service) importMailbox(ctx context.Context, acct sealpost.Account, name string, use sealpost.SpecialUse) (sealpost.Mailbox, error) {
	if use != sealpost.UseNone {
		mb, err := s.store.MailboxByUse(ctx, acct.ID, use)
		if err == nil {
			return mb, nil
		}
		if !errors.Is(errors.NotExist, err) {
			return sealpost.Mailbox{}, err
		}
	}
	name = sealpost.CanonicalMailboxName(strings.TrimSuffix(name, "/"))
	if hidden(name) {
		return sealpost.Mailbox{}, errors.E(errors.Permission, errors.Str("reserved mailbox name"))
	}
	mb, err := s.store.MailboxByName(ctx, acct.ID, name)
	if !errors.Is(errors.NotExist, err) {
		return mb, err
	}
	if err := sealpost.CheckMailboxName(name); err != nil {
		return sealpost.Mailbox{}, err
	}
	q := acct.Quota.Effective(s.opts.Quota)
	parts := strings.Split(name, "/")
	for i := 1; i <= len(parts); i++ {
		n, u := strings.Join(parts[:i], "/"), sealpost.UseNone
		if i == len(parts) {
			u = use
		}
		if _, err := s.store.MailboxByName(ctx, acct.ID, n); err == nil {
			continue
		}
		created, err := s.store.CreateMailbox(ctx, acct.ID, n, u, q.Mailboxes)
		if errors.Is(errors.Exist, err) {
			continue // made at the same moment by the owner or another import
		}
		if err != nil {
			return sealpost.Mailbox{}, err
		}
		if err := s.store.SetSubscribed(ctx, created.ID, true); err != nil {
			return sealpost.Mailbox{}, err
		}
	}
	return s.store.MailboxByName(ctx, acct.ID, name)
}

// importFlags drops \Recent, which only the server sets (RFC 9051 2.3.2),
// and repeated flags.
func importFlags(in []sealpost.Flag) []sealpost.Flag {
	out := make([]sealpost.Flag, 0, len(in))
	for _, f := range in {
		if strings.EqualFold(string(f), `\Recent`) || sealpost.HasFlag(out, f) {
			continue
		}
		out = append(out, f)
	}
	return out
}
