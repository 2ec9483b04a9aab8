package postbox

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/seal"
)

// Session is an owner's session: the account's keys unlocked in memory for
// as long as the session lasts, and never written anywhere. Close forgets
// them. A Session is safe for concurrent use.
type Session struct {
	svc  *Service
	acct sealpost.Account
	ua   *unlockedAccount
	keys map[sealpost.KeyID]*seal.Unlocked // ua.keys, read-only
}

// Login checks the password and unlocks every key generation it opens. A
// wrong address and a wrong password give the same Permission error.
func (s *Service) Login(ctx context.Context, addr, password string) (*Session, error) {
	const op = "postbox.Login"
	acct, err := s.LookupAccount(ctx, addr)
	if errors.Is(errors.NotExist, err) {
		return nil, errors.E(op, s.CheckNobody(ctx, password))
	} else if err != nil {
		return nil, errors.E(op, err)
	}
	check := s.passwordCheck(acct, password)
	s.mu.Lock()
	if ua := s.cachedLocked(acct, check, true); ua != nil {
		s.mu.Unlock()
		return &Session{svc: s, acct: acct, ua: ua, keys: ua.keys}, nil
	}
	s.mu.Unlock()

	keys, err := s.store.Keys(ctx, acct.ID)
	if err != nil {
		return nil, errors.E(op, err)
	}
	ua := &unlockedAccount{refs: 1, verifier: acct.PasswordVerifier, check: check, keys: make(map[sealpost.KeyID]*seal.Unlocked)}
	err = s.derive(ctx, func() error {
		secret, err := seal.CheckPassword(acct.PasswordVerifier, password)
		if err != nil {
			return err
		}
		defer secret.Wipe()
		for _, k := range keys {
			if k.WrappedByPassword == nil {
				continue
			}
			u, err := secret.Unwrap(k.WrappedByPassword)
			if err != nil {
				s.log.Warn("unwrap key generation", "account", acct.ID, "key", k.ID, "err", err)
				continue
			}
			ua.keys[k.ID] = u
		}
		return nil
	})
	if errors.Is(errors.Unavailable, err) {
		return nil, errors.E(op, err) // the queue is full: try again later
	} else if err != nil {
		return nil, errors.E(op, errors.Permission, err)
	}
	s.mu.Lock()
	if cur := s.cachedLocked(acct, check, true); cur != nil {
		// Another login of the same password won the race: share its keys.
		s.mu.Unlock()
		wipeKeys(ua.keys)
		return &Session{svc: s, acct: acct, ua: cur, keys: cur.keys}, nil
	}
	if cur := s.unlocked[acct.ID]; cur == nil || cur.refs == 0 {
		if cur != nil { // cached under another password, now stale
			s.mu.Unlock()
			s.forgetUnlocked(acct.ID)
			s.mu.Lock()
		}
		if s.unlocked[acct.ID] == nil {
			s.unlocked[acct.ID] = ua
		}
	}
	// Otherwise sessions under an older password stay on their own keys,
	// and this session keeps its own (not shared) until it closes.
	s.mu.Unlock()
	return &Session{svc: s, acct: acct, ua: ua, keys: ua.keys}, nil
}

func wipeKeys(keys map[sealpost.KeyID]*seal.Unlocked) {
	for _, u := range keys {
		u.Wipe()
	}
}

// Account returns the session's account.
func (ss *Session) Account() sealpost.Account { return ss.acct }

// Service returns the session's service.
func (ss *Session) Service() *Service { return ss.svc }

// Close ends the session; when it is the account's last, its unlocked keys
// are wiped, or kept for Options.AuthCacheTime (authcache.go). Close must
// not run concurrently with other methods.
func (ss *Session) Close() {
	if ss.ua == nil {
		return
	}
	ss.svc.closeUnlocked(ss.acct.ID, ss.ua)
	ss.ua, ss.keys = nil, nil
}

// Mailboxes lists the account's mailboxes (not the hidden hold mailbox).
func (ss *Session) Mailboxes(ctx context.Context) ([]sealpost.Mailbox, error) {
	mbs, err := ss.svc.store.Mailboxes(ctx, ss.acct.ID)
	out := mbs[:0]
	for _, mb := range mbs {
		if mb.Use != sealpost.UseHeld {
			out = append(out, mb)
		}
	}
	return out, err
}

