package column

import (
	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Quota rules every store applies the same way inside its transactions.

// Charged reports whether messages in a mailbox of this use count toward
// the account's usage: all but the hidden hold mailbox's (counting it
// would tell the owner a hold exists).
func Charged(use sealpost.SpecialUse) bool { return use != sealpost.UseHeld }

// OverStorage is the error for adding bytes beyond the storage limit.
func OverStorage(bytes, limit int64) error {
	if bytes > limit {
		return errors.E(errors.OverQuota, sealpost.ErrQuotaNeverFits)
	}
	return errors.E(errors.OverQuota, errors.Errorf("storage quota of %d bytes exceeded", limit))
}

// MailboxLimited reports whether creating a mailbox of this use is held
// to limit: a positive limit, and never the hold mailbox.
func MailboxLimited(use sealpost.SpecialUse, limit int64) bool {
	return limit > 0 && use != sealpost.UseHeld
}

// MailboxLimit is the refusal of one more mailbox to an account holding n
// against limit, or nil.
func MailboxLimit(n, limit int64) error {
	if n < limit {
		return nil
	}
	return errors.E(errors.OverQuota, errors.Errorf("mailbox limit of %d reached", limit))
}

// RecountUsage is the SQL both stores run to set accounts' usage from
// their messages: for an imported account and the migration that added
// the counters, never on the delivery path.
const RecountUsage = `UPDATE accounts SET
	used_storage = (SELECT COALESCE(SUM(m.size), 0) FROM messages m JOIN mailboxes b ON b.id = m.mailbox
		WHERE b.account = accounts.id AND b.special_use <> '\Held'),
	used_messages = (SELECT COUNT(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox
		WHERE b.account = accounts.id AND b.special_use <> '\Held')`
