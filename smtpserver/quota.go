package smtpserver

import (
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Quota replies. A full mailbox is a transient condition: its owner can
// delete mail, so RFC 3463 X.2.2 ("Mailbox full ... should be used as a
// persistent transient failure") goes with 452, RFC 5321's "insufficient
// system storage", and the sender retries. Only a message larger than the
// account's whole quota, which no deletion would let in, is refused for
// good: 552 ("exceeded storage allocation", RFC 5321 4.2.2) with the same
// X.2.2, the mailbox's own quota rather than the system's size limit
// (5.3.4). At RCPT either comes from the size declared with MAIL's SIZE
// parameter (RFC 1870 6: a server may refuse a recipient for a message of
// that size); at DATA from the message itself.
var (
	replyMailboxFull = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2},
		Message: "Mailbox full, try again later"}
	replyQuotaNeverFits = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2},
		Message: "Message larger than the recipient's mailbox quota"}
)

// quotaReply is the reply to an OverQuota error.
func quotaReply(err error) *smtp.SMTPError {
	if errors.IsErr(err, sealpost.ErrQuotaNeverFits) {
		return replyQuotaNeverFits
	}
	return replyMailboxFull
}
