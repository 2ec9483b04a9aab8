package config

import "github.com/sealpost/sealpost"

// Quota is every account's default quota; `sealpost account quota`
// overrides it per account (stored with the account). 0 is no limit.
type Quota struct {
	// Storage bounds the bytes of messages an account holds, counted as
	// their size over IMAP (RFC822.SIZE; what RFC 9208's STORAGE resource
	// reports, in KiB), each copy counted, the hidden legal-hold mailbox
	// not. Default 10 GiB.
	Storage int64 `toml:"storage"`
	// Mailboxes bounds an account's mailboxes, its six default ones
	// included (RFC 9208's MAILBOX resource). Default 1,000.
	Mailboxes int64 `toml:"mailboxes"`
}

// DefaultQuota is the quota without configuration.
var DefaultQuota = Quota{Storage: 10 << 30, Mailboxes: 1000}

// Limits returns the quota as the store's type.
func (q Quota) Limits() sealpost.Quota {
	return sealpost.Quota{Storage: q.Storage, Mailboxes: q.Mailboxes}
}

func (q *Quota) validate(bad func(string, ...any)) {
	if q.Storage < 0 {
		bad("quota.storage: %d is negative (0 is no limit)", q.Storage)
	}
	if q.Mailboxes < 0 {
		bad("quota.mailboxes: %d is negative (0 is no limit)", q.Mailboxes)
	} else if q.Mailboxes > 0 && q.Mailboxes < int64(len(sealpost.DefaultMailboxes)) {
		bad("quota.mailboxes: %d is fewer than the %d mailboxes every account has", q.Mailboxes, len(sealpost.DefaultMailboxes))
	}
}
