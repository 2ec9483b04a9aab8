package postbox

import (
	"context"
	"slices"
	"sync"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// RFC 3501 6.3.6 (RFC 9051 6.3.7): a server "MUST NOT unilaterally remove
// an existing mailbox name from the subscription list even if a mailbox by
// that name no longer exists". The store keeps a subscription as a flag of
// its mailbox, so a subscribed mailbox that is deleted leaves its name
// here, in the Service's memory, until the owner unsubscribes it or a
// mailbox of that name is created again (which is then subscribed). These
// names do not outlive the process: keeping them in the store needs a
// table of subscriptions by name (a schema migration).

// maxOrphanSubs bounds the names kept per account: past it the oldest is
// forgotten, so a client deleting subscribed mailboxes in a loop cannot
// grow the server's memory.
const maxOrphanSubs = 1000

// orphanSubs holds, per account, subscribed names without a mailbox.
type orphanSubs struct {
	mu    sync.Mutex
	names map[sealpost.AccountID][]string
}

func (o *orphanSubs) add(acct sealpost.AccountID, name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.names == nil {
		o.names = make(map[sealpost.AccountID][]string)
	}
	if !slices.Contains(o.names[acct], name) {
		names := append(o.names[acct], name)
		if len(names) > maxOrphanSubs {
			names = slices.Delete(names, 0, len(names)-maxOrphanSubs)
		}
		o.names[acct] = names
	}
}

// remove drops name and reports whether it was there.
func (o *orphanSubs) remove(acct sealpost.AccountID, name string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := slices.Index(o.names[acct], name)
	if i < 0 {
		return false
	}
	o.names[acct] = slices.Delete(o.names[acct], i, i+1)
	if len(o.names[acct]) == 0 {
		delete(o.names, acct)
	}
	return true
}

func (o *orphanSubs) list(acct sealpost.AccountID) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.names[acct])
}

// OrphanSubscriptions returns the subscribed names whose mailbox no longer
// exists (LIST-EXTENDED's \NonExistent, RFC 5258 3).
func (ss *Session) OrphanSubscriptions() []string {
	return ss.svc.orphans.list(ss.acct.ID)
}

// CreateMailboxUnsubscribed is CreateMailbox for IMAP's CREATE, which
// leaves subscribing to SUBSCRIBE (RFC 3501 6.3.6), as Dovecot does: the
// new mailbox and the parents it creates are not subscribed, except a name
// that was subscribed when its earlier mailbox was deleted.
func (ss *Session) CreateMailboxUnsubscribed(ctx context.Context, name string, use sealpost.SpecialUse) error {
	return ss.createMailbox(ctx, name, use, false)
}

// subscribeCreated sets the subscription of a mailbox just created (the
// store creates it subscribed): subscribed if subscribe or if its name
// was subscribed when an earlier mailbox of that name was deleted.
func (ss *Session) subscribeCreated(ctx context.Context, mb sealpost.Mailbox, subscribe bool) error {
	orphan := ss.svc.orphans.remove(ss.acct.ID, mb.Name)
	if subscribe || orphan {
		if !mb.Subscribed {
			return ss.svc.store.SetSubscribed(ctx, mb.ID, true)
		}
		return nil
	}
	if err := ss.svc.store.SetSubscribed(ctx, mb.ID, false); err != nil {
		return errors.E("postbox.CreateMailbox", err)
	}
	return nil
}
