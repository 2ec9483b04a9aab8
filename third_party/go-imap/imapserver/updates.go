package imapserver

import "github.com/emersion/go-imap/v2"

// Sealpost patch 23: what a server needs to announce mailbox state in order
// with the other untagged responses. RFC 3501 7.2.6 / RFC 9051 7.3.5: a
// keyword must appear in FLAGS (and, for a read-write mailbox, in
// PERMANENTFLAGS) before a FETCH shows it; RFC 3501 7.3.2: RECENT follows
// the EXISTS that changed it. Upstream's tracker queues only EXISTS,
// EXPUNGE, FLAGS and FETCH FLAGS updates with fixed contents, and a STORE
// has no way to write anything but FETCH responses.

// WritePermanentFlags writes an untagged OK [PERMANENTFLAGS (...)].
func (w *UpdateWriter) WritePermanentFlags(flags []imap.Flag) error {
	return w.conn.writePermanentFlags(flags)
}

// Updates returns a writer of untagged updates (not EXPUNGE) for use
// between the FETCH responses of a command, e.g. a FLAGS response a STORE
// must send before the FETCH that shows a new keyword. No
// FetchResponseWriter may be open while it is used.
func (cmd *FetchWriter) Updates() *UpdateWriter {
	return &UpdateWriter{conn: cmd.conn}
}

// QueueUpdate queues an update that fn writes when the session polls, in
// order with the other updates. fn runs in the session's goroutine (or its
// IDLE's) and decides then what to write: it may write nothing. It must
// not write EXPUNGE.
func (t *MailboxTracker) QueueUpdate(fn func(w *UpdateWriter) error) {
	t.queueUpdate(&trackerUpdate{custom: fn}, nil)
}
