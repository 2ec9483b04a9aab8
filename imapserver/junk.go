package imapserver

import (
	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/postbox"
)

// learnFromStore teaches the account's classifier when the owner sets
// $Junk or $NotJunk on messages (postbox/train.go; moving into or out of
// Junk teaches in postbox itself). ts are the messages as they were
// before the STORE, so that postbox sees which lesson is new. A failure
// to learn is logged and never fails the STORE.
func (s *session) learnFromStore(sel *selected, ts []target, flags []sealpost.Flag) {
	var spam bool
	switch {
	case sealpost.HasFlag(flags, postbox.KeywordJunk):
		spam = true
	case sealpost.HasFlag(flags, postbox.KeywordNotJunk):
	default:
		return
	}
	msgs := make([]sealpost.Message, len(ts))
	for i, t := range ts {
		msgs[i] = t.msg
	}
	var info sealpost.Mailbox
	sel.mbox.Read(func(i sealpost.Mailbox, _ []sealpost.Message) { info = i })
	if err := s.ps.Learn(s.ctx, info, msgs, spam); err != nil {
		s.log.Warn("learning from a keyword", "err", err)
	}
}
