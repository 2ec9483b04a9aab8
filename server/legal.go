package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/disclose"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/legal/policy"
	"github.com/sealpost/sealpost/legal/store"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/seal"
)

// This file wires the lawful-demand gateway: its store under
// data_dir/legal, the deployment's disclosure signing key, the policy, and
// legalMail, through which alone the gateway reaches accounts.

// OpenGateway opens the gateway over the regions this process serves. The
// caller closes its store.
func (s *Server) OpenGateway() (*gateway.Gateway, error) {
	const op = "server.OpenGateway"
	dir := filepath.Join(s.cfg.DataDir, "legal")
	if err := durable.PrivateDir(op, dir); err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(dir, "legal.db"), filepath.Join(dir, "docs"),
		store.WithArgon2(s.cfg.Argon2.Params()))
	if err != nil {
		return nil, errors.E(op, err)
	}
	key, err := signingKey(filepath.Join(s.cfg.DataDir, "keys", "disclosure.key"))
	if err != nil {
		st.Close()
		return nil, errors.E(op, err)
	}
	pol := policy.Default()
	if s.cfg.Legal.Policy != "" {
		src, err := os.ReadFile(s.cfg.Legal.Policy)
		if err != nil {
			st.Close()
			return nil, errors.E(op, errors.Invalid, err)
		}
		if pol, err = policy.Parse(src); err != nil {
			st.Close()
			return nil, errors.E(op, err)
		}
	}
	return gateway.New(gateway.Options{
		Store: st, Policy: pol, Mail: &legalMail{s: s}, Signer: key, Hostname: s.cfg.Hostname,
	}), nil
}

// signingKey loads, or makes once, the deployment's Ed25519 key that signs
// disclosure packages (PKCS #8 PEM, mode 0600).
func signingKey(path string) (ed25519.PrivateKey, error) {
	const op = "server.signingKey"
	if b, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "SEALPOST ED25519 PRIVATE KEY" || len(blk.Bytes) != ed25519.SeedSize {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("%s is not a Sealpost signing key", path))
		}
		return ed25519.NewKeyFromSeed(blk.Bytes), nil
	}
	if err := durable.PrivateDir(op, filepath.Dir(path)); err != nil {
		return nil, err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "SEALPOST ED25519 PRIVATE KEY", Bytes: key.Seed()})
	if err := durable.WriteFile(path, data, 0o600); err != nil {
		return nil, errors.E(op, err)
	}
	return key, nil
}

// legalMail is gateway.Mail over the regions served here.
type legalMail struct{ s *Server }

var _ gateway.Mail = (*legalMail)(nil)

func (m *legalMail) region(ctx context.Context, addr string) (*Region, sealpost.Account, error) {
	id, err := m.s.Dir.Home(ctx, addr)
	if err != nil {
		return nil, sealpost.Account{}, err
	}
	r, ok := m.s.Regions[id]
	if !ok {
		return nil, sealpost.Account{}, errors.E(errors.Unavailable, errors.Errorf("region %s is not served by this process", id))
	}
	acct, err := r.Store.Account(ctx, sealpost.NormalizeAddress(addr))
	return r, acct, err
}

func (m *legalMail) Locate(ctx context.Context, addr string) (policy.Region, error) {
	id, err := m.s.Dir.Home(ctx, sealpost.NormalizeAddress(addr))
	if err != nil {
		return policy.Region{}, err
	}
	rc, ok := m.s.cfg.RegionByID(string(id))
	if !ok {
		return policy.Region{}, errors.E(errors.Internal, errors.Errorf("region %s is not configured", id))
	}
	return policy.Region{ID: rc.ID, Name: rc.Name, Country: rc.Country, Zones: rc.Zones, Entity: rc.Entity, EntityCountry: rc.EntityCountry}, nil
}

