package certs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/acme/autocert"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
)

// DirCache is autocert's cache in a private folder: the ACME account key
// and each certificate with its private key, one PEM file per entry,
// written atomically and durably (a crash leaves the old entry or the new,
// never half of one, and an issued certificate is not lost to a crash and
// asked for again against the CA's rate limits). The folder is 0700 and
// its files 0600: they hold TLS private keys and the account key (anyone
// who reads the account key can revoke our certificates or order new
// ones).
type DirCache struct {
	dir string
	mu  sync.Mutex // one writer at a time (durable.WriteFile's temporary name is fixed)
}

var _ autocert.Cache = (*DirCache)(nil)

// OpenDirCache makes dir (0700) if needed and tightens its mode if it is
// looser.
func OpenDirCache(dir string) (*DirCache, error) {
	const op = "certs.OpenDirCache"
	if err := durable.PrivateDir(op, dir); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return &DirCache{dir: dir}, nil
}

// path returns the file of key, or "" if key is not a plain file name
// (autocert's keys are names and "+token", "+rsa", "+key" suffixes).
func (d *DirCache) path(key string) string {
	if key == "" || key[0] == '.' || strings.ContainsAny(key, `/\`) || strings.HasSuffix(key, ".tmp") {
		return ""
	}
	return filepath.Join(d.dir, key)
}

// Get implements autocert.Cache.
func (d *DirCache) Get(ctx context.Context, key string) ([]byte, error) {
	p := d.path(key)
	if p == "" {
		return nil, autocert.ErrCacheMiss
	}
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return nil, autocert.ErrCacheMiss
	}
	return b, err
}

// Put implements autocert.Cache.
func (d *DirCache) Put(ctx context.Context, key string, data []byte) error {
	const op = "certs.DirCache.Put"
	p := d.path(key)
	if p == "" {
		return errors.E(op, errors.Invalid, errors.Str("bad cache key"))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	os.Remove(p + ".tmp") // a crash's leftover keeps its mode; start afresh at 0600
	if err := durable.WriteFile(p, data, 0o600); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	return nil
}

// Delete implements autocert.Cache.
func (d *DirCache) Delete(ctx context.Context, key string) error {
	p := d.path(key)
	if p == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return errors.E("certs.DirCache.Delete", errors.Internal, err)
	}
	return nil
}
