package postbox

import (
	"context"
	"slices"
	"sync"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Mailbox is the live state of a mailbox that at least one session has
// selected: its metadata and its messages in UID order. Every change made
// through the Service updates it and is sent, under mu and in order, to the
// mailbox's watches (feed.go), so that every session's view of the
// mailbox (IMAP's sequence numbers among it) stays consistent.
type Mailbox struct {
	svc *Service

	mu      sync.RWMutex
	info    sealpost.Mailbox
	msgs    []sealpost.Message // by ascending UID
	watches map[*Watch]struct{}
	refs    int // guarded by svc.mu

	recentFrom sealpost.UID    // the \Recent watermark (recent.go)
	keywords   []sealpost.Flag // defined keywords (recent.go)
}

// Read calls fn with the mailbox's metadata and messages under a read lock.
// fn must not retain msgs nor call back into the Mailbox.
func (m *Mailbox) Read(fn func(info sealpost.Mailbox, msgs []sealpost.Message)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	fn(m.info, m.msgs)
}

// ID returns the mailbox's ID.
func (m *Mailbox) ID() sealpost.MailboxID { return m.info.ID }

// acquire returns the live state of mailbox id, loading it if needed.
func (s *Service) acquire(ctx context.Context, info sealpost.Mailbox) (*Mailbox, error) {
	s.mu.Lock()
	if m := s.live[info.ID]; m != nil {
		m.refs++
		s.mu.Unlock()
		return m, nil
	}
	s.mu.Unlock()
	msgs, err := s.store.Messages(ctx, info.ID, 0)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if m := s.live[info.ID]; m != nil { // lost a race with another loader
		m.refs++
		s.mu.Unlock()
		return m, nil
	}
	if n := len(msgs); n > 0 && msgs[n-1].UID >= info.UIDNext {
		info.UIDNext = msgs[n-1].UID + 1
	}
	m := &Mailbox{svc: s, info: info, msgs: msgs, refs: 1, recentFrom: s.recent.get(info.ID)}
	for _, msg := range msgs {
		m.noteKeywords(msg.Flags)
	}
	s.live[info.ID] = m
	s.mu.Unlock()
	// Deliveries committed between our read and registration did not see
	// us live: pick them up now.
	m.sync(ctx)
	return m, nil
}

// release drops a reference taken by acquire.
func (s *Service) release(m *Mailbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.refs--
	if m.refs == 0 && s.live[m.info.ID] == m {
		delete(s.live, m.info.ID)
		// No watch is left to move the watermark, and taking m.mu
		// under s.mu would invert the order Move's syncLive takes.
		s.recent.set(m.info.ID, m.recentFrom)
	}
}

// syncLive brings the live state of the mailboxes that got new messages up
// to date.
func (s *Service) syncLive(ctx context.Context, added []sealpost.Message) {
	var ids []sealpost.MailboxID
	for _, a := range added {
		if !slices.Contains(ids, a.Mailbox) {
			ids = append(ids, a.Mailbox)
		}
	}
	for _, id := range ids {
		s.mu.Lock()
		m := s.live[id]
		s.mu.Unlock()
		if m != nil {
			m.sync(ctx)
		}
	}
}

// sync appends messages committed since the last known UID. UIDs are
// assigned in commit order (sealpost.MessageStore), so nothing is skipped.
func (m *Mailbox) sync(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncLocked(ctx)
}

// syncLocked is sync for a caller that holds mu.
func (m *Mailbox) syncLocked(ctx context.Context) {
	var last sealpost.UID
	if n := len(m.msgs); n > 0 {
		last = m.msgs[n-1].UID
	}
	fresh, err := m.svc.store.Messages(ctx, m.info.ID, last)
	if err != nil {
		m.svc.log.Warn("sync mailbox", "mailbox", m.info.ID, "err", err)
		return
	}
	if len(fresh) == 0 {
		return
	}
	for _, msg := range fresh {
		m.msgs = append(m.msgs, msg)
		m.info.UIDNext = max(m.info.UIDNext, msg.UID+1)
		m.info.HighestModSeq = max(m.info.HighestModSeq, msg.ModSeq)
		m.emit(Change{Kind: Added, UID: msg.UID, Pos: uint32(len(m.msgs)), Flags: msg.Flags, ModSeq: msg.ModSeq})
	}
}

// Sync picks up messages committed by other means (another process).
func (m *Mailbox) Sync(ctx context.Context) { m.sync(ctx) }

// index returns the position of uid in msgs, or -1. Callers hold mu.
func (m *Mailbox) index(uid sealpost.UID) int {
	i, ok := slices.BinarySearchFunc(m.msgs, uid, func(msg sealpost.Message, u sealpost.UID) int {
		return int(msg.UID) - int(u)
	})
	if !ok {
		return -1
	}
	return i
}

// SetFlags changes flags of the given UIDs and tells the mailbox's watches,
// except by, the caller's own watch (which may be nil). It returns the
// updated messages.
func (m *Mailbox) SetFlags(ctx context.Context, uids []sealpost.UID, op sealpost.FlagOp, flags []sealpost.Flag, by *Watch) ([]sealpost.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	updated, err := m.setFlagsLocked(ctx, uids, op, flags, by)
	if err != nil {
		return nil, errors.E("postbox.SetFlags", err)
	}
	return updated, nil
}

// setFlagsLocked is SetFlags for a caller holding mu.
func (m *Mailbox) setFlagsLocked(ctx context.Context, uids []sealpost.UID, op sealpost.FlagOp, flags []sealpost.Flag, by *Watch) ([]sealpost.Message, error) {
	if op != sealpost.FlagsRemove {
		if err := m.checkKeywordLimit(flags); err != nil {
			return nil, err
		}
	}
	updated, err := m.svc.store.SetFlags(ctx, m.info.ID, uids, op, flags)
	if err != nil {
		return nil, err
	}
	for _, u := range updated {
		i := m.index(u.UID)
		if i < 0 {
			continue
		}
		u.SessionKey = m.msgs[i].SessionKey
		m.msgs[i] = u
		m.info.HighestModSeq = max(m.info.HighestModSeq, u.ModSeq)
		m.emit(Change{Kind: FlagsChanged, UID: u.UID, Pos: uint32(i + 1), Flags: u.Flags, ModSeq: u.ModSeq, By: by})
	}
	return updated, nil
}

// Expunge removes the given messages (all \Deleted ones when uids is nil)
// and tells the mailbox's watches. It returns the removed UIDs.
func (m *Mailbox) Expunge(ctx context.Context, uids []sealpost.UID) ([]sealpost.UID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.expungeLocked(ctx, uids, true)
}

// expungeLocked removes messages; with retain (an owner's expunge, not the
// second half of a move) an account under legal hold keeps them, sealed,
// in its hidden hold mailbox (hold.go).
func (m *Mailbox) expungeLocked(ctx context.Context, uids []sealpost.UID, retain bool) ([]sealpost.UID, error) {
	if uids == nil {
		for _, msg := range m.msgs {
			if sealpost.HasFlag(msg.Flags, sealpost.FlagDeleted) {
				uids = append(uids, msg.UID)
			}
		}
	}
	if len(uids) == 0 {
		return nil, nil
	}
	if retain {
		if err := m.svc.retain(ctx, m.info.Account, m.info.ID, uids); err != nil {
			return nil, errors.E("postbox.Expunge", err)
		}
	}
	x, err := m.svc.store.Expunge(ctx, m.info.ID, uids)
	if err != nil {
		return nil, errors.E("postbox.Expunge", err)
	}
	m.info.HighestModSeq = max(m.info.HighestModSeq, x.ModSeq)
	for _, uid := range x.UIDs {
		i := m.index(uid)
		if i < 0 {
			continue
		}
		m.msgs = slices.Delete(m.msgs, i, i+1)
		m.emit(Change{Kind: Expunged, UID: uid, Pos: uint32(i + 1), ModSeq: x.ModSeq})
	}
	m.svc.reaper.later(ctx, x.Blobs) // readable a while yet by sessions not told
	return x.UIDs, nil
}

// Move copies the messages to dest and expunges them here, returning the
// copies in input order. The copy commits before the expunge: a crash in
// between leaves the message in both mailboxes, never in neither. dest may
// be this mailbox (RFC 6851 3.3 allows it): the messages get new UIDs, the
// watches see the expunges, then the new messages.
func (m *Mailbox) Move(ctx context.Context, uids []sealpost.UID, dest sealpost.MailboxID) ([]sealpost.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	copies, err := m.svc.store.CopyMessages(ctx, m.info.ID, uids, dest, 0)
	if err != nil {
		return nil, errors.E("postbox.Move", err)
	}
	if _, err := m.expungeLocked(ctx, uids, false); err != nil {
		return copies, err
	}
	if dest == m.info.ID {
		m.syncLocked(ctx) // syncLive would take mu again
		return copies, nil
	}
	m.svc.syncLive(ctx, copies)
	return copies, nil
}
