package imapserver

import (
	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost"
)

// matchSaveDate decides SAVEDATE's search keys (RFC 8514 4) for a message.
// Every mailbox keeps save dates, so SAVEDATESUPPORTED matches every
// message. A message stored before the store kept them has none (FETCH
// SAVEDATE answers NIL): SAVEDBEFORE, SAVEDON and SAVEDSINCE match it never,
// since nothing is known of when it was saved.
func matchSaveDate(m sealpost.Message, c *imap.SearchCriteriaSaveDate) bool {
	if c == nil || c.Since.IsZero() && c.Before.IsZero() {
		return true
	}
	return !m.SaveDate.IsZero() && matchDate(m.SaveDate, c.Since, c.Before)
}
