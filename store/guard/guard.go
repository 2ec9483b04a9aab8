// Package guard enforces residency under the mail service: its Store wraps
// a region's metadata store (any sealpost.Store) and lets an operation
// through only for accounts the directory homes in that region, refusing
// the rest with a WrongRegion error. Everything above the store layer
// (postbox, the router, the mover) sees a region's storage only through it.
//
// It imports nothing of the project but the root package and errors: the
// store layer never depends on package region.
package guard

import (
	"context"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Recheck bounds how long the guard trusts that an account it has vouched
// for is still homed here and not being moved; after it, the next operation
// asks the directory again. A mover working beside a running server waits
// this long after recording a move before it copies (see region.Mover.Settle), so
// that no write lands in the source after the copy.
const Recheck = 5 * time.Second

// Store is a region's sealpost.Store as every caller sees it: it lets an
// operation through only for accounts the directory homes in this region,
// and refuses the rest with a WrongRegion error. It is the enforcement of
// residency in code: whatever a bug or an operator asks of a region's store,
// it cannot create, read or change the mailbox of an account homed
// elsewhere.
//
// Operations keyed by address ask the directory. Operations keyed by an
// account or mailbox ID are allowed only for IDs the guard has itself
// handed out (from Account, CreateAccount or the mailbox lookups) for an
// account that was homed here at most Recheck ago; any other ID is refused.
// The exceptions serve a mailbox move, and are allowed only while the
// directory records that move: its source may be exported from (and, once
// switched, deleted), its destination imported into (and, before the
// switch, cleared of an interrupted copy).
type Store struct {
	// The region's outbound queue holds mail its own accounts sent: the
	// guard passes it through.
	sealpost.QueueStore

	inner  sealpost.Store
	region sealpost.RegionID
	dir    sealpost.Directory
	now    func() time.Time

	mu       sync.RWMutex
	accounts map[sealpost.AccountID]*vouch
	mboxes   map[sealpost.MailboxID]sealpost.AccountID
}

type vouch struct {
	addr    string
	checked time.Time
	// gone: the guard deleted the account. Its IDs are never reused, so
	// they stay known, and every operation on them is NotExist, as on the
	// inner store.
	gone bool
}

var _ sealpost.Store = (*Store)(nil)

// Option configures New.
type Option func(*Store)

// WithClock sets the clock the guard measures Recheck with (tests).
func WithClock(now func() time.Time) Option { return func(g *Store) { g.now = now } }

// New returns the guarded view of a region's store. It claims the store for
// the region, so one region's storage can never serve as another's.
func New(ctx context.Context, inner sealpost.Store, region sealpost.RegionID, dir sealpost.Directory, opts ...Option) (*Store, error) {
	if err := inner.Claim(ctx, region); err != nil {
		return nil, errors.E("guard.New", err)
	}
	g := &Store{
		QueueStore: inner,
		inner:      inner, region: region, dir: dir, now: time.Now,
		accounts: make(map[sealpost.AccountID]*vouch),
		mboxes:   make(map[sealpost.MailboxID]sealpost.AccountID),
	}
	for _, o := range opts {
		o(g)
	}
	return g, nil
}

// Region returns the region the guard is for.
func (g *Store) Region() sealpost.RegionID { return g.region }

// Inner returns the unguarded store, for the residency audit, which must
// see everything a region holds.
func (g *Store) Inner() sealpost.Store { return g.inner }

// wrong is the error for an account homed elsewhere.
func (g *Store) wrong(op string, home sealpost.RegionID) error {
	if home == "" {
		return errors.E(op, errors.WrongRegion, errors.Errorf("account is not homed in region %s", g.region))
	}
	return errors.E(op, errors.WrongRegion, errors.Errorf("account is homed in region %s, not %s", home, g.region))
}

// status returns addr's home region and its unfinished move, if any.
func (g *Store) status(ctx context.Context, addr string) (sealpost.RegionID, *sealpost.Move, error) {
	home, err := g.dir.Home(ctx, addr)
	if err != nil {
		return "", nil, err
	}
	moves, err := g.dir.Moves(ctx)
	if err != nil {
		return "", nil, err
	}
	addr = sealpost.NormalizeAddress(addr)
	for _, m := range moves {
		if m.Address == addr {
			return home, &m, nil
		}
	}
	return home, nil, nil
}

// homedHere checks that addr lives in this region and is not being moved:
// while a move is under way the mailbox is frozen in both regions (an
// Unavailable error, so SMTP answers 451 and the sender retries), so that
// nothing is written to a copy about to be deleted.
func (g *Store) homedHere(ctx context.Context, op, addr string) error {
	home, m, err := g.status(ctx, addr)
	if err != nil {
		return errors.E(op, err)
	}
	if home != g.region {
		return g.wrong(op, home)
	}
	if m != nil {
		return errors.E(op, errors.Unavailable, errors.Errorf("mailbox is moving from %s to %s", m.From, m.To))
	}
	return nil
}

// move returns the unfinished move of addr, if any.
func (g *Store) move(ctx context.Context, addr string) (sealpost.Move, bool, error) {
	_, m, err := g.status(ctx, addr)
	if err != nil && !errors.Is(errors.NotExist, err) {
		return sealpost.Move{}, false, err
	}
	if m == nil {
		return sealpost.Move{}, false, nil
	}
	return *m, true, nil
}

func (g *Store) vouchFor(id sealpost.AccountID, addr string) {
	g.mu.Lock()
	g.accounts[id] = &vouch{addr: addr, checked: g.now()}
	g.mu.Unlock()
}

func (g *Store) forget(id sealpost.AccountID) {
	g.mu.Lock()
	delete(g.accounts, id)
	for mb, a := range g.mboxes {
		if a == id {
			delete(g.mboxes, mb)
		}
	}
	g.mu.Unlock()
}

// account checks an account ID: known to the guard and still homed here.
func (g *Store) account(ctx context.Context, op string, id sealpost.AccountID) error {
	g.mu.RLock()
	v := g.accounts[id]
	var addr string
	var fresh bool
	if v != nil {
		addr, fresh = v.addr, g.now().Sub(v.checked) < Recheck
	}
	g.mu.RUnlock()
	if v == nil {
		return errors.E(op, errors.WrongRegion, errors.Errorf("account %d was not vouched for in region %s", id, g.region))
	}
	if v.gone {
		return errors.E(op, errors.NotExist, errors.Errorf("account %d was deleted", id))
	}
	if fresh {
		return nil
	}
	if err := g.homedHere(ctx, op, addr); err != nil {
		if errors.Is(errors.WrongRegion, err) || errors.Is(errors.NotExist, err) {
			g.forget(id)
		}
		return err
	}
	g.vouchFor(id, addr)
	return nil
}

// mailbox checks a mailbox ID through its account.
func (g *Store) mailbox(ctx context.Context, op string, id sealpost.MailboxID) error {
	g.mu.RLock()
	acct, ok := g.mboxes[id]
	g.mu.RUnlock()
	if !ok {
		return errors.E(op, errors.WrongRegion, errors.Errorf("mailbox %d was not vouched for in region %s", id, g.region))
	}
	return g.account(ctx, op, acct)
}

func (g *Store) noteMailboxes(mbs ...sealpost.Mailbox) {
	g.mu.Lock()
	for _, m := range mbs {
		g.mboxes[m.ID] = m.Account
	}
	g.mu.Unlock()
}

// AccountStore.

func (g *Store) AddDomain(ctx context.Context, domain string) error {
	return g.inner.AddDomain(ctx, domain)
}

func (g *Store) Domains(ctx context.Context) ([]string, error) { return g.inner.Domains(ctx) }

// CreateAccount creates an account only if the directory already homes its
// address here: the directory entry is written first.
func (g *Store) CreateAccount(ctx context.Context, acct sealpost.Account, key sealpost.Key) (sealpost.Account, error) {
	const op = "guard.CreateAccount"
	if err := g.homedHere(ctx, op, acct.Address); err != nil {
		return sealpost.Account{}, err
	}
	a, err := g.inner.CreateAccount(ctx, acct, key)
	if err == nil {
		g.vouchFor(a.ID, a.Address)
	}
	return a, err
}

func (g *Store) Account(ctx context.Context, address string) (sealpost.Account, error) {
	const op = "guard.Account"
	if err := g.homedHere(ctx, op, address); err != nil {
		return sealpost.Account{}, err
	}
	a, err := g.inner.Account(ctx, address)
	if err == nil {
		g.vouchFor(a.ID, a.Address)
	}
	return a, err
}

// Accounts lists the accounts homed here; rows of accounts homed elsewhere
// (an unfinished move's other half) are left out.
func (g *Store) Accounts(ctx context.Context) ([]sealpost.Account, error) {
	const op = "guard.Accounts"
	all, err := g.inner.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	homes, err := g.dir.Homes(ctx)
	if err != nil {
		return nil, errors.E(op, err)
	}
	here := make(map[string]bool, len(homes))
	for _, h := range homes {
		if h.Region == g.region {
			here[h.Address] = true
		}
	}
	out := all[:0]
	for _, a := range all {
		if here[a.Address] {
			out = append(out, a)
		}
	}
	return out, nil
}

// DeleteAccount deletes an account homed here, or one half of a move this
// region takes part in: the source after the switch, or the destination's
// copy before it.
func (g *Store) DeleteAccount(ctx context.Context, id sealpost.AccountID) ([]sealpost.BlobRef, error) {
	const op = "guard.DeleteAccount"
	g.mu.RLock()
	v := g.accounts[id]
	g.mu.RUnlock()
	if v == nil {
		return nil, errors.E(op, errors.WrongRegion, errors.Errorf("account %d was not vouched for in region %s", id, g.region))
	}
	if v.gone {
		return nil, errors.E(op, errors.NotExist, errors.Errorf("account %d was deleted", id))
	}
	home, m, err := g.status(ctx, v.addr)
	// An account already gone from the directory (a deletion interrupted
	// after its directory step) may be finished off.
	gone := errors.Is(errors.NotExist, err)
	if err != nil && !gone {
		return nil, errors.E(op, err)
	}
	if !gone && (home != g.region || m != nil) {
		srcDone := m != nil && m.From == g.region && m.Phase == sealpost.MoveCleanup
		dstUndo := m != nil && m.To == g.region && m.Phase == sealpost.MoveCopy
		switch {
		case srcDone || dstUndo:
		case home != g.region:
			return nil, g.wrong(op, home)
		default:
			return nil, errors.E(op, errors.Unavailable, errors.Errorf("mailbox is moving from %s to %s", m.From, m.To))
		}
	}
	refs, err := g.inner.DeleteAccount(ctx, id)
	if err == nil {
		g.mu.Lock()
		g.accounts[id] = &vouch{addr: v.addr, gone: true}
		g.mu.Unlock()
	}
	return refs, err
}

func (g *Store) SetPasswordVerifier(ctx context.Context, id sealpost.AccountID, verifier []byte) error {
	if err := g.account(ctx, "guard.SetPasswordVerifier", id); err != nil {
		return err
	}
	return g.inner.SetPasswordVerifier(ctx, id, verifier)
}

func (g *Store) SetSettings(ctx context.Context, id sealpost.AccountID, set sealpost.AccountSettings) error {
	if err := g.account(ctx, "guard.SetSettings", id); err != nil {
		return err
	}
	return g.inner.SetSettings(ctx, id, set)
}

func (g *Store) Keys(ctx context.Context, id sealpost.AccountID) ([]sealpost.Key, error) {
	if err := g.account(ctx, "guard.Keys", id); err != nil {
		return nil, err
	}
	return g.inner.Keys(ctx, id)
}

func (g *Store) PutKey(ctx context.Context, key sealpost.Key) (sealpost.KeyID, error) {
	if err := g.account(ctx, "guard.PutKey", key.Account); err != nil {
		return 0, err
	}
	return g.inner.PutKey(ctx, key)
}

// MailboxStore.

func (g *Store) Mailboxes(ctx context.Context, acct sealpost.AccountID) ([]sealpost.Mailbox, error) {
	if err := g.account(ctx, "guard.Mailboxes", acct); err != nil {
		return nil, err
	}
	mbs, err := g.inner.Mailboxes(ctx, acct)
	g.noteMailboxes(mbs...)
	return mbs, err
}

func (g *Store) MailboxByName(ctx context.Context, acct sealpost.AccountID, name string) (sealpost.Mailbox, error) {
	if err := g.account(ctx, "guard.MailboxByName", acct); err != nil {
		return sealpost.Mailbox{}, err
	}
	mb, err := g.inner.MailboxByName(ctx, acct, name)
	if err == nil {
		g.noteMailboxes(mb)
	}
	return mb, err
}

func (g *Store) MailboxByUse(ctx context.Context, acct sealpost.AccountID, use sealpost.SpecialUse) (sealpost.Mailbox, error) {
	if err := g.account(ctx, "guard.MailboxByUse", acct); err != nil {
		return sealpost.Mailbox{}, err
	}
	mb, err := g.inner.MailboxByUse(ctx, acct, use)
	if err == nil {
		g.noteMailboxes(mb)
	}
	return mb, err
}

func (g *Store) CreateMailbox(ctx context.Context, acct sealpost.AccountID, name string, use sealpost.SpecialUse, limit int64) (sealpost.Mailbox, error) {
	if err := g.account(ctx, "guard.CreateMailbox", acct); err != nil {
		return sealpost.Mailbox{}, err
	}
	mb, err := g.inner.CreateMailbox(ctx, acct, name, use, limit)
	if err == nil {
		g.noteMailboxes(mb)
	}
	return mb, err
}

func (g *Store) DeleteMailbox(ctx context.Context, id sealpost.MailboxID) ([]sealpost.BlobRef, error) {
	if err := g.mailbox(ctx, "guard.DeleteMailbox", id); err != nil {
		return nil, err
	}
	// The ID stays known (IDs are never reused): later operations on it
	// are the inner store's NotExist.
	return g.inner.DeleteMailbox(ctx, id)
}

func (g *Store) RenameMailbox(ctx context.Context, id sealpost.MailboxID, newName string) error {
	if err := g.mailbox(ctx, "guard.RenameMailbox", id); err != nil {
		return err
	}
	return g.inner.RenameMailbox(ctx, id, newName)
}

func (g *Store) SetSubscribed(ctx context.Context, id sealpost.MailboxID, subscribed bool) error {
	if err := g.mailbox(ctx, "guard.SetSubscribed", id); err != nil {
		return err
	}
	return g.inner.SetSubscribed(ctx, id, subscribed)
}

// MessageStore.

func (g *Store) AddMessages(ctx context.Context, msgs []sealpost.NewMessage) ([]sealpost.Message, error) {
	var last sealpost.MailboxID
	for _, m := range msgs {
		if m.Mailbox == last {
			continue
		}
		if err := g.mailbox(ctx, "guard.AddMessages", m.Mailbox); err != nil {
			return nil, err
		}
		last = m.Mailbox
	}
	return g.inner.AddMessages(ctx, msgs)
}

func (g *Store) Messages(ctx context.Context, mailbox sealpost.MailboxID, after sealpost.UID) ([]sealpost.Message, error) {
	if err := g.mailbox(ctx, "guard.Messages", mailbox); err != nil {
		return nil, err
	}
	return g.inner.Messages(ctx, mailbox, after)
}

func (g *Store) SetFlags(ctx context.Context, mailbox sealpost.MailboxID, uids []sealpost.UID, op sealpost.FlagOp, flags []sealpost.Flag) ([]sealpost.Message, error) {
	if err := g.mailbox(ctx, "guard.SetFlags", mailbox); err != nil {
		return nil, err
	}
	return g.inner.SetFlags(ctx, mailbox, uids, op, flags)
}

func (g *Store) Expunge(ctx context.Context, mailbox sealpost.MailboxID, uids []sealpost.UID) (sealpost.Expunged, error) {
	if err := g.mailbox(ctx, "guard.Expunge", mailbox); err != nil {
		return sealpost.Expunged{}, err
	}
	return g.inner.Expunge(ctx, mailbox, uids)
}

func (g *Store) Vanished(ctx context.Context, mailbox sealpost.MailboxID, since uint64) ([]sealpost.UID, bool, error) {
	if err := g.mailbox(ctx, "guard.Vanished", mailbox); err != nil {
		return nil, false, err
	}
	return g.inner.Vanished(ctx, mailbox, since)
}

func (g *Store) CopyMessages(ctx context.Context, from sealpost.MailboxID, uids []sealpost.UID, to sealpost.MailboxID, limit int64) ([]sealpost.Message, error) {
	for _, mb := range []sealpost.MailboxID{from, to} {
		if err := g.mailbox(ctx, "guard.CopyMessages", mb); err != nil {
			return nil, err
		}
	}
	return g.inner.CopyMessages(ctx, from, uids, to, limit)
}

// SetSessionKeys is keyed by message ID, which only an owner's session
// reading through the guard (Messages) has learnt; the keys it stores are
// wrapped under the owner's mailbox key.
func (g *Store) SetSessionKeys(ctx context.Context, keys map[sealpost.MessageID][]byte) error {
	return g.inner.SetSessionKeys(ctx, keys)
}

// RegionStore.

func (g *Store) Claim(ctx context.Context, region sealpost.RegionID) error {
	return g.inner.Claim(ctx, region)
}

// ExportAccount exports an account homed here, or either half of a move
// this region takes part in (the mover reads both to verify the copy).
func (g *Store) ExportAccount(ctx context.Context, addr string) (sealpost.AccountImage, error) {
	const op = "guard.ExportAccount"
	home, m, err := g.status(ctx, addr)
	if err != nil {
		return sealpost.AccountImage{}, errors.E(op, err)
	}
	inMove := m != nil && (m.From == g.region || m.To == g.region)
	if home != g.region && !inMove {
		return sealpost.AccountImage{}, g.wrong(op, home)
	}
	img, err := g.inner.ExportAccount(ctx, addr)
	if err == nil {
		g.mu.Lock()
		// Vouch for the ID so that a mover can delete this half; ordinary
		// operations still re-ask the directory for it.
		g.accounts[img.Account.ID] = &vouch{addr: img.Account.Address}
		g.mu.Unlock()
	}
	return img, err
}

// ImportAccount accepts an account only as the destination of a recorded,
// unswitched move.
func (g *Store) ImportAccount(ctx context.Context, img sealpost.AccountImage) (sealpost.Account, error) {
	const op = "guard.ImportAccount"
	m, ok, err := g.move(ctx, img.Account.Address)
	if err != nil {
		return sealpost.Account{}, errors.E(op, err)
	}
	if !ok || m.To != g.region || m.Phase != sealpost.MoveCopy {
		return sealpost.Account{}, errors.E(op, errors.WrongRegion,
			errors.Errorf("no move of this account into region %s is under way", g.region))
	}
	a, err := g.inner.ImportAccount(ctx, img)
	if err == nil {
		g.mu.Lock()
		g.accounts[a.ID] = &vouch{addr: a.Address}
		g.mu.Unlock()
	}
	return a, err
}

func (g *Store) Inventory(ctx context.Context) (sealpost.Inventory, error) {
	return g.inner.Inventory(ctx)
}

// Close closes the inner store.
func (g *Store) Close() error { return g.inner.Close() }
