package postbox

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/seal"
)

// filterkey.go: the account's filter key F (seal.FilterKey), which seals
// its Sieve scripts, its classifier's model and its vacation memory
// (sealpost.AccountObject). F is stored only wrapped: to the owner's key
// (opened in the owner's sessions) and, unless the account's settings say
// NoServerFilter, to the region's deployment key (opened here at
// delivery). docs/SECURITY.md ("Filters") tells what each wrap allows.

// maxCachedFilterKeys bounds the delivery keys kept in memory.
const maxCachedFilterKeys = 4096

// objectBinding binds a sealed object to its account's address and kind:
// addresses survive moves between regions, account IDs do not.
func objectBinding(addr string, kind sealpost.ObjectKind) []byte {
	return []byte(addr + "\x00" + kind.String())
}

// deliveryKey returns the account's F as delivery opens it, from the
// delivery wrap with the deployment key. NotExist when the account has no
// delivery wrap (the strictest mode, or no filter ever set up) or when
// this region cannot open the deployment key.
func (s *Service) deliveryKey(ctx context.Context, acct sealpost.Account) (*seal.FilterKey, error) {
	const op = "postbox.deliveryKey"
	if acct.Settings.NoServerFilter || s.opts.DeploymentKey == nil {
		return nil, errors.E(op, errors.NotExist)
	}
	s.mu.Lock()
	k := s.filterKeys[acct.ID]
	s.mu.Unlock()
	if k != nil {
		return k, nil
	}
	o, err := s.store.Object(ctx, acct.ID, sealpost.ObjectFilterKey, sealpost.FilterKeyDelivery)
	if err != nil {
		return nil, errors.E(op, err)
	}
	u, err := s.opts.DeploymentKey()
	if err != nil {
		return nil, errors.E(op, errors.NotExist, err)
	}
	k, err = seal.OpenFilterKey(u, o.Data)
	if err != nil {
		// Sealed to another deployment key (the account moved here from
		// another region): delivery cannot open it until the owner's
		// next session rewraps it (Session.filterKey). Mail is filed as
		// if the account had no filter, never refused for it.
		s.log.Warn("filter key's delivery wrap does not open here", "account", acct.ID, "err", err)
		return nil, errors.E(op, errors.NotExist, err)
	}
	s.mu.Lock()
	if len(s.filterKeys) >= maxCachedFilterKeys {
		// Dropped, not wiped: a delivery may still hold it (its filter
		// state does), and sealing under a wiped key would seal under
		// zeros. The collector takes it when the last user is done.
		for id := range s.filterKeys {
			delete(s.filterKeys, id)
			break
		}
	}
	if cur := s.filterKeys[acct.ID]; cur != nil {
		k.Wipe()
		k = cur
	} else {
		s.filterKeys[acct.ID] = k
	}
	s.mu.Unlock()
	return k, nil
}

// forgetFilter drops what delivery keeps in memory of an account's filter
// (its key and its loaded state), after a change.
func (s *Service) forgetFilter(id sealpost.AccountID) {
	s.mu.Lock()
	if k := s.filterKeys[id]; k != nil {
		delete(s.filterKeys, id)
		// Not wiped: a delivery may be using it; the collector takes it.
	}
	if old := s.filters[id]; old != nil && old.model != nil {
		s.filterTokens -= old.model.Stats().Tokens
	}
	delete(s.filters, id)
	s.mu.Unlock()
}

