package region

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/postbox"
)

// This file is administration across regions: hosting a domain everywhere,
// creating an account in its home region (directory first, so the region's
// guard lets the creation through), deleting one, and finding the postbox
// that owns an address.

// AddDomain hosts a domain in the directory, with the region its accounts
// live in by default, and in every region served here.
func (r *Router) AddDomain(ctx context.Context, domain string, defaultRegion sealpost.RegionID) error {
	const op = "region.AddDomain"
	if _, ok := r.local[defaultRegion]; !ok {
		if _, ok := r.remote[defaultRegion]; !ok {
			return errors.E(op, errors.Invalid, errors.Errorf("unknown region %q", defaultRegion))
		}
	}
	err := r.dir.AddDomain(ctx, sealpost.Domain{Name: domain, DefaultRegion: defaultRegion})
	exists := errors.Is(errors.Exist, err)
	if err != nil && !exists {
		return errors.E(op, err)
	}
	r.mu.Lock()
	delete(r.domains, sealpost.NormalizeAddress(domain)) // a cached "not hosted"
	r.mu.Unlock()
	// Every region's store keeps the hosted domains too (accounts may be
	// created in any region); adding is idempotent so a rerun after a
	// crash completes it.
	for _, id := range r.order {
		if err := r.local[id].AddDomain(ctx, domain); err != nil && !errors.Is(errors.Exist, err) {
			return errors.E(op, err)
		}
	}
	if exists {
		return errors.E(op, errors.Exist, errors.Errorf("domain %s is already hosted", domain))
	}
	return nil
}

// HomeFor returns the region a new account at addr gets: want if given,
// else its domain's default region.
func (r *Router) HomeFor(ctx context.Context, addr string, want sealpost.RegionID) (sealpost.RegionID, error) {
	const op = "region.HomeFor"
	if want != "" {
		return want, nil
	}
	d, err := r.dir.Domain(ctx, sealpost.DomainOf(sealpost.NormalizeAddress(addr)))
	if err != nil {
		return "", errors.E(op, err)
	}
	return d.DefaultRegion, nil
}

// createIn records addr's home and runs create in that region's postbox. If
// the creation fails the directory entry is removed again; if this process
// dies in between, rerunning the command finds the entry with no account
// behind it and carries on.
func (r *Router) createIn(ctx context.Context, op, addr string, home sealpost.RegionID, create func(*postbox.Service) error) (sealpost.RegionID, error) {
	addr = sealpost.NormalizeAddress(addr)
	home, err := r.HomeFor(ctx, addr, home)
	if err != nil {
		return "", errors.E(op, err)
	}
	svc, ok := r.local[home]
	if !ok {
		return "", errors.E(op, errors.Invalid, errors.Errorf("region %q is not served by this process", home))
	}
	added := false
	switch cur, err := r.dir.Home(ctx, addr); {
	case errors.Is(errors.NotExist, err):
		if err := r.dir.AddHome(ctx, sealpost.Home{Address: addr, Region: home}); err != nil {
			return "", errors.E(op, err)
		}
		added = true
	case err != nil:
		return "", errors.E(op, err)
	case cur != home:
		return "", errors.E(op, errors.Exist, errors.Errorf("%s already lives in region %s", addr, cur))
	default:
		if _, err := svc.LookupAccount(ctx, addr); err == nil {
			return "", errors.E(op, errors.Exist, errors.Errorf("%s already exists", addr))
		}
	}
	if err := create(svc); err != nil {
		if added {
			r.dir.RemoveHome(ctx, addr)
		}
		return "", errors.E(op, err)
	}
	return home, nil
}

// CreateAccount creates an account in its home region (home, or the
// domain's default) and returns the region and the recovery code.
func (r *Router) CreateAccount(ctx context.Context, addr, password string, home sealpost.RegionID) (sealpost.RegionID, string, error) {
	var code string
	id, err := r.createIn(ctx, "region.CreateAccount", addr, home, func(s *postbox.Service) error {
		var err error
		code, err = s.CreateAccount(ctx, addr, password)
		return err
	})
	return id, code, err
}

// CreateOwnKeyAccount creates an account that registered its own public key.
func (r *Router) CreateOwnKeyAccount(ctx context.Context, addr, password string, publicKey []byte, home sealpost.RegionID) (sealpost.RegionID, error) {
	return r.createIn(ctx, "region.CreateOwnKeyAccount", addr, home, func(s *postbox.Service) error {
		return s.CreateOwnKeyAccount(ctx, addr, password, publicKey)
	})
}

// Postbox returns the postbox of addr's home region, which must be served
// here.
func (r *Router) Postbox(ctx context.Context, addr string) (*postbox.Service, sealpost.RegionID, error) {
	return r.home(ctx, "region.Postbox", addr)
}

// DeleteAccount deletes an account's mailbox in its home region, then its
// directory entry. A crash in between leaves a directory entry with no
// account, which a rerun removes.
func (r *Router) DeleteAccount(ctx context.Context, addr string) error {
	const op = "region.DeleteAccount"
	svc, _, err := r.home(ctx, op, addr)
	if err != nil {
		return err
	}
	if err := svc.DeleteAccount(ctx, addr); err != nil && !errors.Is(errors.NotExist, err) {
		return errors.E(op, err)
	}
	if err := r.dir.RemoveHome(ctx, addr); err != nil {
		return errors.E(op, err)
	}
	r.forget(addr)
	return nil
}

// Listed is one account as `account list` shows it.
type Listed struct {
	Account sealpost.Account
	Region  sealpost.RegionID
	Keys    []sealpost.Key
	Moving  *sealpost.Move
}

// Accounts lists every account in the directory with its home region, and,
// for regions served here, the account's details.
func (r *Router) Accounts(ctx context.Context) ([]Listed, error) {
	const op = "region.Accounts"
	homes, err := r.dir.Homes(ctx)
	if err != nil {
		return nil, errors.E(op, err)
	}
	moves, err := r.dir.Moves(ctx)
	if err != nil {
		return nil, errors.E(op, err)
	}
	moving := map[string]*sealpost.Move{}
	for i := range moves {
		moving[moves[i].Address] = &moves[i]
	}
	out := make([]Listed, 0, len(homes))
	for _, h := range homes {
		l := Listed{Account: sealpost.Account{Address: h.Address}, Region: h.Region, Moving: moving[h.Address]}
		if svc, ok := r.local[h.Region]; ok && l.Moving == nil {
			if a, err := svc.LookupAccount(ctx, h.Address); err == nil {
				l.Account = a
				l.Keys, _ = svc.Store().Keys(ctx, a.ID)
			}
		}
		out = append(out, l)
	}
	return out, nil
}
