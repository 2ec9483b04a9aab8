package postbox

import (
	"context"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/seal"
)

// CreateAccount creates an account with a fresh key pair wrapped by the
// password, and returns the recovery code, which is shown once and never
// stored in the clear.
func (s *Service) CreateAccount(ctx context.Context, addr, password string) (recoveryCode string, err error) {
	const op = "postbox.CreateAccount"
	addr, err = validAddress(addr)
	if err != nil {
		return "", errors.E(op, err)
	}
	if err := validPassword(password); err != nil {
		return "", errors.E(op, err)
	}
	verifier, gen, err := s.newGeneration(ctx, addr, password)
	if err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	_, err = s.store.CreateAccount(ctx, sealpost.Account{Address: addr, PasswordVerifier: verifier}, sealpost.Key{
		PublicKey:         gen.PublicKey,
		WrappedByPassword: gen.WrappedByPassword,
		WrappedByRecovery: gen.WrappedByRecovery,
		Active:            true,
	})
	if err != nil {
		return "", errors.E(op, err)
	}
	return gen.RecoveryCode, nil
}

// newGeneration makes a password verifier and a new key generation wrapped
// under that password (and a fresh recovery code), with one derivation.
func (s *Service) newGeneration(ctx context.Context, addr, password string) (verifier []byte, gen *seal.Generated, err error) {
	err = s.derive(ctx, func() error {
		var secret *seal.Secret
		var err error
		verifier, secret, err = seal.NewPassword(password, s.opts.Params)
		if err != nil {
			return err
		}
		defer secret.Wipe()
		gen, err = seal.Generate(addr, secret, s.opts.Params, nil)
		return err
	})
	return verifier, gen, err
}

// CreateOwnKeyAccount creates an account that registered its own OpenPGP
// public key: the server holds no private key for it, and stores its mail
// as PGP/MIME that the owner's client decrypts. The password only
// authenticates.
func (s *Service) CreateOwnKeyAccount(ctx context.Context, addr, password string, publicKey []byte) error {
	const op = "postbox.CreateOwnKeyAccount"
	addr, err := validAddress(addr)
	if err != nil {
		return errors.E(op, err)
	}
	if err := validPassword(password); err != nil {
		return errors.E(op, err)
	}
	if _, err := seal.ParseRecipient(publicKey); err != nil {
		return errors.E(op, errors.Invalid, err)
	}
	verifier, err := s.newVerifier(ctx, password)
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	_, err = s.store.CreateAccount(ctx,
		sealpost.Account{Address: addr, PasswordVerifier: verifier, OwnKey: true},
		sealpost.Key{PublicKey: publicKey, Active: true})
	return err
}

// ChangePassword re-wraps every key generation the old password opens under
// the new password.
func (s *Service) ChangePassword(ctx context.Context, addr, oldPassword, newPassword string) error {
	const op = "postbox.ChangePassword"
	if err := validPassword(newPassword); err != nil {
		return errors.E(op, err)
	}
	acct, err := s.LookupAccount(ctx, addr)
	if err != nil {
		return errors.E(op, err)
	}
	keys, err := s.store.Keys(ctx, acct.ID)
	if err != nil {
		return errors.E(op, err)
	}
	var verifier []byte
	var rewrapped []sealpost.Key
	err = s.derive(ctx, func() error {
		old, err := seal.CheckPassword(acct.PasswordVerifier, oldPassword)
		if err != nil {
			return err
		}
		defer old.Wipe()
		var secret *seal.Secret
		verifier, secret, err = seal.NewPassword(newPassword, s.opts.Params)
		if err != nil {
			return err
		}
		defer secret.Wipe()
		for _, k := range keys {
			if k.WrappedByPassword == nil {
				continue
			}
			u, err := old.Unwrap(k.WrappedByPassword)
			if err != nil {
				return err
			}
			k.WrappedByPassword, err = u.Wrap(secret)
			if err != nil {
				return err
			}
			rewrapped = append(rewrapped, k)
		}
		return nil
	})
	if err != nil {
		return errors.E(op, errors.Permission, err)
	}
	return s.storeRewrap(ctx, acct.ID, verifier, rewrapped)
}

