package imapserver

import (
	goimap "github.com/emersion/go-imap/v2/imapserver"
)

var _ goimap.SessionIdleStart = (*session)(nil)

// StartIdle begins IDLE (RFC 2177) without a goroutine waiting for
// updates (go-imap fork patch 51): the selected mailbox's tracker starts
// one to write each batch of changes its watch queues, so an idling
// connection costs one goroutine, the one reading DONE. go-imap calls stop
// before the session can be closed. With no mailbox selected there is
// nothing to report until DONE.
func (s *session) StartIdle(w *goimap.UpdateWriter) (stop func() error, err error) {
	if s.sel == nil || s.ctx.Err() != nil {
		return func() error { return nil }, nil
	}
	return s.sel.tracker.StartIdle(w)
}
