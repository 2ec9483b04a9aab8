package imapserver

import (
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/postbox"
)

// view is what this session has told its client about the selected
// mailbox beyond sequence numbers: the keywords FLAGS has defined, and the
// messages that are \Recent for it. It is changed from the mailbox's watch
// (under the mailbox's lock) and read by the session's commands: mu
// guards it.
type view struct {
	mu        sync.Mutex
	readOnly  bool
	keywords  []imap.Flag // defined keywords, in the order FLAGS lists them
	announced int         // how many of keywords the client has been sent
	rev1      bool        // the session shows \Recent (not after ENABLE IMAP4rev2)
	// The messages recent for this session: those present at selection
	// with UIDs in [recentFrom, recentTo), and those added since that
	// this session took (later). A range, not a set, so that a session
	// that finds every message recent (after a restart) holds no more.
	recentFrom, recentTo sealpost.UID
	later                map[sealpost.UID]struct{}
	recentCount          uint32 // how many of those are still in the mailbox
}

// flagRecent is RFC 3501's session flag, which no store holds.
const flagRecent imap.Flag = `\Recent`

// start sets up the view from the mailbox's state at selection: the
// keywords defined in it (sorted, as FLAGS lists them) and the messages
// recent for this session (UID firstRecent and above), for a session that
// shows \Recent.
func (v *view) start(defined []sealpost.Flag, msgs []sealpost.Message, firstRecent sealpost.UID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	byLower := make(map[string]imap.Flag)
	note := func(flags []sealpost.Flag) {
		for _, f := range flags {
			if k := strings.ToLower(string(f)); !strings.HasPrefix(k, `\`) && byLower[k] == "" {
				byLower[k] = imap.Flag(f)
			}
		}
	}
	note(defined)
	if v.rev1 && len(msgs) > 0 {
		v.recentFrom, v.recentTo = firstRecent, msgs[len(msgs)-1].UID+1
	}
	for _, m := range msgs {
		note(m.Flags)
		if m.UID >= v.recentFrom && m.UID < v.recentTo {
			v.recentCount++
		}
	}
	for _, k := range sortedKeys(byLower) {
		v.keywords = append(v.keywords, byLower[k])
	}
	v.announced = len(v.keywords)
}

// mailboxFlags returns FLAGS and PERMANENTFLAGS as they stand.
func (v *view) mailboxFlags() (flags, permanent []imap.Flag) {
	flags = append(slices.Clone(systemFlags), v.keywords...)
	permanent = []imap.Flag{}
	if !v.readOnly {
		permanent = append(slices.Clone(flags), imap.FlagWildcard)
	}
	return flags, permanent
}

// learn adds the keywords among flags that the view does not have yet and
// reports whether there were any: they need announcing.
func (v *view) learn(flags []sealpost.Flag) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	added := false
	for _, f := range flags {
		if strings.HasPrefix(string(f), `\`) {
			continue
		}
		if !slices.ContainsFunc(v.keywords, func(k imap.Flag) bool { return strings.EqualFold(string(k), string(f)) }) {
			v.keywords = append(v.keywords, imap.Flag(f))
			added = true
		}
	}
	return added
}

// announce writes FLAGS, and PERMANENTFLAGS for a read-write mailbox, if
// keywords were defined since the client was last told (RFC 3501 7.2.6,
// RFC 9051 7.3.5: before any FETCH shows them). The lists only grow.
func (v *view) announce(w *goimap.UpdateWriter) error {
	v.mu.Lock()
	if v.announced == len(v.keywords) {
		v.mu.Unlock()
		return nil
	}
	v.announced = len(v.keywords)
	flags, permanent := v.mailboxFlags()
	v.mu.Unlock()
	if err := w.WriteMailboxFlags(flags); err != nil {
		return err
	}
	if v.readOnly {
		return nil
	}
	return w.WritePermanentFlags(permanent)
}

// flags returns a message's flags as this session shows them: with
// \Recent if the message is recent for it (RFC 3501 2.3.2).
func (v *view) flags(uid sealpost.UID, stored []sealpost.Flag) []imap.Flag {
	out := imapFlags(stored)
	if v.isRecent(uid) {
		out = append(out, flagRecent)
	}
	return out
}

func (v *view) isRecent(uid sealpost.UID) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.isRecentLocked(uid)
}

func (v *view) isRecentLocked(uid sealpost.UID) bool {
	if uid >= v.recentFrom && uid < v.recentTo {
		return true
	}
	_, ok := v.later[uid]
	return ok
}

// numRecent counts the messages recent for this session.
func (v *view) numRecent() uint32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.recentCount
}

// queueChange turns a change of the selected mailbox into the untagged
// responses go-imap's tracker will write: FLAGS and PERMANENTFLAGS when the
// change brings a keyword (before what shows it), EXISTS (RFC 9051 7.4.1)
// and RECENT (RFC 3501 7.3.2) for a message recent for this session, FETCH
// FLAGS (7.5.2), EXPUNGE (7.5.1). It runs under the mailbox's lock.
func (v *view) queueChange(mt *goimap.MailboxTracker, c postbox.Change) {
	if (c.Kind == postbox.Added || c.Kind == postbox.FlagsChanged) && v.learn(c.Flags) {
		mt.QueueUpdate(v.announce)
	}
	switch c.Kind {
	case postbox.Added:
		// One update per message: go-imap's SessionTracker.EncodeSeqNum
		// only recognises the last message of an update that adds several.
		mt.QueueNumMessages(c.Pos)
		if c.Recent && v.rev1 {
			v.mu.Lock()
			if v.later == nil {
				v.later = make(map[sealpost.UID]struct{})
			}
			v.later[c.UID] = struct{}{}
			v.recentCount++
			n := v.recentCount
			v.mu.Unlock()
			mt.QueueUpdate(func(w *goimap.UpdateWriter) error { return w.WriteNumRecent(n) })
		}
	case postbox.FlagsChanged:
		// With MODSEQ for a CONDSTORE client (RFC 7162 3.1.4).
		mt.QueueMessageFlagsModSeq(c.Pos, imap.UID(c.UID), v.flags(c.UID, c.Flags), c.ModSeq, nil)
	case postbox.Expunged:
		v.mu.Lock()
		if v.isRecentLocked(c.UID) {
			v.recentCount--
			delete(v.later, c.UID)
		}
		v.mu.Unlock()
		// VANISHED for a QRESYNC client (RFC 7162 3.2.10).
		mt.QueueExpungeUID(c.Pos, imap.UID(c.UID))
	}
}

// hasFlag reports whether a message has a flag in this session's view:
// \Recent (SEARCH RECENT, NEW, OLD) is the session's, the others stored.
func (s *session) hasFlag(m sealpost.Message, f imap.Flag) bool {
	if strings.EqualFold(string(f), string(flagRecent)) {
		return s.sel != nil && s.sel.view.isRecent(m.UID)
	}
	return sealpost.HasFlag(m.Flags, sealpost.Flag(f))
}
