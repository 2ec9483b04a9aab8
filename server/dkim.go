package server

import (
	"context"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/dkimsign"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/seal"
)

// DKIMDir is where a deployment's DKIM keys are filed: data_dir/keys/dkim,
// beside the deployment key that seals them.
func DKIMDir(c config.Config) string { return filepath.Join(c.DataDir, "keys", "dkim") }

// openDKIM opens the DKIM keys: sealed to the deployment key's public half
// (qk), opened with its private half, which is unlocked only when a domain
// first signs. So every command opens the server without the deployment
// key's passphrase, and only signing fails (errors.Unavailable) when the
// passphrase file is missing. Unless this process is a front door, every
// hosted domain without keys gets them (domains hosted before DKIM
// signing existed).
func (s *Server) openDKIM(ctx context.Context, qk *seal.Recipient) error {
	keysDir := filepath.Join(s.cfg.DataDir, "keys")
	s.deploy = &deploymentKey{dir: keysDir}
	k, err := dkimsign.Open(DKIMDir(s.cfg), qk, s.deploy.open)
	if err != nil {
		return err
	}
	s.DKIM = k
	if s.opts.FrontDoor {
		return nil
	}
	domains, err := s.Dir.Domains(ctx)
	if err != nil {
		return err
	}
	for _, d := range domains {
		if err := k.Ensure(d.Name); err != nil {
			return err
		}
	}
	return nil
}

// OpenDKIM opens the DKIM keys for a command that rotates or retires them
// while the server may be running (withServer cannot open stores the
// server holds): it opens no store and cannot sign. A running server
// signs with the new keys from its next message.
func OpenDKIM(c config.Config) (*dkimsign.Keys, error) {
	qk, err := queueKey(filepath.Join(c.DataDir, "keys"), c.Argon2.Params())
	if err != nil {
		return nil, err
	}
	return dkimsign.Open(DKIMDir(c), qk, nil)
}

// deploymentKey unlocks the deployment key on first use and keeps it in
// memory until wipe.
type deploymentKey struct {
	dir string
	mu  sync.Mutex
	u   *seal.Unlocked
}

// open opens what is sealed to the deployment key, unlocking it first if
// needed (one Argon2id derivation per process). Opens run concurrently.
func (d *deploymentKey) open(sealed []byte) ([]byte, error) {
	u, err := d.unlock()
	if err != nil {
		return nil, err
	}
	return OpenSealed(u, sealed)
}

// unlock returns the unlocked key, unlocking it the first time.
func (d *deploymentKey) unlock() (*seal.Unlocked, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.u == nil {
		u, err := openQueueKey(d.dir)
		if err != nil {
			return nil, err
		}
		d.u = u
		// The passphrase's Argon2id work area (tens of MiB) is garbage
		// now; left to the scavenger it stays resident for minutes. Once
		// per process, so the forced collection costs nothing that
		// matters.
		debug.FreeOSMemory()
	}
	return d.u, nil
}

func (d *deploymentKey) wipe() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.u != nil {
		d.u.Wipe()
		d.u = nil
	}
}

// AddDomain hosts a domain (Router.AddDomain: the directory and every
// region served here) and makes its DKIM keys. For a domain already
// hosted it makes any keys missing and returns the Exist error.
func (s *Server) AddDomain(ctx context.Context, domain string, defaultRegion sealpost.RegionID) error {
	err := s.Router.AddDomain(ctx, domain, defaultRegion)
	if err != nil && !errors.Is(errors.Exist, err) {
		return err
	}
	if kerr := s.DKIM.Ensure(domain); kerr != nil {
		return kerr
	}
	return err
}
