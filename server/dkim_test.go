package server_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/server"
)

// verifies signs a message From the domain with the server's keys and
// checks it with go-msgauth against the domain's records.
func verifies(t *testing.T, srv *server.Server, domain string) {
	t.Helper()
	msg := []byte("From: someone@" + domain + "\r\nTo: x@example.com\r\nSubject: hi\r\n\r\nbody\r\n")
	sigs, err := srv.DKIM.Sign(domain, msg)
	testkit.Must(t, err)
	recs, err := srv.DKIM.Records(domain)
	testkit.Must(t, err)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(append(sigs, msg...)), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			for _, r := range recs {
				if r.Selector+"._domainkey."+domain == name {
					return []string{r.Value}, nil
				}
			}
			return nil, fmt.Errorf("no record %s", name)
		},
	})
	testkit.Must(t, err)
	if len(vs) != 2 || vs[0].Err != nil || vs[1].Err != nil {
		t.Fatalf("%s: verifications %+v %+v", domain, vs[0], vs[1])
	}
}

// The demo domain and every added domain get keys that the server signs
// with (unlocking the deployment key on first use); they are kept across
// restarts; a domain hosted before DKIM gets its keys at the next start;
// without the deployment key's passphrase the server opens and only
// signing fails.
func TestDKIMWiring(t *testing.T) {
	ctx := context.Background()
	srv := openDemo(t)
	cfg := srv.Config()
	verifies(t, srv, "demo.example")
	testkit.Must(t, srv.AddDomain(ctx, "example.net", "us"))
	verifies(t, srv, "example.net")
	before, err := srv.DKIM.Records("example.net")
	testkit.Must(t, err)
	testkit.WantKind(t, "adding a hosted domain again", srv.AddDomain(ctx, "example.net", "us"), errors.Exist)
	testkit.Must(t, srv.Close())

	// A domain hosted before DKIM keys existed: its keys are made at start.
	testkit.Must(t, os.RemoveAll(filepath.Join(server.DKIMDir(cfg), "demo.example")))
	srv, err = server.Open(cfg, mlog.Discard(), server.Options{})
	testkit.Must(t, err)
	after, err := srv.DKIM.Records("example.net")
	testkit.Must(t, err)
	if !slices.Equal(before, after) {
		t.Errorf("example.net's keys changed across a restart")
	}
	verifies(t, srv, "demo.example")
	testkit.Must(t, srv.Close())

	keys := filepath.Join(cfg.DataDir, "keys")
	testkit.Must(t, os.Rename(filepath.Join(keys, "queue-key.passphrase"), filepath.Join(keys, "elsewhere")))
	srv, err = server.Open(cfg, mlog.Discard(), server.Options{})
	testkit.Must(t, err)
	defer srv.Close()
	if _, err := srv.DKIM.Records("example.net"); err != nil {
		t.Fatalf("records without the passphrase: %v", err)
	}
	_, err = srv.DKIM.Sign("example.net", []byte("From: a@example.net\r\n\r\n"))
	testkit.WantKind(t, "signing without the passphrase", err, errors.Unavailable)
}
