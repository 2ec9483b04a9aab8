package certs_test

import (
	"context"
	"testing"

	"golang.org/x/crypto/acme/autocert"

	"github.com/sealpost/sealpost/certs"
	"github.com/sealpost/sealpost/errors"
)

// TestPolicy: the fixed names and each prefix before a hosted domain, and
// nothing else; a failed lookup is an error, not an allowance.
func TestPolicy(t *testing.T) {
	p := certs.Policy{Names: []string{"mail.example.test", "extra.example.test"}, Prefixes: []string{"mta-sts.", "autoconfig."},
		Hosted: func(ctx context.Context, d string) (bool, error) {
			if d == "broken.test" {
				return false, errors.E("test", errors.Unavailable, errors.Str("directory down"))
			}
			return d == "example.test" || d == "example.org", nil
		}}
	for name, want := range map[string]bool{
		"mail.example.test": true, "extra.example.test": true,
		"mta-sts.example.test": true, "autoconfig.example.org": true,
		"example.test": false, "mta-sts.": false, "mta-sts.other.test": false,
		"www.example.test": false, "mta-sts.mta-sts.example.test": false,
		"sub.mail.example.test": false, "autoconfig.broken.test": false, "": false,
	} {
		if got := p.Allows(context.Background(), name) == nil; got != want {
			t.Errorf("Allows(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestDirCacheKeys: keys that are not plain file names miss and cannot be
// written (autocert's keys never are such; a bug must not write outside the
// folder).
func TestDirCacheKeys(t *testing.T) {
	dir := t.TempDir()
	c, err := certs.OpenDirCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"../x", "a/b", ".hidden", "", `a\b`, "x.tmp"} {
		if err := c.Put(ctx, k, []byte("v")); err == nil {
			t.Errorf("Put(%q) succeeded", k)
		}
		if _, err := c.Get(ctx, k); err != autocert.ErrCacheMiss {
			t.Errorf("Get(%q) = %v, want a miss", k, err)
		}
	}
	if err := c.Put(ctx, "mail.example.test+rsa", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Get(ctx, "mail.example.test+rsa"); err != nil || string(b) != "v" {
		t.Fatalf("Get = %q, %v", b, err)
	}
	if err := c.Delete(ctx, "mail.example.test+rsa"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "mail.example.test+rsa"); err != autocert.ErrCacheMiss {
		t.Fatalf("after Delete: %v", err)
	}
}