// storeRewrap writes re-wrapped keys, then the verifier they belong to.
func (s *Service) storeRewrap(ctx context.Context, id sealpost.AccountID, verifier []byte, keys []sealpost.Key) error {
	for _, k := range keys {
		if _, err := s.store.PutKey(ctx, k); err != nil {
			return err
		}
	}
	return s.setVerifier(ctx, id, verifier)
}

// ResetResult reports what an administrator's password reset did.
type ResetResult struct {
	RecoveryCode string // for the new key generation, shown once
	// SealedGenerations is how many earlier key generations no password
	// opens any more: mail sealed to them stays sealed until the owner
	// uses the recovery code they were given with those generations.
	SealedGenerations int
}

// ResetPassword is the administrator's reset, without the old password. The
// operator holds nothing that opens old mail, so it cannot re-wrap the old
// key: it makes a new key generation for new mail, and the old mail stays
// sealed to the old key, which only the owner's recovery code still opens.
func (s *Service) ResetPassword(ctx context.Context, addr, newPassword string) (ResetResult, error) {
	const op = "postbox.ResetPassword"
	if err := validPassword(newPassword); err != nil {
		return ResetResult{}, errors.E(op, err)
	}
	acct, err := s.LookupAccount(ctx, addr)
	if err != nil {
		return ResetResult{}, errors.E(op, err)
	}
	if acct.OwnKey {
		return ResetResult{}, s.setVerifierOnly(ctx, acct, newPassword)
	}
	keys, err := s.store.Keys(ctx, acct.ID)
	if err != nil {
		return ResetResult{}, errors.E(op, err)
	}
	verifier, gen, err := s.newGeneration(ctx, acct.Address, newPassword)
	if err != nil {
		return ResetResult{}, errors.E(op, errors.Internal, err)
	}
	var res ResetResult
	for _, k := range keys {
		if k.WrappedByPassword != nil {
			res.SealedGenerations++
		}
		k.WrappedByPassword = nil
		if _, err := s.store.PutKey(ctx, k); err != nil {
			return res, errors.E(op, err)
		}
	}
	_, err = s.store.PutKey(ctx, sealpost.Key{
		Account: acct.ID, PublicKey: gen.PublicKey,
		WrappedByPassword: gen.WrappedByPassword, WrappedByRecovery: gen.WrappedByRecovery, Active: true,
	})
	if err != nil {
		return res, errors.E(op, err)
	}
	s.mu.Lock()
	clear(s.recipients)
	s.mu.Unlock()
	s.forgetTarget(acct.Address)
	res.RecoveryCode = gen.RecoveryCode
	return res, s.setVerifier(ctx, acct.ID, verifier)
}

func (s *Service) setVerifierOnly(ctx context.Context, acct sealpost.Account, password string) error {
	verifier, err := s.newVerifier(ctx, password)
	if err != nil {
		return err
	}
	return s.setVerifier(ctx, acct.ID, verifier)
}

// newVerifier makes a password verifier alone (own-key accounts hold no
// key for the password to wrap).
func (s *Service) newVerifier(ctx context.Context, password string) (verifier []byte, err error) {
	err = s.derive(ctx, func() error {
		v, secret, err := seal.NewPassword(password, s.opts.Params)
		if err == nil {
			secret.Wipe()
			verifier = v
		}
		return err
	})
	return verifier, err
}

