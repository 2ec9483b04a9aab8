// Package region owns residency above the mail service: which region an
// account lives in, and getting each operation there. Router sends each
// login and delivery to the account's home region, in this process or over
// a Link to another; Mover moves a mailbox between regions at its owner's
// request; Audit checks every region's storage for anything out of place.
// The enforcement below the mail service, a region's store refusing every
// operation for an account homed elsewhere, is package store/guard.
package region

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/authguard"
	"github.com/sealpost/sealpost/postbox"
)

// Router is the protocol servers' view of a deployment: it implements
// smtpserver.Backend and imapserver.Backend by asking the directory for each
// address's home region and calling that region's postbox, in this process,
// or through a Link to the region's node.
type Router struct {
	dir    sealpost.Directory
	local  map[sealpost.RegionID]*postbox.Service
	remote map[sealpost.RegionID]*Link
	order  []sealpost.RegionID // local regions, sorted
	max    int64
	now    func() time.Time
	guard  *authguard.Guard // nil: no penalties

	// homes caches the directory's answers for routeTTL: a delivery asks
	// for each recipient's home several times (RCPT, DATA). A stale entry
	// can only send an operation to the region an account just left,
	// whose guard refuses it (the sender retries); it never lets one
	// through.
	mu      sync.Mutex
	homes   map[string]cachedHome
	domains map[string]cachedDomain
}

// cachedDomain is the directory's answer about a domain: every message
// from outside asks twice (its From and MAIL FROM domains: a forgery of
// ours?), most often about a domain not hosted here.
type cachedDomain struct {
	hosted bool
	at     time.Time
}

type cachedHome struct {
	region sealpost.RegionID
	at     time.Time
}

// routeTTL bounds how long the router trusts a cached directory answer.
const routeTTL = 5 * time.Second

// RouterOption configures NewRouter.
type RouterOption func(*Router)

// WithClock makes the router read the time from now (tests; the default
// is time.Now).
func WithClock(now func() time.Time) RouterOption {
	return func(r *Router) { r.now = now }
}

// WithGuard makes every password check through the router (Login,
// Authenticate) wait out g's penalties and count toward them.
func WithGuard(g *authguard.Guard) RouterOption {
	return func(r *Router) { r.guard = g }
}

// NewRouter returns a router over the regions served in this process
// (local) and those reached over links (remote). maxSize is the message
// size limit of the deployment.
func NewRouter(dir sealpost.Directory, local map[sealpost.RegionID]*postbox.Service, remote map[sealpost.RegionID]*Link, maxSize int64, opts ...RouterOption) *Router {
	r := &Router{dir: dir, local: local, remote: remote, max: maxSize, now: time.Now,
		homes: make(map[string]cachedHome), domains: make(map[string]cachedDomain)}
	for _, o := range opts {
		o(r)
	}
	for id := range local {
		r.order = append(r.order, id)
	}
	sort.Slice(r.order, func(i, j int) bool { return r.order[i] < r.order[j] })
	return r
}

// Local returns the postbox of a region served in this process.
func (r *Router) Local(id sealpost.RegionID) (*postbox.Service, bool) {
	s, ok := r.local[id]
	return s, ok
}

// Directory returns the directory the router consults.
func (r *Router) Directory() sealpost.Directory { return r.dir }

// MaxMessageSize is the deployment's message size limit.
func (r *Router) MaxMessageSize() int64 { return r.max }

// home returns the local postbox of addr's home region. An unknown address
// is NotExist; one homed in a region not served here is WrongRegion.
func (r *Router) home(ctx context.Context, op, addr string) (*postbox.Service, sealpost.RegionID, error) {
	id, err := r.lookupHome(ctx, sealpost.NormalizeAddress(addr))
	if err != nil {
		return nil, "", errors.E(op, err)
	}
	if s, ok := r.local[id]; ok {
		return s, id, nil
	}
	return nil, id, errors.E(op, errors.WrongRegion, errors.Errorf("account is homed in region %s, not served here", id))
}

