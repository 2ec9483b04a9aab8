package sealpost

import "github.com/sealpost/sealpost/errors"

// Quota is an account's own limits, set by the operator (sealpost account
// quota) and stored with the account. A zero field means the deployment's
// default (config [quota]); NoLimit lifts that limit for this account.
type Quota struct {
	// Storage bounds the bytes of messages the account holds: the sum of
	// their Message.Size, the size each has over IMAP (RFC822.SIZE), which
	// is what RFC 9208's STORAGE resource counts (in KiB).
	Storage int64
	// Mailboxes bounds how many mailboxes the account has (RFC 9208's
	// MAILBOX resource), its default mailboxes included.
	Mailboxes int64
}

// NoLimit as a Quota field lifts that limit for the account.
const NoLimit int64 = -1

// Effective returns the limits that apply: each field of q, or of def
// where q's is zero; 0 in the result is no limit.
func (q Quota) Effective(def Quota) Quota {
	pick := func(own, d int64) int64 {
		switch {
		case own == NoLimit:
			return 0
		case own > 0:
			return own
		}
		return max(d, 0)
	}
	return Quota{Storage: pick(q.Storage, def.Storage), Mailboxes: pick(q.Mailboxes, def.Mailboxes)}
}

// Check reports whether q can be stored: each field NoLimit, zero (the
// default) or positive.
func (q Quota) Check() error {
	if q.Storage < NoLimit || q.Mailboxes < NoLimit {
		return errors.E(errors.Invalid, errors.Errorf("quota %+v: a limit is positive, 0 (the default) or -1 (none)", q))
	}
	return nil
}

// Usage is what an account holds, as its quota counts it. The store keeps
// Storage and Messages exact in the same transaction as every change that
// adds or removes a message (never recounted by a scan), so that checking
// a quota costs one row read. The hidden legal-hold mailbox is left out of
// every figure: what a hold retains is not the owner's to manage, and
// counting it would tell the owner that a hold exists.
type Usage struct {
	Storage   int64 // bytes: the sum of Message.Size
	Messages  int64
	Mailboxes int64
}

// ErrQuotaNeverFits is wrapped in an OverQuota error when a message is
// larger than the account's whole storage quota: no deletion by the owner
// would let it in, so refusing it is a permanent failure (SMTP 552 5.2.2)
// where a full mailbox is a transient one (452 4.2.2, RFC 3463 X.2.2).
var ErrQuotaNeverFits = errors.Str("message larger than the account's whole storage quota")