// Recover sets a new password using the recovery code: every key generation
// the code opens is re-wrapped under the new password. It returns how many
// generations were restored.
func (s *Service) Recover(ctx context.Context, addr, code, newPassword string) (int, error) {
	const op = "postbox.Recover"
	if err := validPassword(newPassword); err != nil {
		return 0, errors.E(op, err)
	}
	acct, err := s.LookupAccount(ctx, addr)
	if err != nil {
		return 0, errors.E(op, err)
	}
	keys, err := s.store.Keys(ctx, acct.ID)
	if err != nil {
		return 0, errors.E(op, err)
	}
	var verifier []byte
	var rewrapped []sealpost.Key
	err = s.derive(ctx, func() error {
		var secret *seal.Secret
		var err error
		verifier, secret, err = seal.NewPassword(newPassword, s.opts.Params)
		if err != nil {
			return err
		}
		defer secret.Wipe()
		for _, k := range keys {
			if k.WrappedByRecovery == nil {
				continue
			}
			u, err := seal.UnwrapRecovery(k.WrappedByRecovery, code)
			if err != nil {
				continue // another generation's code
			}
			if k.WrappedByPassword, err = u.Wrap(secret); err != nil {
				return err
			}
			rewrapped = append(rewrapped, k)
		}
		return nil
	})
	if err != nil {
		return 0, errors.E(op, errors.Internal, err)
	}
	if len(rewrapped) == 0 {
		return 0, errors.E(op, errors.Permission, errors.Str("recovery code does not match"))
	}
	// Generations the code does not open lose their password wrap: it was
	// made under the old password, which no longer verifies.
	for _, k := range keys {
		opened := false
		for _, r := range rewrapped {
			opened = opened || r.ID == k.ID
		}
		if !opened && k.WrappedByPassword != nil {
			k.WrappedByPassword = nil
			rewrapped = append(rewrapped, k)
		}
	}
	return len(rewrapped), s.storeRewrap(ctx, acct.ID, verifier, rewrapped)
}

// DeleteAccount removes an account, its mail and its keys.
func (s *Service) DeleteAccount(ctx context.Context, addr string) error {
	const op = "postbox.DeleteAccount"
	acct, err := s.LookupAccount(ctx, addr)
	if err != nil {
		return errors.E(op, err)
	}
	if _, held, err := s.heldMailbox(ctx, acct.ID); err != nil {
		return errors.E(op, err)
	} else if held {
		return errors.E(op, errors.Permission, errors.Str("the account is under a legal hold: it cannot be deleted until the hold is released"))
	}
	refs, err := s.store.DeleteAccount(ctx, acct.ID)
	if err != nil {
		return errors.E(op, err)
	}
	s.forgetTarget(acct.Address)
	s.forgetUnlocked(acct.ID)
	s.deleteBlobs(ctx, refs)
	return nil
}

// AddDomain adds a hosted domain.
func (s *Service) AddDomain(ctx context.Context, domain string) error {
	domain = sealpost.NormalizeAddress(domain)
	if domain == "" || strings.ContainsAny(domain, "@ \t/\\") || !strings.Contains(domain, ".") {
		return errors.E("postbox.AddDomain", errors.Invalid, errors.Errorf("invalid domain %q", domain))
	}
	return s.store.AddDomain(ctx, domain)
}

func validAddress(addr string) (string, error) {
	addr = sealpost.NormalizeAddress(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " \t\r\n<>\"\\") {
		return "", errors.E(errors.Invalid, errors.Errorf("invalid address %q", addr))
	}
	return addr, nil
}

func validPassword(p string) error {
	if len(p) < 8 {
		return errors.E(errors.Invalid, errors.Str("password must have at least 8 characters"))
	}
	if len(p) > 1024 {
		return errors.E(errors.Invalid, errors.Str("password too long"))
	}
	return nil
}

// SetSettings changes an account's settings with change, which is given
// the current ones, and returns the new ones.
func (s *Service) SetSettings(ctx context.Context, addr string, change func(*sealpost.AccountSettings)) (sealpost.AccountSettings, error) {
	const op = "postbox.SetSettings"
	acct, err := s.LookupAccount(ctx, addr)
	if err != nil {
		return sealpost.AccountSettings{}, errors.E(op, err)
	}
	set := acct.Settings
	change(&set)
	if err := s.store.SetSettings(ctx, acct.ID, set); err != nil {
		return sealpost.AccountSettings{}, errors.E(op, err)
	}
	return set, nil
}
