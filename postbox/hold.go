package postbox

import (
	"context"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// A legal hold (a preservation order) keeps an account's mail from being
// destroyed without changing what its owner sees: expunge and delete keep
// working for the owner, but what leaves the owner's view is first copied,
// still sealed (copies share the sealed blob), into a hidden mailbox
// (sealpost.HeldMailbox, special use \Held) that no client can list,
// select or change. Releasing the hold deletes that mailbox. A hold
// discloses nothing: the held mail is sealed to the owner's key like the
// rest. The hidden mailbox is also the hold's marker, so a hold moves with
// the account between regions.

// hidden reports whether a mailbox name is the hidden hold mailbox (or
// under it), which no owner's command may name.
func hidden(name string) bool {
	return strings.EqualFold(name, sealpost.HeldMailbox) || len(name) > len(sealpost.HeldMailbox) &&
		strings.EqualFold(name[:len(sealpost.HeldMailbox)+1], sealpost.HeldMailbox+"/")
}

// PlaceHold puts addr's account under legal hold. Placing a hold on a held
// account is not an error.
func (s *Service) PlaceHold(ctx context.Context, addr string) error {
	const op = "postbox.PlaceHold"
	acct, err := s.LookupAccount(ctx, addr)
	if err != nil {
		return errors.E(op, err)
	}
	if _, err := s.store.CreateMailbox(ctx, acct.ID, sealpost.HeldMailbox, sealpost.UseHeld, 0); err != nil && !errors.Is(errors.Exist, err) {
		return errors.E(op, err)
	}
	return nil
}

// ReleaseHold ends addr's legal hold and deletes what it retained. The
// caller releases only when no demand holds the account any more.
func (s *Service) ReleaseHold(ctx context.Context, addr string) error {
	const op = "postbox.ReleaseHold"
	acct, err := s.LookupAccount(ctx, addr)
	if err != nil {
		return errors.E(op, err)
	}
	mb, err := s.store.MailboxByUse(ctx, acct.ID, sealpost.UseHeld)
	if errors.Is(errors.NotExist, err) {
		return nil
	}
	if err != nil {
		return errors.E(op, err)
	}
	refs, err := s.store.DeleteMailbox(ctx, mb.ID)
	if err != nil {
		return errors.E(op, err)
	}
	s.deleteBlobs(ctx, refs)
	return nil
}

// Held reports whether addr's account is under legal hold, and how many
// messages the hold retains.
func (s *Service) Held(ctx context.Context, addr string) (bool, int, error) {
	acct, err := s.LookupAccount(ctx, addr)
	if err != nil {
		return false, 0, errors.E("postbox.Held", err)
	}
	mb, ok, err := s.heldMailbox(ctx, acct.ID)
	if err != nil || !ok {
		return false, 0, err
	}
	msgs, err := s.store.Messages(ctx, mb, 0)
	return true, len(msgs), err
}

// heldMailbox returns the account's hold mailbox, if it is under hold.
func (s *Service) heldMailbox(ctx context.Context, acct sealpost.AccountID) (sealpost.MailboxID, bool, error) {
	mb, err := s.store.MailboxByUse(ctx, acct, sealpost.UseHeld)
	if errors.Is(errors.NotExist, err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return mb.ID, true, nil
}

// retain copies messages about to leave the owner's view into the hold
// mailbox, if the account is under hold. The copy commits before the
// expunge or delete that follows: a crash in between leaves the message in
// both places, never in neither.
func (s *Service) retain(ctx context.Context, acct sealpost.AccountID, from sealpost.MailboxID, uids []sealpost.UID) error {
	held, ok, err := s.heldMailbox(ctx, acct)
	if err != nil || !ok || from == held || len(uids) == 0 {
		return err
	}
	_, err = s.store.CopyMessages(ctx, from, uids, held, 0)
	return err
}

// retainMailbox retains every message of a mailbox about to be deleted, if
// the account is under hold; otherwise it reads nothing.
func (s *Service) retainMailbox(ctx context.Context, acct sealpost.AccountID, mbox sealpost.MailboxID) error {
	held, ok, err := s.heldMailbox(ctx, acct)
	if err != nil || !ok || mbox == held {
		return err
	}
	msgs, err := s.store.Messages(ctx, mbox, 0)
	if err != nil || len(msgs) == 0 {
		return err
	}
	uids := make([]sealpost.UID, len(msgs))
	for i, m := range msgs {
		uids[i] = m.UID
	}
	_, err = s.store.CopyMessages(ctx, mbox, uids, held, 0)
	return err
}