// lookupHome asks the directory for addr's home, through the cache. Only
// answers that an account exists are cached, so a new account receives
// mail at once.
func (r *Router) lookupHome(ctx context.Context, addr string) (sealpost.RegionID, error) {
	now := r.now()
	r.mu.Lock()
	h, ok := r.homes[addr]
	r.mu.Unlock()
	if ok && now.Sub(h.at) < routeTTL {
		return h.region, nil
	}
	id, err := r.dir.Home(ctx, addr)
	if base := sealpost.BaseAddress(addr); errors.Is(errors.NotExist, err) && base != addr {
		id, err = r.dir.Home(ctx, base) // a subaddress (RFC 5233)
	}
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if len(r.homes) > 100000 {
		clear(r.homes) // bound memory; entries are cheap to reload
	}
	r.homes[addr] = cachedHome{region: id, at: now}
	r.mu.Unlock()
	return id, nil
}

// forget drops addr's cached home (after this process changed it).
func (r *Router) forget(addr string) {
	r.mu.Lock()
	delete(r.homes, sealpost.NormalizeAddress(addr))
	r.mu.Unlock()
}

// Authenticate checks a submission login at the account's home region. An
// unknown address or one homed elsewhere fails as a wrong password does,
// after the same work.
func (r *Router) Authenticate(ctx context.Context, addr, password string) (sealpost.Account, error) {
	const op = "region.Authenticate"
	var acct sealpost.Account
	err := r.checkPassword(ctx, op, addr, password, func(ctx context.Context, s *postbox.Service) (err error) {
		acct, err = s.Authenticate(ctx, addr, password)
		return err
	})
	return acct, err
}

// checkPassword runs check, a password check at addr's home region,
// through the router's Guard (with the client ctx carries). An unknown
// address, or one homed in a region not served here, fails with
// Permission after a derivation of the same cost, so that neither the
// answer nor its time tells which accounts exist.
func (r *Router) checkPassword(ctx context.Context, op, addr, password string, check func(context.Context, *postbox.Service) error) error {
	run := func(ctx context.Context) error {
		err := r.withHome(ctx, op, addr, func(s *postbox.Service) error { return check(ctx, s) })
		if errors.Is(errors.NotExist, err) || errors.Is(errors.WrongRegion, err) {
			if len(r.order) > 0 {
				err = r.local[r.order[0]].CheckNobody(ctx, password)
			}
			if !errors.Is(errors.Unavailable, err) {
				err = errors.E(op, errors.Permission)
			}
		}
		return err
	}
	if r.guard == nil {
		return run(ctx)
	}
	c := sealpost.ClientFrom(ctx)
	return r.guard.Check(ctx, authguard.Attempt{Service: string(c.Service), Source: c.Source, Account: addr}, run)
}

// withHome runs fn with the postbox of addr's home region. If that region
// refuses the account as homed elsewhere (the cached home was stale: the
// mailbox just moved), it asks the directory again and retries once.
func (r *Router) withHome(ctx context.Context, op, addr string, fn func(*postbox.Service) error) error {
	for attempt := 0; ; attempt++ {
		s, _, err := r.home(ctx, op, addr)
		if err != nil {
			return err
		}
		err = fn(s)
		if attempt == 0 && errors.Is(errors.WrongRegion, err) {
			r.forget(addr)
			continue
		}
		return err
	}
}

// Login opens the owner's session at their home region; it fails as
// Authenticate does.
func (r *Router) Login(ctx context.Context, addr, password string) (*postbox.Session, error) {
	const op = "region.Login"
	var sess *postbox.Session
	err := r.checkPassword(ctx, op, addr, password, func(ctx context.Context, s *postbox.Service) (err error) {
		sess, err = s.Login(ctx, addr, password)
		return err
	})
	return sess, err
}

// IsHostedDomain asks the directory. Its answers, yes and no, are cached
// for routeTTL: a domain added or removed is seen as such within that.
func (r *Router) IsHostedDomain(ctx context.Context, domain string) (bool, error) {
	domain = sealpost.NormalizeAddress(domain)
	now := r.now()
	r.mu.Lock()
	c, ok := r.domains[domain]
	r.mu.Unlock()
	if ok && now.Sub(c.at) < routeTTL {
		return c.hosted, nil
	}
	_, err := r.dir.Domain(ctx, domain)
	hosted := err == nil
	if err != nil && !errors.Is(errors.NotExist, err) {
		return false, err
	}
	r.mu.Lock()
	if len(r.domains) > 10000 {
		clear(r.domains)
	}
	r.domains[domain] = cachedDomain{hosted: hosted, at: now}
	r.mu.Unlock()
	return hosted, nil
}

