package postbox

import "github.com/sealpost/sealpost"

// ChangeKind is what happened to a message of a live mailbox.
type ChangeKind uint8

// The kinds of change a watch receives.
const (
	// Added: a message arrived (delivery, APPEND, COPY or MOVE into the
	// mailbox). It has the highest UID so far.
	Added ChangeKind = iota + 1
	// FlagsChanged: a message's flags or keywords changed.
	FlagsChanged
	// Expunged: a message was removed.
	Expunged
)

func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case FlagsChanged:
		return "flags"
	case Expunged:
		return "expunged"
	}
	return "unknown"
}

// Change is one change to a live mailbox, as its watches receive it. It
// speaks of UIDs, flags and modification sequences (RFC 7162), not of any
// protocol's responses: imapserver turns changes into untagged EXISTS,
// FETCH and EXPUNGE responses, and a JMAP or web session could turn them
// into state strings.
type Change struct {
	Kind ChangeKind
	UID  sealpost.UID
	// Pos is the message's 1-based position in the mailbox's UID order:
	// after it was added (Added: the new message count), when its flags
	// changed (FlagsChanged), just before it was removed (Expunged).
	// Watchers that number messages, as IMAP's sequence numbers do, use it.
	Pos uint32
	// Flags are the message's flags after the change (Added, FlagsChanged).
	Flags []sealpost.Flag
	// ModSeq is the change's modification sequence: the message's for Added
	// and FlagsChanged, the expunge's (the mailbox's HIGHESTMODSEQ after
	// it) for Expunged.
	ModSeq uint64
	// By is the watch through which the change was made, or nil (a
	// delivery, an APPEND, another session's or process's change).
	By *Watch
	// Recent (Added) says the message is \Recent for the watch's session
	// (RFC 3501 2.3.2; recent.go).
	Recent bool
}

// A Watch receives, in order, every change made to a live mailbox after it
// began, except the flag changes made through it (By): the session that
// made those answers for them itself.
type Watch struct {
	m      *Mailbox
	fn     func(Change)
	claims bool // takes \Recent messages (WatchSession)
}

// Watch begins a watch of the mailbox. start is called under the mailbox's
// lock with the mailbox's state at that moment, which no change can
// overtake, and returns the function that receives the changes after it.
// That function is called under the mailbox's lock, in the order the
// changes happen; it must neither block nor call back into the Mailbox.
// The caller must Close the watch.
func (m *Mailbox) Watch(start func(info sealpost.Mailbox, msgs []sealpost.Message) func(Change)) *Watch {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := &Watch{m: m, fn: start(m.info, m.msgs)}
	if m.watches == nil {
		m.watches = make(map[*Watch]struct{})
	}
	m.watches[w] = struct{}{}
	return w
}

// Close ends the watch; its function is not called again once Close
// returns. Closing twice is harmless.
func (w *Watch) Close() {
	if w == nil {
		return
	}
	w.m.mu.Lock()
	delete(w.m.watches, w)
	w.m.mu.Unlock()
}

// emit sends c to the mailbox's watches. The caller holds m.mu.
func (m *Mailbox) emit(c Change) {
	m.noteKeywords(c.Flags)
	claimer, all := m.claimRecent(c)
	for w := range m.watches {
		if c.Kind == FlagsChanged && c.By == w {
			continue
		}
		c.Recent = all || w == claimer
		w.fn(c)
	}
}
