package postbox

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// This file is quota enforcement. The store keeps each account's usage
// exact and checks a limit inside the transaction that would exceed it
// (NewMessage.Limit, CopyMessages' and CreateMailbox's limit); this
// package decides which limit applies to what:
//
//   - Deliveries (SMTP, a sealed hand-off from another region), APPEND,
//     COPY and CREATE are held to the account's limits: its own override
//     (Account.Quota) or else the configured default (Options.Quota).
//   - MOVE within the account changes no usage and is not refused (RFC
//     9208 4.3: OVERQUOTA is for what adds to a quota root).
//   - The server's own notices (Envelope.Notice: delivery status
//     notifications to a local sender, legal notices) are filed even over
//     quota, as is the copy of a submitted message in the sender's Sent
//     (AppendByUse): the owner must learn that mail failed, and sending
//     must not fail because one's own mailbox is full. Both are bounded by
//     what the owner sends. Postfix with Dovecot would defer a bounce to a
//     full INBOX like any other mail; we choose not to lose it.
//   - What a legal hold retains is never counted (sealpost.Usage).
//
// Limits are read through the delivery cache (targetTTL), so a changed
// override takes effect within seconds in every process.

// limits returns the limits that apply to the account at addr now, and
// the account.
func (s *Service) limits(ctx context.Context, addr string) (sealpost.Quota, sealpost.Account, error) {
	t, err := s.target(ctx, sealpost.NormalizeAddress(addr))
	if err != nil {
		return sealpost.Quota{}, sealpost.Account{}, err
	}
	return t.acct.Quota.Effective(s.opts.Quota), t.acct, nil
}

// storageLimit is the NewMessage.Limit of a delivery to acct: 0 (none)
// for the server's own notices.
func (s *Service) storageLimit(acct sealpost.Account, notice bool) int64 {
	if notice {
		return 0
	}
	return acct.Quota.Effective(s.opts.Quota).Storage
}

// CheckQuota tells whether a message of size bytes (0: unknown) could be
// delivered to addr now, as SMTP asks at RCPT (RFC 1870's SIZE declares
// the size before DATA): OverQuota when the account is full or the
// message does not fit what is left, wrapping sealpost.ErrQuotaNeverFits
// when it is larger than the whole quota. A yes is no promise: the
// delivery's own transaction decides.
func (s *Service) CheckQuota(ctx context.Context, addr string, size int64) error {
	const op = "postbox.CheckQuota"
	q, acct, err := s.limits(ctx, addr)
	if err != nil {
		return errors.E(op, err)
	}
	if q.Storage == 0 {
		return nil
	}
	if size > q.Storage {
		return errors.E(op, errors.OverQuota, sealpost.ErrQuotaNeverFits)
	}
	u, err := s.store.Usage(ctx, acct.ID)
	if err != nil {
		return errors.E(op, err)
	}
	if u.Storage+max(size, 1) > q.Storage {
		return errors.E(op, errors.OverQuota, errors.Errorf("%d of %d bytes used", u.Storage, q.Storage))
	}
	return nil
}

// deliveryErr is the error of a delivery to n accounts that the store
// refused: when several recipients share the transaction, one that can
// never take the message must not make the refusal permanent for the
// others (SMTP has one reply to DATA), so ErrQuotaNeverFits is dropped and
// the sender retries, each recipient then judged alone at RCPT.
func deliveryErr(err error, n int) error {
	if n > 1 && errors.Is(errors.OverQuota, err) && errors.IsErr(err, sealpost.ErrQuotaNeverFits) {
		return errors.E(errors.OverQuota, errors.Str("a recipient's mailbox is full"))
	}
	return err
}

// Quota is what the owner's quota is now: the limits that apply and the
// usage, for IMAP's GETQUOTA (RFC 9208).
func (ss *Session) Quota(ctx context.Context) (sealpost.Quota, sealpost.Usage, error) {
	const op = "postbox.Quota"
	q, acct, err := ss.svc.limits(ctx, ss.acct.Address)
	if err != nil {
		return sealpost.Quota{}, sealpost.Usage{}, errors.E(op, err)
	}
	u, err := ss.svc.store.Usage(ctx, acct.ID)
	if err != nil {
		return sealpost.Quota{}, sealpost.Usage{}, errors.E(op, err)
	}
	return q, u, nil
}

// ownLimits is the limits of the session's account, for APPEND, COPY and
// CREATE.
func (ss *Session) ownLimits(ctx context.Context) (sealpost.Quota, error) {
	q, _, err := ss.svc.limits(ctx, ss.acct.Address)
	return q, err
}

// AccountQuota returns an account's override, the limits that apply and
// its usage, after replacing the override with *set when set is not nil:
// what `sealpost account quota` shows and changes.
func (s *Service) AccountQuota(ctx context.Context, addr string, set *sealpost.Quota) (own, eff sealpost.Quota, u sealpost.Usage, err error) {
	const op = "postbox.AccountQuota"
	addr = sealpost.NormalizeAddress(addr)
	acct, err := s.store.Account(ctx, addr)
	if err != nil {
		return own, eff, u, errors.E(op, err)
	}
	if set != nil {
		if err := s.store.SetQuota(ctx, acct.ID, *set); err != nil {
			return own, eff, u, errors.E(op, err)
		}
		acct.Quota = *set
		s.forgetTarget(addr)
	}
	if u, err = s.store.Usage(ctx, acct.ID); err != nil {
		return own, eff, u, errors.E(op, err)
	}
	return acct.Quota, acct.Quota.Effective(s.opts.Quota), u, nil
}