// byName returns an owner-visible mailbox by name: the hidden hold mailbox
// does not exist for the owner.
func (ss *Session) byName(ctx context.Context, name string) (sealpost.Mailbox, error) {
	if hidden(name) {
		return sealpost.Mailbox{}, errors.E(errors.NotExist, errors.Errorf("no mailbox %q", name))
	}
	return ss.svc.store.MailboxByName(ctx, ss.acct.ID, name)
}

// Mailbox returns the named mailbox's metadata, current if it is live.
func (ss *Session) Mailbox(ctx context.Context, name string) (sealpost.Mailbox, error) {
	info, err := ss.byName(ctx, name)
	if err != nil {
		return info, err
	}
	ss.svc.mu.Lock()
	m := ss.svc.live[info.ID]
	ss.svc.mu.Unlock()
	if m != nil {
		m.mu.RLock()
		info = m.info
		m.mu.RUnlock()
	}
	return info, nil
}

// MailboxStats are the counts STATUS reports.
type MailboxStats struct {
	Info     sealpost.Mailbox
	Messages uint32
	Unseen   uint32
	Deleted  uint32
	Size     int64
	// DeletedSize is the size of the messages marked \Deleted: what an
	// EXPUNGE would free.
	DeletedSize int64
	// Recent counts the messages no session has been given as \Recent
	// yet (RFC 3501 2.3.2; recent.go).
	Recent uint32
}

// Stats returns a mailbox's counts.
func (ss *Session) Stats(ctx context.Context, name string) (MailboxStats, error) {
	info, err := ss.Mailbox(ctx, name)
	if err != nil {
		return MailboxStats{}, err
	}
	msgs, err := ss.svc.store.Messages(ctx, info.ID, 0)
	if err != nil {
		return MailboxStats{}, err
	}
	st := MailboxStats{Info: info, Messages: uint32(len(msgs))}
	firstRecent := ss.svc.recentFrom(info.ID)
	for _, m := range msgs {
		if m.UID >= firstRecent {
			st.Recent++
		}
		if !sealpost.HasFlag(m.Flags, sealpost.FlagSeen) {
			st.Unseen++
		}
		if sealpost.HasFlag(m.Flags, sealpost.FlagDeleted) {
			st.Deleted++
			st.DeletedSize += m.Size
		}
		st.Size += m.Size
	}
	return st, nil
}

// CreateMailbox creates a mailbox (and, as RFC 9051 6.3.4 asks, any missing
// parents when name has the "/" delimiter), subscribed as every mailbox the
// store creates is; CreateMailboxUnsubscribed leaves them unsubscribed.
func (ss *Session) CreateMailbox(ctx context.Context, name string, use sealpost.SpecialUse) error {
	return ss.createMailbox(ctx, name, use, true)
}

func (ss *Session) createMailbox(ctx context.Context, name string, use sealpost.SpecialUse, subscribe bool) error {
	const op = "postbox.CreateMailbox"
	name = strings.TrimSuffix(name, "/")
	if err := sealpost.CheckMailboxName(name); err != nil {
		return errors.E(op, err)
	}
	if strings.EqualFold(name, "INBOX") {
		return errors.E(op, errors.Exist)
	}
	if hidden(name) {
		return errors.E(op, errors.Permission, errors.Str("reserved mailbox name"))
	}
	q, err := ss.ownLimits(ctx)
	if err != nil {
		return errors.E(op, err)
	}
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], "/")
		if _, err := ss.svc.store.MailboxByName(ctx, ss.acct.ID, parent); errors.Is(errors.NotExist, err) {
			pm, err := ss.svc.store.CreateMailbox(ctx, ss.acct.ID, parent, sealpost.UseNone, q.Mailboxes)
			if err != nil && !errors.Is(errors.Exist, err) {
				return errors.E(op, err)
			}
			if err == nil {
				if err := ss.subscribeCreated(ctx, pm, subscribe); err != nil {
					return err
				}
			}
		}
	}
	mb, err := ss.svc.store.CreateMailbox(ctx, ss.acct.ID, name, use, q.Mailboxes)
	if err != nil {
		return err
	}
	return ss.subscribeCreated(ctx, mb, subscribe)
}

