package postbox

import (
	"strings"
	"sync"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// This file keeps two pieces of mailbox state that IMAP4rev1 sessions
// announce and no store column holds:
//
// The \Recent watermark (RFC 3501 2.3.2): "this session is the first
// session to have been notified about this message". A mailbox's watermark
// is the lowest UID no session has yet been given as recent. A read-write
// selection that asks for it claims every message from the watermark on
// and moves the watermark past them; a message added while such sessions
// watch is given to one of them. Sessions that do not claim (EXAMINE,
// RFC 3501 6.3.2: "MUST NOT cause messages to lose the \Recent flag") see
// the unclaimed messages as recent. The watermark lives in the Service's
// memory, not in the store: after a restart it is unknown, and every
// message counts as recent once, as RFC 3501 2.3.2 asks ("If it is not
// possible to determine whether or not this session is the first session
// to be notified about a message, then that message SHOULD be considered
// recent").
//
// The keywords defined in a live mailbox (RFC 3501 7.2.6, RFC 9051
// 7.3.5): those on its messages when it was loaded, and every keyword set
// since, whether or not a message still carries it, for as long as a
// session has it selected.

// recentMarks holds the \Recent watermarks of mailboxes that are not live.
type recentMarks struct {
	mu    sync.Mutex
	marks map[sealpost.MailboxID]sealpost.UID
}

func (r *recentMarks) get(id sealpost.MailboxID) sealpost.UID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.marks[id]
}

func (r *recentMarks) set(id sealpost.MailboxID, uid sealpost.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.marks == nil {
		r.marks = make(map[sealpost.MailboxID]sealpost.UID)
	}
	r.marks[id] = uid
}

// WatchSession begins a watch as Watch does, for a session: with claim
// (a read-write IMAP4rev1 selection) it claims the \Recent messages, those
// from the mailbox's watermark on, and the messages added later that no
// other claiming watch gets. start also receives the first UID that is
// recent for this session; every Added change says whether the message is
// recent for it (Change.Recent).
func (m *Mailbox) WatchSession(claim bool, start func(info sealpost.Mailbox, msgs []sealpost.Message, firstRecent sealpost.UID) func(Change)) *Watch {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := m.recentFrom
	if claim {
		m.recentFrom = max(m.recentFrom, m.info.UIDNext)
		if n := len(m.msgs); n > 0 {
			m.recentFrom = max(m.recentFrom, m.msgs[n-1].UID+1)
		}
	}
	w := &Watch{m: m, claims: claim}
	w.fn = start(m.info, m.msgs, first)
	if m.watches == nil {
		m.watches = make(map[*Watch]struct{})
	}
	m.watches[w] = struct{}{}
	return w
}

// claimRecent decides who gets an added message as \Recent: one claiming
// watch (returned), or, when none watches, every watch (all true). The
// caller holds mu.
func (m *Mailbox) claimRecent(c Change) (claimer *Watch, all bool) {
	if c.Kind != Added || c.UID < m.recentFrom {
		return nil, false
	}
	for w := range m.watches {
		if w.claims {
			m.recentFrom = c.UID + 1
			return w, false
		}
	}
	return nil, true
}

// RecentFrom returns the mailbox's \Recent watermark: messages with this
// UID or higher are recent for the next session to claim them.
func (m *Mailbox) RecentFrom() sealpost.UID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.recentFrom
}

// recentFrom returns the watermark of a mailbox, live or not.
func (s *Service) recentFrom(id sealpost.MailboxID) sealpost.UID {
	s.mu.Lock()
	m := s.live[id]
	s.mu.Unlock()
	if m != nil {
		return m.RecentFrom()
	}
	return s.recent.get(id)
}

// Keywords returns the keywords defined in the mailbox: those its messages
// had when it was loaded and every one set since, in the order they came.
func (m *Mailbox) Keywords() []sealpost.Flag {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return append([]sealpost.Flag(nil), m.keywords...)
}

// MaxKeywords bounds the keywords a mailbox defines (RFC 3501 7.2.6: a
// server may refuse new ones). The set never shrinks while the mailbox is
// live and is announced in full with each new one, so a client setting
// and clearing ever new keywords would otherwise grow it, and every
// session's FLAGS responses, without end.
const MaxKeywords = 1000

// checkKeywordLimit refuses flags that would take the mailbox past
// MaxKeywords defined keywords. The caller holds mu.
func (m *Mailbox) checkKeywordLimit(flags []sealpost.Flag) error {
	n := len(m.keywords)
	for i, f := range flags {
		if m.isNewKeyword(f) && !sealpost.HasFlag(flags[:i], f) {
			n++
		}
	}
	if n > MaxKeywords {
		return errors.E(errors.Invalid, errors.Errorf("more than %d keywords in one mailbox", MaxKeywords))
	}
	return nil
}

// noteKeywords adds the keywords among flags to the mailbox's. The caller
// holds mu (or has the only reference).
func (m *Mailbox) noteKeywords(flags []sealpost.Flag) {
	for _, f := range flags {
		if m.isNewKeyword(f) {
			m.keywords = append(m.keywords, f)
		}
	}
}

// isNewKeyword reports whether f is a keyword the mailbox does not yet
// define. The caller holds mu.
func (m *Mailbox) isNewKeyword(f sealpost.Flag) bool {
	return !strings.HasPrefix(string(f), `\`) && !sealpost.HasFlag(m.keywords, f)
}
