package postbox

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/seal"
)

// The authentication cache.
//
// An account's unlocked keys are held while at least one of its sessions
// is open, so that a client's parallel connections (a mail client opens
// several) share one Argon2id derivation and one copy of the keys; and,
// as Dovecot's auth_cache does for its password lookups, for
// Options.AuthCacheTime after the last session closes, so that a client's
// frequent reconnects do not each pay a full derivation. A login finds
// them only with the same password: it is checked against checkParams'
// Argon2id of the password, salted with a key that exists only in this
// process's memory (a memory dump gives an attacker a verifier costing a
// millisecond a guess, rather than the stored one's tenth of a second;
// docs/SECURITY.md). A mismatch falls back to the full derivation. The
// keys are wiped when the time runs out, when the password changes or is
// reset, and when the account is deleted.

// checkParams is the cache check's cost: one pass over 1 MiB, about a
// millisecond, small beside the login's round trips.
var checkParams = pwhash.Params{Time: 1, MemoryKiB: 1024, Threads: 1}

// maxCached bounds the accounts whose keys are cached with no session
// open; past it, the last session's keys are wiped at once.
const maxCached = 10_000

type unlockedAccount struct {
	verifier []byte
	check    []byte
	keys     map[sealpost.KeyID]*seal.Unlocked

	// guarded by Service.mu
	refs   int
	expiry *time.Timer // while cached with no session open
}

// passwordCheck is what a cached login's password must give again.
//
// Each check leaves its 1 MiB work area as garbage. A burst of cached
// logins (thousands of clients reconnecting) grew the heap goal, and the
// process's resident memory, by hundreds of megabytes that the runtime
// kept long after the burst; so once the checks since the last release
// add up to a full derivation's memory, they are released as the
// derivations' are (releaseKDFMemory).
func (s *Service) passwordCheck(acct sealpost.Account, password string) []byte {
	salt := binary.BigEndian.AppendUint64(s.loginKey[:len(s.loginKey):len(s.loginKey)], uint64(acct.ID))
	check := pwhash.Key([]byte(password), salt, checkParams, 32)
	if s.checkGarbage.Add(int64(checkParams.MemoryKiB)<<10) >= int64(s.opts.Params.MemoryKiB)<<10 {
		s.releaseKDFMemory()
	}
	return check
}

// cached returns the account's unlocked keys if password opens them, with
// a reference taken when ref is set; nil otherwise. Called with s.mu held.
func (s *Service) cachedLocked(acct sealpost.Account, check []byte, ref bool) *unlockedAccount {
	ua := s.unlocked[acct.ID]
	if ua == nil || subtle.ConstantTimeCompare(ua.verifier, acct.PasswordVerifier) != 1 || subtle.ConstantTimeCompare(ua.check, check) != 1 {
		return nil
	}
	if ref {
		if ua.refs == 0 && ua.expiry != nil {
			ua.expiry.Stop()
			ua.expiry = nil
			s.cachedCount--
		}
		ua.refs++
	}
	return ua
}

// closeUnlocked drops a session's reference to ua; the last one either
// keeps the keys for AuthCacheTime or wipes them.
func (s *Service) closeUnlocked(id sealpost.AccountID, ua *unlockedAccount) {
	s.mu.Lock()
	ua.refs--
	if ua.refs > 0 {
		s.mu.Unlock()
		return
	}
	current := s.unlocked[id] == ua
	if current && s.opts.AuthCacheTime > 0 && s.cachedCount < maxCached {
		s.cachedCount++
		ua.expiry = time.AfterFunc(s.opts.AuthCacheTime, func() { s.expire(id, ua) })
		s.mu.Unlock()
		return
	}
	if current {
		delete(s.unlocked, id)
	}
	s.mu.Unlock()
	wipeKeys(ua.keys)
}

// expire wipes ua's keys if it is still cached with no session open.
func (s *Service) expire(id sealpost.AccountID, ua *unlockedAccount) {
	s.mu.Lock()
	if ua.refs > 0 || ua.expiry == nil {
		s.mu.Unlock()
		return
	}
	ua.expiry = nil
	s.cachedCount--
	if s.unlocked[id] == ua {
		delete(s.unlocked, id)
	}
	s.mu.Unlock()
	wipeKeys(ua.keys)
}

// forgetUnlocked ends the cache of an account whose password changed or
// that is gone: cached keys are wiped now; keys of open sessions stay
// with them (an IMAP session keeps working until it ends) but no new
// login finds them, and they are wiped when the last of them closes.
func (s *Service) forgetUnlocked(id sealpost.AccountID) {
	s.mu.Lock()
	ua := s.unlocked[id]
	if ua == nil {
		s.mu.Unlock()
		return
	}
	delete(s.unlocked, id)
	idle := ua.refs == 0
	if idle && ua.expiry != nil {
		ua.expiry.Stop()
		ua.expiry = nil
		s.cachedCount--
	}
	s.mu.Unlock()
	if idle {
		wipeKeys(ua.keys)
	}
}

// wipeCache wipes every cached account's keys (at Close).
func (s *Service) wipeCache() {
	s.mu.Lock()
	var idle []sealpost.AccountID
	for id, ua := range s.unlocked {
		if ua.refs == 0 {
			idle = append(idle, id)
		}
	}
	s.mu.Unlock()
	for _, id := range idle {
		s.forgetUnlocked(id)
	}
}

// setVerifier stores an account's new password verifier and ends its
// cache.
func (s *Service) setVerifier(ctx context.Context, id sealpost.AccountID, verifier []byte) error {
	err := s.store.SetPasswordVerifier(ctx, id, verifier)
	s.forgetUnlocked(id)
	return err
}

// nobody is a verifier no password opens, made once, with the service's
// parameters: checking a password for an unknown account against it
// costs what checking a known account's does, so that the time of a
// failed login does not say whether the account exists.
type nobody struct {
	once     sync.Once
	verifier []byte
	err      error
}

// CheckNobody fails as a wrong password does, after the same work: the
// derivation for an account that does not exist.
func (s *Service) CheckNobody(ctx context.Context, password string) error {
	const op = "postbox.CheckNobody"
	s.nobody.once.Do(func() {
		var secret *seal.Secret
		s.nobody.verifier, secret, s.nobody.err = seal.NewPassword(string(s.loginKey[:]), s.opts.Params)
		if secret != nil {
			secret.Wipe()
		}
	})
	if s.nobody.err != nil {
		return errors.E(op, errors.Internal, s.nobody.err)
	}
	err := s.derive(ctx, func() error {
		secret, err := seal.CheckPassword(s.nobody.verifier, password)
		if err == nil {
			secret.Wipe() // the password was this process's random key
		}
		return nil
	})
	if err != nil {
		return errors.E(op, err)
	}
	return errors.E(op, errors.Permission)
}