// filterKey returns the account's F in the owner's session: from the
// owner's wrap (any key generation this session holds), else from the
// delivery wrap, else a new key. It then makes sure the wraps match the
// account's choice: an owner's wrap always, a delivery wrap unless
// NoServerFilter (and then none).
func (ss *Session) filterKey(ctx context.Context) (*seal.FilterKey, error) {
	const op = "postbox.filterKey"
	s := ss.svc
	acct, err := s.store.Account(ctx, ss.acct.Address)
	if err != nil {
		return nil, errors.E(op, err)
	}
	wraps, err := s.store.Objects(ctx, acct.ID, sealpost.ObjectFilterKey)
	if err != nil {
		return nil, errors.E(op, err)
	}
	var k *seal.FilterKey
	var ownerOK, deliveryOK, haveDelivery bool
	for _, w := range wraps {
		switch w.Name {
		case sealpost.FilterKeyOwner:
			for _, u := range ss.keys {
				if ok, err := seal.OpenFilterKey(u, w.Data); err == nil {
					if k == nil || k.Equal(ok) {
						k, ownerOK = ok, true
					}
					break
				}
			}
		case sealpost.FilterKeyDelivery:
			haveDelivery = true
			if u, derr := s.deploymentKey(); derr == nil {
				if dk, err := seal.OpenFilterKey(u, w.Data); err == nil && (k == nil || k.Equal(dk)) {
					k, deliveryOK = dk, true
				}
			}
		}
	}
	if k == nil {
		if len(wraps) > 0 {
			// Wraps exist that this session cannot open (a key generation
			// lost to an admin reset, a region without the deployment
			// key): start afresh, as the old objects are lost with them.
			s.log.Warn("filter key unreadable, replacing it", "account", acct.ID)
		}
		if k, err = seal.NewFilterKey(); err != nil {
			return nil, errors.E(op, err)
		}
	}
	if !ownerOK {
		_, r, _, err := s.recipient(ctx, acct.ID)
		if err != nil {
			return nil, errors.E(op, err)
		}
		if err := s.putWrap(ctx, acct.ID, sealpost.FilterKeyOwner, k, r); err != nil {
			return nil, errors.E(op, err)
		}
	}
	switch {
	case acct.Settings.NoServerFilter && haveDelivery:
		if err := s.store.DeleteObject(ctx, acct.ID, sealpost.ObjectFilterKey, sealpost.FilterKeyDelivery); err != nil && !errors.Is(errors.NotExist, err) {
			return nil, errors.E(op, err)
		}
		s.forgetFilter(acct.ID)
	case !acct.Settings.NoServerFilter && !deliveryOK && s.opts.QueueKey != nil:
		if err := s.putWrap(ctx, acct.ID, sealpost.FilterKeyDelivery, k, s.opts.QueueKey); err != nil {
			return nil, errors.E(op, err)
		}
		s.forgetFilter(acct.ID)
	}
	return k, nil
}

func (s *Service) putWrap(ctx context.Context, id sealpost.AccountID, name string, k *seal.FilterKey, to seal.Sealer) error {
	w, err := k.WrapTo(to)
	if err != nil {
		return err
	}
	return s.store.PutObject(ctx, sealpost.AccountObject{Account: id, Kind: sealpost.ObjectFilterKey, Name: name, Data: w}, 0)
}

// deploymentKey opens the deployment key (Options.DeploymentKey).
func (s *Service) deploymentKey() (*seal.Unlocked, error) {
	if s.opts.DeploymentKey == nil {
		return nil, errors.E("postbox.deploymentKey", errors.NotExist, errors.Str("no deployment key here"))
	}
	return s.opts.DeploymentKey()
}

// SetNoServerFilter turns the strictest mode on or off for the session's
// account (AccountSettings.NoServerFilter). On, the delivery wrap of the
// filter key is deleted: no script runs and no content is scored. Off,
// the session rewraps the key for delivery.
func (ss *Session) SetNoServerFilter(ctx context.Context, on bool) error {
	const op = "postbox.SetNoServerFilter"
	acct, err := ss.svc.store.Account(ctx, ss.acct.Address)
	if err != nil {
		return errors.E(op, err)
	}
	set := acct.Settings
	set.NoServerFilter = on
	if err := ss.svc.store.SetSettings(ctx, acct.ID, set); err != nil {
		return errors.E(op, err)
	}
	ss.acct.Settings = set
	ss.svc.forgetTarget(acct.Address)
	if _, err := ss.filterKey(ctx); err != nil {
		return errors.E(op, err)
	}
	ss.svc.forgetFilter(acct.ID)
	return nil
}

// sealObject seals and stores an object of the session's account under F.
func (ss *Session) putObject(ctx context.Context, k *seal.FilterKey, kind sealpost.ObjectKind, name string, plain []byte, max int) error {
	sealed, err := k.SealObject(objectBinding(ss.acct.Address, kind), plain)
	if err != nil {
		return err
	}
	err = ss.svc.store.PutObject(ctx, sealpost.AccountObject{Account: ss.acct.ID, Kind: kind, Name: name, Data: sealed}, max)
	ss.svc.forgetFilter(ss.acct.ID)
	return err
}