// LookupRecipient checks that addr has an account. For a region served here
// it returns the account; for a remote one, only the address (which is all
// the directory knows).
func (r *Router) LookupRecipient(ctx context.Context, addr string) (sealpost.Account, error) {
	const op = "region.LookupRecipient"
	var acct sealpost.Account
	err := r.withHome(ctx, op, addr, func(s *postbox.Service) (err error) {
		acct, err = s.LookupRecipient(ctx, addr)
		return err
	})
	if err == nil || !errors.Is(errors.WrongRegion, err) {
		return acct, err
	}
	// Homed in a region not served here: deliverable if a link reaches it.
	if id, herr := r.lookupHome(ctx, sealpost.NormalizeAddress(addr)); herr == nil {
		if _, ok := r.remote[id]; ok {
			return sealpost.Account{Address: sealpost.NormalizeAddress(addr)}, nil
		}
		return sealpost.Account{}, errors.E(op, errors.Unavailable, errors.Errorf("no route to region %s", id))
	}
	return sealpost.Account{}, err
}

// Deliver files raw for every recipient in their home region: sealed there
// for local regions; sealed here, in memory, and handed over sealed for
// remote ones. It returns nil only when every copy is durable. If one region
// fails after another has stored its copies, the error makes the sender
// retry, and the recipients already served may get the message twice: a
// duplicate rather than a loss, as with any MTA that has one reply for many
// recipients.
func (r *Router) Deliver(ctx context.Context, env postbox.Envelope, msg postbox.Message) error {
	stale, err := r.deliver(ctx, env, msg)
	if len(stale) > 0 {
		// Some recipients' cached home was stale (they just moved):
		// deliver to them once more, at their new home.
		for _, rcpt := range stale {
			r.forget(rcpt)
		}
		again := env
		again.Recipients = stale
		_, err = r.deliver(ctx, again, msg)
	}
	return err
}

// deliver is one attempt of Deliver. It returns the recipients whose
// region refused them as homed elsewhere, apart from the error of any
// other failure.
func (r *Router) deliver(ctx context.Context, env postbox.Envelope, msg postbox.Message) ([]string, error) {
	const op = "region.Deliver"
	byRegion := map[sealpost.RegionID][]string{}
	var order []sealpost.RegionID
	for _, rcpt := range env.Recipients {
		id, err := r.lookupHome(ctx, sealpost.NormalizeAddress(rcpt))
		if err != nil {
			return nil, errors.E(op, err)
		}
		if _, ok := byRegion[id]; !ok {
			order = append(order, id)
		}
		byRegion[id] = append(byRegion[id], rcpt)
	}
	var firstErr error
	var stale []string
	for _, id := range order {
		rcpts := byRegion[id]
		var err error
		if s, ok := r.local[id]; ok {
			part := env
			part.Recipients = rcpts
			err = s.Deliver(ctx, part, msg)
		} else if l, ok := r.remote[id]; ok {
			for _, rcpt := range rcpts {
				if err = l.Deliver(ctx, env, rcpt, msg, r.now()); err != nil {
					break
				}
			}
		} else {
			err = errors.E(op, errors.Unavailable, errors.Errorf("no route to region %s", id))
		}
		if errors.Is(errors.WrongRegion, err) {
			stale = append(stale, rcpts...)
		} else if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return stale, firstErr
}

// AppendByUse files the sender's copy in their home region.
func (r *Router) AppendByUse(ctx context.Context, acct sealpost.Account, use sealpost.SpecialUse, msg postbox.Message, flags []sealpost.Flag) error {
	return r.withHome(ctx, "region.AppendByUse", acct.Address, func(s *postbox.Service) error {
		return s.AppendByUse(ctx, acct, use, msg, flags)
	})
}

// Enqueue puts outbound mail in the queue of the sender's home region: what
// an account sends stays in its jurisdiction until it leaves for the
// recipient's server. A bounce (the null sender: the MX forwarding one to
// the sender an SRS address stands for) belongs to no account; it goes to
// the queue of the first region served here (Unavailable if none is, as
// on a front door).
func (r *Router) Enqueue(ctx context.Context, from string, rcpts []string, msg postbox.Message) error {
	const op = "region.Enqueue"
	if from == "" {
		if len(r.order) == 0 {
			return errors.E(op, errors.Unavailable, errors.Str("no region served here to queue a bounce"))
		}
		return r.local[r.order[0]].Enqueue(ctx, from, rcpts, msg)
	}
	return r.withHome(ctx, op, from, func(s *postbox.Service) error {
		return s.Enqueue(ctx, from, rcpts, msg)
	})
}