// DeleteMailbox deletes a mailbox and its messages. INBOX cannot be deleted.
func (ss *Session) DeleteMailbox(ctx context.Context, name string) error {
	const op = "postbox.DeleteMailbox"
	if strings.EqualFold(name, "INBOX") {
		return errors.E(op, errors.Permission, errors.Str("INBOX cannot be deleted"))
	}
	info, err := ss.byName(ctx, name)
	if err != nil {
		return errors.E(op, err)
	}
	// Under a legal hold the mailbox's messages are retained first.
	if err := ss.svc.retainMailbox(ctx, ss.acct.ID, info.ID); err != nil {
		return errors.E(op, err)
	}
	refs, err := ss.svc.store.DeleteMailbox(ctx, info.ID)
	if err != nil {
		return errors.E(op, err)
	}
	ss.svc.reaper.later(ctx, refs)
	if info.Subscribed {
		ss.svc.orphans.add(ss.acct.ID, info.Name) // subscriptions.go
	}
	return nil
}

// RenameMailbox renames a mailbox and its children. Renaming INBOX moves its
// messages to the new mailbox and leaves INBOX empty (RFC 9051 6.3.6).
func (ss *Session) RenameMailbox(ctx context.Context, from, to string) error {
	const op = "postbox.RenameMailbox"
	to = strings.TrimSuffix(to, "/")
	if err := sealpost.CheckMailboxName(to); err != nil {
		return errors.E(op, err)
	}
	if strings.EqualFold(to, "INBOX") {
		return errors.E(op, errors.Exist)
	}
	if hidden(to) {
		return errors.E(op, errors.Permission, errors.Str("reserved mailbox name"))
	}
	info, err := ss.byName(ctx, from)
	if err != nil {
		return errors.E(op, err)
	}
	if _, err := ss.svc.store.MailboxByName(ctx, ss.acct.ID, to); err == nil {
		return errors.E(op, errors.Exist)
	}
	if info.Use != sealpost.UseInbox {
		return ss.svc.store.RenameMailbox(ctx, info.ID, to)
	}
	if err := ss.CreateMailbox(ctx, to, sealpost.UseNone); err != nil {
		return errors.E(op, err)
	}
	dest, err := ss.svc.store.MailboxByName(ctx, ss.acct.ID, to)
	if err != nil {
		return errors.E(op, err)
	}
	m, err := ss.svc.acquire(ctx, info)
	if err != nil {
		return errors.E(op, err)
	}
	defer ss.svc.release(m)
	var uids []sealpost.UID
	m.Read(func(_ sealpost.Mailbox, msgs []sealpost.Message) {
		for _, msg := range msgs {
			uids = append(uids, msg.UID)
		}
	})
	if len(uids) == 0 {
		return nil
	}
	_, err = m.Move(ctx, uids, dest.ID)
	return err
}

// Subscribe sets a mailbox's subscription.
func (ss *Session) Subscribe(ctx context.Context, name string, subscribed bool) error {
	info, err := ss.byName(ctx, name)
	if errors.Is(errors.NotExist, err) && !subscribed && ss.svc.orphans.remove(ss.acct.ID, name) {
		return nil // a deleted mailbox's subscription (subscriptions.go)
	}
	if err != nil {
		return errors.E("postbox.Subscribe", err)
	}
	return ss.svc.store.SetSubscribed(ctx, info.ID, subscribed)
}

// Select returns the live state of the named mailbox. The caller must
// Release it when done.
func (ss *Session) Select(ctx context.Context, name string) (*Mailbox, error) {
	info, err := ss.byName(ctx, name)
	if err != nil {
		return nil, errors.E("postbox.Select", err)
	}
	return ss.svc.acquire(ctx, info)
}

// Release drops the session's hold on a selected mailbox.
func (ss *Session) Release(m *Mailbox) { ss.svc.release(m) }

// Append files a message in one of the session's mailboxes.
func (ss *Session) Append(ctx context.Context, name string, msg Message, flags []sealpost.Flag, date time.Time) (sealpost.Mailbox, sealpost.Message, error) {
	if hidden(name) {
		return sealpost.Mailbox{}, sealpost.Message{}, errors.E("postbox.Append", errors.NotExist)
	}
	return ss.svc.Append(ctx, ss.acct, name, msg, flags, date)
}