func (m *legalMail) Subscriber(ctx context.Context, addr string) (disclose.SubscriberRecord, error) {
	r, acct, err := m.region(ctx, addr)
	if err != nil {
		return disclose.SubscriberRecord{}, err
	}
	keys, err := r.Store.Keys(ctx, acct.ID)
	if err != nil {
		return disclose.SubscriberRecord{}, err
	}
	rec := disclose.SubscriberRecord{Address: acct.Address, Region: r.Info.ID, Country: r.Info.Country,
		Entity: r.Info.Entity, Created: acct.Created, OwnKey: acct.OwnKey}
	for _, k := range keys {
		fp := ""
		if rc, err := seal.ParseRecipient(k.PublicKey); err == nil {
			fp = rc.Fingerprint()
		}
		rec.Keys = append(rec.Keys, disclose.KeyRecord{Generation: k.ID, Created: k.Created, Fingerprint: fp, Active: k.Active})
	}
	return rec, nil
}

// inRange reports whether t falls in [from, to], whole days, UTC.
func inRange(t time.Time, from, to *legal.Date) bool {
	t = t.UTC()
	if from != nil && t.Before(from.Time) {
		return false
	}
	if to != nil && !t.Before(to.Time.AddDate(0, 0, 1)) {
		return false
	}
	return true
}

// each calls fn with every message of the account in range, by mailbox
// (the hidden hold mailbox included: what a hold retains is the account's).
func (m *legalMail) each(ctx context.Context, addr string, from, to *legal.Date, fn func(r *Region, tr disclose.TrafficRecord, msg sealpost.Message) error) error {
	r, acct, err := m.region(ctx, addr)
	if err != nil {
		return err
	}
	mbs, err := r.Store.Mailboxes(ctx, acct.ID)
	if err != nil {
		return err
	}
	for _, mb := range mbs {
		msgs, err := r.Store.Messages(ctx, mb.ID, 0)
		if err != nil {
			return err
		}
		for _, msg := range msgs {
			if !inRange(msg.InternalDate, from, to) {
				continue
			}
			tr := disclose.TrafficRecord{Address: acct.Address, Mailbox: mb.Name, UIDValidity: mb.UIDValidity, UID: msg.UID,
				InternalDate: msg.InternalDate, Size: msg.Size, Flags: msg.Flags}
			if err := fn(r, tr, msg); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *legalMail) Traffic(ctx context.Context, addr string, from, to *legal.Date) ([]disclose.TrafficRecord, error) {
	var out []disclose.TrafficRecord
	err := m.each(ctx, addr, from, to, func(_ *Region, tr disclose.TrafficRecord, _ sealpost.Message) error {
		out = append(out, tr)
		return nil
	})
	return out, err
}

func (m *legalMail) SealedContent(ctx context.Context, addr string, from, to *legal.Date, fn func(disclose.TrafficRecord, []byte) error) error {
	return m.each(ctx, addr, from, to, func(r *Region, tr disclose.TrafficRecord, msg sealpost.Message) error {
		rc, err := r.Blobs.Get(ctx, msg.Blob)
		if err != nil {
			return err
		}
		defer rc.Close()
		sealed, err := readAll(rc)
		if err != nil {
			return err
		}
		return fn(tr, sealed)
	})
}

func (m *legalMail) PlaceHold(ctx context.Context, addr string) error {
	svc, _, err := m.s.Router.Postbox(ctx, addr)
	if err != nil {
		return err
	}
	return svc.PlaceHold(ctx, addr)
}

func (m *legalMail) ReleaseHold(ctx context.Context, addr string) error {
	svc, _, err := m.s.Router.Postbox(ctx, addr)
	if err != nil {
		return err
	}
	return svc.ReleaseHold(ctx, addr)
}

func (m *legalMail) Notify(ctx context.Context, addr string, raw []byte) error {
	return m.s.Router.Deliver(ctx, postbox.Envelope{From: "legal@" + m.s.cfg.Hostname, Recipients: []string{addr}, Notice: true}, postbox.Bytes(raw))
}

func readAll(r io.Reader) ([]byte, error) {
	if b, ok := r.(interface{ Bytes() []byte }); ok {
		return b.Bytes(), nil
	}
	return io.ReadAll(r)
}

func (m *legalMail) Authenticate(ctx context.Context, addr, password string) error {
	_, err := m.s.Router.Authenticate(ctx, addr, password)
	return err
}
