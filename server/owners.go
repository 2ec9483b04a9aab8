package server

import (
	"context"
	"io"
	"log/slog"
	"slices"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/journal"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/seal"
	"github.com/sealpost/sealpost/web"
)

// owners is web.Owners over the regions served here: what the privacy page
// does for an account's owner.
type owners struct{ s *Server }

var _ web.Owners = owners{}

// Owners returns what the web app's privacy page needs of accounts.
func (s *Server) Owners() web.Owners { return owners{s} }

func (o owners) Authenticate(ctx context.Context, addr, password string) error {
	_, err := o.s.Router.Authenticate(ctx, addr, password)
	if err != nil && errors.KindOf(err) != errors.Unavailable {
		return errors.E("server.Authenticate", errors.Permission, errors.Str("wrong address or password"))
	}
	return err
}

func (o owners) Residence(ctx context.Context, addr string) (web.Residence, error) {
	addr = sealpost.NormalizeAddress(addr)
	home, err := o.s.Dir.Home(ctx, addr)
	if err != nil {
		return web.Residence{}, err
	}
	rc, ok := o.s.cfg.RegionByID(string(home))
	if !ok {
		return web.Residence{}, errors.E(errors.Internal, errors.Errorf("region %s is not configured", home))
	}
	r := web.Residence{Region: rc.ID, RegionName: rc.Name, Country: rc.Country, Zones: slices.Clone(rc.Zones), Entity: rc.Entity}
	moves, err := o.s.Dir.Moves(ctx)
	if err != nil {
		return web.Residence{}, err
	}
	for _, m := range moves {
		r.Moving = r.Moving || m.Address == addr
	}
	for _, c := range o.s.cfg.Regions {
		if c.ID != rc.ID {
			r.Elsewhere = append(r.Elsewhere, web.RegionChoice{ID: c.ID, Name: c.Name, Country: c.Country, Zones: slices.Clone(c.Zones)})
		}
	}
	return r, nil
}

func (o owners) KeyStatus(ctx context.Context, addr string) (web.KeyStatus, error) {
	addr = sealpost.NormalizeAddress(addr)
	home, err := o.s.Dir.Home(ctx, addr)
	if err != nil {
		return web.KeyStatus{}, err
	}
	r, ok := o.s.Regions[home]
	if !ok {
		return web.KeyStatus{}, errors.E(errors.Unavailable, errors.Errorf("region %s is not served by this process", home))
	}
	acct, err := r.Store.Account(ctx, addr)
	if err != nil {
		return web.KeyStatus{}, err
	}
	keys, err := r.Store.Keys(ctx, acct.ID)
	if err != nil {
		return web.KeyStatus{}, err
	}
	ks := web.KeyStatus{Generations: len(keys), OwnKey: acct.OwnKey}
	for _, k := range keys {
		if !k.Active {
			continue
		}
		ks.Created, ks.Password, ks.Recovery = k.Created, k.WrappedByPassword != nil, k.WrappedByRecovery != nil
		if rcp, err := seal.ParseRecipient(k.PublicKey); err == nil {
			ks.Fingerprint = rcp.Fingerprint()
			ks.Algorithm = "OpenPGP v4"
			if len(ks.Fingerprint) == 64 {
				ks.Algorithm = "OpenPGP v6"
			}
		}
	}
	return ks, nil
}

func (o owners) Move(ctx context.Context, addr, password, to string) error {
	// A browser closed mid-move must not stop it half-way (it would
	// resume only when rerun): the move runs to its end.
	_, err := o.s.MoveAccount(context.WithoutCancel(ctx), addr, sealpost.RegionID(to), password, MoveOptions{Log: o.s.log})
	return err
}

// MoveAccount moves addr's mailbox to region to at its owner's request
// (password checked), recording the move in the event journal; both
// regions must be served by this process (errors.Unavailable otherwise,
// saying to run `sealpost account move`). Rerun after an interruption, it
// resumes. It returns the region the mailbox left.
func (s *Server) MoveAccount(ctx context.Context, addr string, to sealpost.RegionID, pass string, o MoveOptions) (from sealpost.RegionID, err error) {
	log, crash := o.Log, o.Crash
	const op = "server.MoveAccount"
	addr = sealpost.NormalizeAddress(addr)
	from, err = s.Dir.Home(ctx, addr)
	if err != nil {
		return "", errors.E(op, err)
	}
	moves, err := s.Dir.Moves(ctx)
	if err != nil {
		return from, errors.E(op, err)
	}
	for _, m := range moves {
		if m.Address == addr {
			from = m.From // resuming: the home may already have switched
			if m.To != to {
				return from, errors.E(op, errors.Exist, errors.Errorf("%s is already moving to %s: finish that first", addr, m.To))
			}
		}
	}
	if _, ok := s.cfg.RegionByID(string(to)); !ok {
		return from, errors.E(op, errors.Invalid, errors.Errorf("unknown region %q", to))
	}
	if from == to {
		return from, errors.E(op, errors.Invalid, errors.Errorf("the mailbox already lives in region %s", to))
	}
	src, sok := s.Regions[from]
	dst, dok := s.Regions[to]
	if !sok || !dok {
		return from, errors.E(op, errors.Unavailable, errors.Errorf("this server does not hold both regions %s and %s: the move runs with `sealpost account move` where both are served (it asks for your password)", from, to))
	}
	owner := src.Store
	if _, err := owner.ExportAccount(ctx, addr); errors.Is(errors.NotExist, err) {
		owner = dst.Store // an interrupted move past its cleanup
	}
	if err := region.CheckOwner(ctx, owner, addr, pass); err != nil {
		return from, errors.E(op, errors.Permission, errors.Errorf("only the owner may move a mailbox: %w", err))
	}
	j, err := journal.Open(s.JournalPath())
	if err != nil {
		return from, errors.E(op, err)
	}
	defer j.Close()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &region.Mover{
		Dir:      s.Dir,
		From:     region.End{Region: from, Store: src.Store, Blobs: src.Blobs},
		To:       region.End{Region: to, Store: dst.Store, Blobs: dst.Blobs},
		Recorder: j,
		Logger:   log,
		Meter:    o.Meter,
	}
	if crash != nil {
		m.SetCrashHook(crash)
	}
	if err := m.Move(ctx, addr); err != nil {
		return from, errors.E(op, err)
	}
	return from, nil
}