// Copy copies messages from a selected mailbox to another of the account's
// mailboxes, returning the copies in input order and the destination.
func (ss *Session) Copy(ctx context.Context, from *Mailbox, uids []sealpost.UID, to string) (sealpost.Mailbox, []sealpost.Message, error) {
	const op = "postbox.Copy"
	dest, err := ss.byName(ctx, to)
	if err != nil {
		return dest, nil, errors.E(op, err)
	}
	q, err := ss.ownLimits(ctx)
	if err != nil {
		return dest, nil, errors.E(op, err)
	}
	copies, err := ss.svc.store.CopyMessages(ctx, from.info.ID, uids, dest.ID, q.Storage)
	if err != nil {
		return dest, nil, errors.E(op, err)
	}
	ss.svc.syncLive(ctx, copies)
	ss.learnFromMove(ctx, from.info.Use, dest, copies) // train.go
	return dest, copies, nil
}

// Move moves messages from a selected mailbox to another of the account's
// mailboxes.
func (ss *Session) Move(ctx context.Context, from *Mailbox, uids []sealpost.UID, to string) (sealpost.Mailbox, []sealpost.Message, error) {
	dest, err := ss.byName(ctx, to)
	if err != nil {
		return dest, nil, errors.E("postbox.Move", err)
	}
	copies, err := from.Move(ctx, uids, dest.ID)
	if err == nil {
		ss.learnFromMove(ctx, from.info.Use, dest, copies) // train.go
	}
	return dest, copies, err
}

// CanOpen reports whether this session can open mail sealed to the key
// generation (0 stands for own-key PGP/MIME, which is served as stored).
func (ss *Session) CanOpen(key sealpost.KeyID) bool {
	return key == 0 || ss.keys[key] != nil
}

// Body returns the plaintext of a message: decrypted with the session's
// unlocked key, using (and filling) the cached session key so that only the
// first read pays a public-key operation. For an own-key account it returns
// the stored PGP/MIME form, which the owner's client decrypts.
func (ss *Session) Body(ctx context.Context, msg sealpost.Message) ([]byte, error) {
	const op = "postbox.Body"
	sealed, err := ss.svc.readBlob(ctx, msg.Blob)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if msg.Key == 0 {
		return sealed, nil // own-key mode: stored as PGP/MIME
	}
	u := ss.keys[msg.Key]
	if u == nil {
		return nil, errors.E(op, errors.Sealed)
	}
	binding := []byte(msg.Blob)
	if msg.SessionKey != nil {
		plain, err := u.OpenCached(sealed, msg.SessionKey, binding)
		if err == nil {
			return plain, nil
		}
		ss.svc.log.Warn("cached session key failed", "message", msg.ID, "err", err)
	}
	plain, wrapped, err := u.Open(sealed, binding)
	if err != nil {
		return nil, errors.E(op, err)
	}
	ss.svc.rememberSessionKey(msg, wrapped)
	return plain, nil
}

// rememberSessionKey updates the live state and schedules the write.
func (s *Service) rememberSessionKey(msg sealpost.Message, wrapped []byte) {
	s.mu.Lock()
	m := s.live[msg.Mailbox]
	s.mu.Unlock()
	if m != nil {
		m.mu.Lock()
		if i := m.index(msg.UID); i >= 0 && m.msgs[i].ID == msg.ID {
			m.msgs[i].SessionKey = wrapped
		}
		m.mu.Unlock()
	}
	s.sk.add(msg.ID, wrapped)
}

// sessionKeyWriter batches the writes of wrapped session keys: they are a
// cache, so losing some in a crash costs only a public-key operation later.
type sessionKeyWriter struct {
	store sealpost.MessageStore
	log   *slog.Logger

	mu      sync.Mutex
	pending map[sealpost.MessageID][]byte
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
}

func newSessionKeyWriter(store sealpost.MessageStore, log *slog.Logger) *sessionKeyWriter {
	w := &sessionKeyWriter{
		store: store, log: log,
		pending: make(map[sealpost.MessageID][]byte),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go w.run()
	return w
}

func (w *sessionKeyWriter) add(id sealpost.MessageID, wrapped []byte) {
	w.mu.Lock()
	w.pending[id] = wrapped
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *sessionKeyWriter) run() {
	defer close(w.stopped)
	for {
		select {
		case <-w.kick:
			w.flush()
		case <-w.done:
			w.flush()
			return
		}
	}
}

func (w *sessionKeyWriter) flush() {
	w.mu.Lock()
	batch := w.pending
	w.pending = make(map[sealpost.MessageID][]byte)
	w.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := w.store.SetSessionKeys(context.Background(), batch); err != nil {
		w.log.Warn("store session keys", "n", len(batch), "err", err)
	}
}

func (w *sessionKeyWriter) close() {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	<-w.stopped
}
