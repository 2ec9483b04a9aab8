package region

import (
	"context"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// recheck bounds how long the Guard trusts that an account it has vouched
// for is still homed here and not being moved; after it, the next operation
// asks the directory again. A mover working beside a running server waits
// this long after recording a move before it copies (see Mover.Settle), so
// that no write lands in the source after the copy.
const recheck = 5 * time.Second

// Guard is a region's sealpost.Store as every caller sees it: it lets an
// operation through only for accounts the directory homes in this region,
// and refuses the rest with a WrongRegion error. It is the enforcement of
// residency in code: whatever a bug or an operator asks of a region's store,
// it cannot create, read or change the mailbox of an account homed
// elsewhere.
//
// Operations keyed by address ask the directory. Operations keyed by an
// account or mailbox ID are allowed only for IDs the Guard has itself
// handed out (from Account, CreateAccount or the mailbox lookups) for an
// account that was homed here at most recheck ago; any other ID is refused.
// The exceptions serve a mailbox move, and are allowed only while the
// directory records that move: its source may be exported from (and, once
// switched, deleted), its destination imported into (and, before the
// switch, cleared of an interrupted copy).
type Guard struct {
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
}

var _ sealpost.Store = (*Guard)(nil)

// NewGuard returns the guarded view of a region's store. It claims the store
// for the region, so one region's storage can never serve as another's.
func NewGuard(ctx context.Context, inner sealpost.Store, region sealpost.RegionID, dir sealpost.Directory) (*Guard, error) {
	if err := inner.Claim(ctx, region); err != nil {
		return nil, errors.E("region.NewGuard", err)
	}
	return &Guard{
		inner: inner, region: region, dir: dir, now: time.Now,
		accounts: make(map[sealpost.AccountID]*vouch),
		mboxes:   make(map[sealpost.MailboxID]sealpost.AccountID),
	}, nil
}

// Region returns the region the guard is for.
func (g *Guard) Region() sealpost.RegionID { return g.region }

// Inner returns the unguarded store, for the residency audit, which must
// see everything a region holds.
func (g *Guard) Inner() sealpost.Store { return g.inner }

// wrong is the error for an account homed elsewhere.
func (g *Guard) wrong(op string, home sealpost.RegionID) error {
	if home == "" {
		return errors.E(op, errors.WrongRegion, errors.Errorf("account is not homed in region %s", g.region))
	}
	return errors.E(op, errors.WrongRegion, errors.Errorf("account is homed in region %s, not %s", home, g.region))
}

// status returns addr's home region and its unfinished move, if any.
func (g *Guard) status(ctx context.Context, addr string) (sealpost.RegionID, *sealpost.Move, error) {
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
func (g *Guard) homedHere(ctx context.Context, op, addr string) error {
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
func (g *Guard) move(ctx context.Context, addr string) (sealpost.Move, bool, error) {
	_, m, err := g.status(ctx, addr)
	if err != nil && !errors.Is(errors.NotExist, err) {
		return sealpost.Move{}, false, err
	}
	if m == nil {
		return sealpost.Move{}, false, nil
	}
	return *m, true, nil
}

func (g *Guard) vouchFor(id sealpost.AccountID, addr string) {
	g.mu.Lock()
	g.accounts[id] = &vouch{addr: addr, checked: g.now()}
	g.mu.Unlock()
}

func (g *Guard) forget(id sealpost.AccountID) {
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
func (g *Guard) account(ctx context.Context, op string, id sealpost.AccountID) error {
	g.mu.RLock()
	v := g.accounts[id]
	var addr string
	var fresh bool
	if v != nil {
		addr, fresh = v.addr, g.now().Sub(v.checked) < recheck
	}
	g.mu.RUnlock()
	if v == nil {
		return errors.E(op, errors.WrongRegion, errors.Errorf("account %d was not vouched for in region %s", id, g.region))
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
func (g *Guard) mailbox(ctx context.Context, op string, id sealpost.MailboxID) error {
	g.mu.RLock()
	acct, ok := g.mboxes[id]
	g.mu.RUnlock()
	if !ok {
		return errors.E(op, errors.WrongRegion, errors.Errorf("mailbox %d was not vouched for in region %s", id, g.region))
	}
	return g.account(ctx, op, acct)
}

func (g *Guard) noteMailboxes(mbs ...sealpost.Mailbox) {
	g.mu.Lock()
	for _, m := range mbs {
		g.mboxes[m.ID] = m.Account
	}
	g.mu.Unlock()
}

// AccountStore.

func (g *Guard) AddDomain(ctx context.Context, domain string) error {
	return g.inner.AddDomain(ctx, domain)
}

func (g *Guard) Domains(ctx context.Context) ([]string, error) { return g.inner.Domains(ctx) }

// CreateAccount creates an account only if the directory already homes its
// address here: the directory entry is written first.
func (g *Guard) CreateAccount(ctx context.Context, acct sealpost.Account, key sealpost.Key) (sealpost.Account, error) {
	const op = "region.CreateAccount"
	if err := g.homedHere(ctx, op, acct.Address); err != nil {
		return sealpost.Account{}, err
	}
	a, err := g.inner.CreateAccount(ctx, acct, key)
	if err == nil {
		g.vouchFor(a.ID, a.Address)
	}
	return a, err
}

func (g *Guard) Account(ctx context.Context, address string) (sealpost.Account, error) {
	const op = "region.Account"
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
func (g *Guard) Accounts(ctx context.Context) ([]sealpost.Account, error) {
	const op = "region.Accounts"
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
func (g *Guard) DeleteAccount(ctx context.Context, id sealpost.AccountID) ([]sealpost.BlobRef, error) {
	const op = "region.DeleteAccount"
	g.mu.RLock()
	v := g.accounts[id]
	g.mu.RUnlock()
	if v == nil {
		return nil, errors.E(op, errors.WrongRegion, errors.Errorf("account %d was not vouched for in region %s", id, g.region))
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
		g.forget(id)
	}
	return refs, err
}

func (g *Guard) SetPasswordVerifier(ctx context.Context, id sealpost.AccountID, verifier []byte) error {
	if err := g.account(ctx, "region.SetPasswordVerifier", id); err != nil {
		return err
	}
	return g.inner.SetPasswordVerifier(ctx, id, verifier)
}

func (g *Guard) Keys(ctx context.Context, id sealpost.AccountID) ([]sealpost.Key, error) {
	if err := g.account(ctx, "region.Keys", id); err != nil {
		return nil, err
	}
	return g.inner.Keys(ctx, id)
}

func (g *Guard) PutKey(ctx context.Context, key sealpost.Key) (sealpost.KeyID, error) {
	if err := g.account(ctx, "region.PutKey", key.Account); err != nil {
		return 0, err
	}
	return g.inner.PutKey(ctx, key)
}

// MailStore.

func (g *Guard) Mailboxes(ctx context.Context, acct sealpost.AccountID) ([]sealpost.Mailbox, error) {
	if err := g.account(ctx, "region.Mailboxes", acct); err != nil {
		return nil, err
	}
	mbs, err := g.inner.Mailboxes(ctx, acct)
	g.noteMailboxes(mbs...)
	return mbs, err
}

func (g *Guard) MailboxByName(ctx context.Context, acct sealpost.AccountID, name string) (sealpost.Mailbox, error) {
	if err := g.account(ctx, "region.MailboxByName", acct); err != nil {
		return sealpost.Mailbox{}, err
	}
	mb, err := g.inner.MailboxByName(ctx, acct, name)
	if err == nil {
		g.noteMailboxes(mb)
	}
	return mb, err
}

func (g *Guard) MailboxByUse(ctx context.Context, acct sealpost.AccountID, use sealpost.SpecialUse) (sealpost.Mailbox, error) {
	if err := g.account(ctx, "region.MailboxByUse", acct); err != nil {
		return sealpost.Mailbox{}, err
	}
	mb, err := g.inner.MailboxByUse(ctx, acct, use)
	if err == nil {
		g.noteMailboxes(mb)
	}
	return mb, err
}

func (g *Guard) CreateMailbox(ctx context.Context, acct sealpost.AccountID, name string, use sealpost.SpecialUse) (sealpost.Mailbox, error) {
	if err := g.account(ctx, "region.CreateMailbox", acct); err != nil {
		return sealpost.Mailbox{}, err
	}
	mb, err := g.inner.CreateMailbox(ctx, acct, name, use)
	if err == nil {
		g.noteMailboxes(mb)
	}
	return mb, err
}

func (g *Guard) DeleteMailbox(ctx context.Context, id sealpost.MailboxID) ([]sealpost.BlobRef, error) {
	if err := g.mailbox(ctx, "region.DeleteMailbox", id); err != nil {
		return nil, err
	}
	refs, err := g.inner.DeleteMailbox(ctx, id)
	if err == nil {
		g.mu.Lock()
		delete(g.mboxes, id)
		g.mu.Unlock()
	}
	return refs, err
}

func (g *Guard) RenameMailbox(ctx context.Context, id sealpost.MailboxID, newName string) error {
	if err := g.mailbox(ctx, "region.RenameMailbox", id); err != nil {
		return err
	}
	return g.inner.RenameMailbox(ctx, id, newName)
}

func (g *Guard) SetSubscribed(ctx context.Context, id sealpost.MailboxID, subscribed bool) error {
	if err := g.mailbox(ctx, "region.SetSubscribed", id); err != nil {
		return err
	}
	return g.inner.SetSubscribed(ctx, id, subscribed)
}

func (g *Guard) AddMessages(ctx context.Context, msgs []sealpost.NewMessage) ([]sealpost.Message, error) {
	var last sealpost.MailboxID
	for _, m := range msgs {
		if m.Mailbox == last {
			continue
		}
		if err := g.mailbox(ctx, "region.AddMessages", m.Mailbox); err != nil {
			return nil, err
		}
		last = m.Mailbox
	}
	return g.inner.AddMessages(ctx, msgs)
}

func (g *Guard) Messages(ctx context.Context, mailbox sealpost.MailboxID, after sealpost.UID) ([]sealpost.Message, error) {
	if err := g.mailbox(ctx, "region.Messages", mailbox); err != nil {
		return nil, err
	}
	return g.inner.Messages(ctx, mailbox, after)
}

func (g *Guard) SetFlags(ctx context.Context, mailbox sealpost.MailboxID, uids []sealpost.UID, op sealpost.FlagOp, flags []sealpost.Flag) ([]sealpost.Message, error) {
	if err := g.mailbox(ctx, "region.SetFlags", mailbox); err != nil {
		return nil, err
	}
	return g.inner.SetFlags(ctx, mailbox, uids, op, flags)
}

func (g *Guard) Expunge(ctx context.Context, mailbox sealpost.MailboxID, uids []sealpost.UID) ([]sealpost.UID, []sealpost.BlobRef, error) {
	if err := g.mailbox(ctx, "region.Expunge", mailbox); err != nil {
		return nil, nil, err
	}
	return g.inner.Expunge(ctx, mailbox, uids)
}

func (g *Guard) CopyMessages(ctx context.Context, from sealpost.MailboxID, uids []sealpost.UID, to sealpost.MailboxID) ([]sealpost.Message, error) {
	for _, mb := range []sealpost.MailboxID{from, to} {
		if err := g.mailbox(ctx, "region.CopyMessages", mb); err != nil {
			return nil, err
		}
	}
	return g.inner.CopyMessages(ctx, from, uids, to)
}

// SetSessionKeys is keyed by message ID, which only an owner's session
// reading through the guard (Messages) has learnt; the keys it stores are
// wrapped under the owner's mailbox key.
func (g *Guard) SetSessionKeys(ctx context.Context, keys map[sealpost.MessageID][]byte) error {
	return g.inner.SetSessionKeys(ctx, keys)
}

// QueueStore: the region's outbound queue holds mail its own accounts sent.

func (g *Guard) Enqueue(ctx context.Context, m sealpost.QueuedMessage) (int64, error) {
	return g.inner.Enqueue(ctx, m)
}

func (g *Guard) Queue(ctx context.Context) ([]sealpost.QueuedMessage, error) {
	return g.inner.Queue(ctx)
}

func (g *Guard) Reschedule(ctx context.Context, id int64, nextTry time.Time, lastError string) error {
	return g.inner.Reschedule(ctx, id, nextTry, lastError)
}

func (g *Guard) Dequeue(ctx context.Context, id int64) ([]sealpost.BlobRef, error) {
	return g.inner.Dequeue(ctx, id)
}

// RegionStore.

func (g *Guard) Claim(ctx context.Context, region sealpost.RegionID) error {
	return g.inner.Claim(ctx, region)
}

// ExportAccount exports an account homed here, or either half of a move
// this region takes part in (the mover reads both to verify the copy).
func (g *Guard) ExportAccount(ctx context.Context, addr string) (sealpost.AccountImage, error) {
	const op = "region.ExportAccount"
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
func (g *Guard) ImportAccount(ctx context.Context, img sealpost.AccountImage) (sealpost.Account, error) {
	const op = "region.ImportAccount"
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

func (g *Guard) Inventory(ctx context.Context) (sealpost.Inventory, error) {
	return g.inner.Inventory(ctx)
}

// Close closes the inner store.
func (g *Guard) Close() error { return g.inner.Close() }
