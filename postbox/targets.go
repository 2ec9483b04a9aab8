package postbox

import (
	"context"
	"slices"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/seal"
)

// targetTTL bounds how long delivery may use cached routing facts (hosted
// domains; an account's ID, INBOX and active public key). Administration
// may run in another process, so changes there take effect within this
// time here. Nothing secret is cached: only what delivery needs and what
// the store keeps in the clear.
const targetTTL = 5 * time.Second

// target is what delivery to one address needs.
type target struct {
	acct   sealpost.Account
	inbox  sealpost.MailboxID
	keyID  sealpost.KeyID
	r      *seal.Recipient
	pub    []byte // r's transferable public key
	loaded time.Time
}

type domainCache struct {
	names  []string
	loaded time.Time
}

// hostedDomains returns the hosted domains, cached for targetTTL; a miss
// refreshes the cache if it is older than a second, so a newly added
// domain is accepted promptly.
func (s *Service) hostedDomain(ctx context.Context, domain string) (bool, error) {
	now := time.Now()
	s.mu.Lock()
	dc := s.domains
	s.mu.Unlock()
	fresh := now.Sub(dc.loaded) < targetTTL
	if fresh && (slices.Contains(dc.names, domain) || now.Sub(dc.loaded) < time.Second) {
		return slices.Contains(dc.names, domain), nil
	}
	names, err := s.store.Domains(ctx)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	s.domains = domainCache{names: names, loaded: now}
	s.mu.Unlock()
	return slices.Contains(names, domain), nil
}

// target returns the delivery facts for a normalized address.
func (s *Service) target(ctx context.Context, addr string) (*target, error) {
	const op = "postbox.target"
	now := time.Now()
	s.mu.Lock()
	t := s.targets[addr]
	s.mu.Unlock()
	if t != nil && now.Sub(t.loaded) < targetTTL {
		return t, nil
	}
	acct, err := s.store.Account(ctx, addr)
	if base := sealpost.BaseAddress(addr); errors.Is(errors.NotExist, err) && base != addr {
		acct, err = s.store.Account(ctx, base) // a subaddress (RFC 5233)
	}
	if err != nil {
		return nil, errors.E(op, err)
	}
	inbox, err := s.store.MailboxByUse(ctx, acct.ID, sealpost.UseInbox)
	if err != nil {
		return nil, errors.E(op, err)
	}
	keyID, r, pub, err := s.recipient(ctx, acct.ID)
	if err != nil {
		return nil, errors.E(op, err)
	}
	t = &target{acct: acct, inbox: inbox.ID, keyID: keyID, r: r, pub: pub, loaded: now}
	s.mu.Lock()
	if len(s.targets) > 100000 {
		clear(s.targets) // bound memory; entries are cheap to reload
	}
	s.targets[addr] = t
	s.mu.Unlock()
	return t, nil
}

// forgetTarget drops cached delivery facts after an administrative change.
func (s *Service) forgetTarget(addr string) {
	s.mu.Lock()
	delete(s.targets, sealpost.NormalizeAddress(addr))
	s.mu.Unlock()
}

// LookupRecipient checks that addr is a hosted account and returns it, from
// the delivery cache. It is for SMTP's RCPT; authentication must use
// LookupAccount (uncached).
func (s *Service) LookupRecipient(ctx context.Context, addr string) (sealpost.Account, error) {
	t, err := s.target(ctx, sealpost.NormalizeAddress(addr))
	if err != nil {
		return sealpost.Account{}, err
	}
	return t.acct, nil
}

// filing returns the mailbox a delivery to t goes to: its INBOX, or for
// use UseJunk its Junk mailbox (INBOX if the owner has deleted it: the
// message's Authentication-Results: still says why it was quarantined).
// Any other use is Invalid: deliveries never reach Sent or the hold.
func (s *Service) filing(ctx context.Context, t *target, use sealpost.SpecialUse) (sealpost.MailboxID, error) {
	const op = "postbox.filing"
	switch use {
	case sealpost.UseInbox, sealpost.UseNone:
		return t.inbox, nil
	case sealpost.UseJunk:
	default:
		return 0, errors.E(op, errors.Invalid, errors.Errorf("delivery to a %s mailbox", use))
	}
	junk, err := s.store.MailboxByUse(ctx, t.acct.ID, sealpost.UseJunk)
	if errors.Is(errors.NotExist, err) {
		s.log.Warn("quarantined message filed in INBOX: the account has no Junk mailbox", "account", t.acct.ID)
		return t.inbox, nil
	}
	if err != nil {
		return 0, errors.E(op, err)
	}
	return junk.ID, nil
}
