package imapserver

import (
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost"
)

// createUses are the special uses a client may give a new mailbox (RFC 6154
// 3, CREATE-SPECIAL-USE). \All and \Flagged name virtual mailboxes, which
// Sealpost does not have. The store keeps one mailbox per use (the server
// files its own copies, Sent and Junk, by use), so a use can be given to a
// new mailbox only when no other has it: after its mailbox was deleted, or
// to re-create it under another name.
var createUses = []sealpost.SpecialUse{
	sealpost.UseArchive, sealpost.UseDrafts, sealpost.UseJunk, sealpost.UseSent, sealpost.UseTrash,
}

// createUse returns the special use a CREATE asks for (RFC 6154 3): none,
// or one of createUses; NO [USEATTR] for another, or for more than one
// (a mailbox here has one use).
func createUse(options *imap.CreateOptions) (sealpost.SpecialUse, error) {
	if options == nil || len(options.SpecialUse) == 0 {
		return sealpost.UseNone, nil
	}
	if len(options.SpecialUse) == 1 {
		for _, u := range createUses {
			if strings.EqualFold(string(options.SpecialUse[0]), string(u)) {
				return u, nil
			}
		}
	}
	return sealpost.UseNone, &imap.Error{Type: imap.StatusResponseTypeNo, Code: "USEATTR",
		Text: `Only one of \Archive, \Drafts, \Junk, \Sent and \Trash may be given`}
}

// useTaken is NO [USEATTR] when another mailbox has the use (RFC 6154 3:
// "the server cannot create a mailbox with the special-use attribute").
func (s *session) useTaken(use sealpost.SpecialUse) error {
	if use == sealpost.UseNone {
		return nil
	}
	boxes, err := s.ps.Mailboxes(s.ctx)
	if err != nil {
		return s.fail("create", err, false)
	}
	for _, b := range boxes {
		if b.Use == use {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "USEATTR",
				Text: "Another mailbox has special use " + string(use)}
		}
	}
	return nil
}
