package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/fs"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/authguard"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/store/guard"
	"github.com/sealpost/sealpost/store/postgres"
	"github.com/sealpost/sealpost/store/sqlite"
)

// Region is one region served by this process: its guarded store, its blob
// store and its postbox.
type Region struct {
	Info   sealpost.Region
	Config config.Region
	Store  *guard.Store
	Blobs  sealpost.BlobStore
	Svc    *postbox.Service

	closeBlobs func() error
}

// Info returns the sealpost.Region a configured region describes.
func Info(rc config.Region) sealpost.Region {
	return sealpost.Region{ID: sealpost.RegionID(rc.ID), Name: rc.Name, Country: rc.Country, Zones: rc.Zones,
		Entity: rc.Entity, EntityCountry: rc.EntityCountry}
}

// openStore opens a region's metadata store.
func openStore(ctx context.Context, rc config.Region) (sealpost.Store, error) {
	switch rc.Store.Kind {
	case "postgres":
		return postgres.Open(ctx, rc.Store.DSN)
	default:
		if err := os.MkdirAll(filepath.Dir(rc.Store.Path), 0o700); err != nil {
			return nil, errors.E("server.openStore", errors.Internal, err)
		}
		return sqlite.Open(rc.Store.Path)
	}
}

// OpenBlobs opens a region's blob store; the returned function closes it.
func OpenBlobs(ctx context.Context, rc config.Region) (sealpost.BlobStore, func() error, error) {
	nop := func() error { return nil }
	switch rc.Blobs.Kind {
	case "files":
		b, err := fs.Open(rc.Blobs.Path)
		return b, nop, err
	case "s3":
		return openS3(ctx, rc)
	default:
		p, err := pack.Open(rc.Blobs.Path)
		if err != nil {
			return nil, nop, err
		}
		return p, p.Close, nil
	}
}

// openRegion opens one region's storage and builds its postbox.
// observe, if set, wraps the store and blob store the postbox uses (the
// metrics' timing).
func openRegion(ctx context.Context, cfg config.Config, rc config.Region, dir sealpost.Directory, qk sealpost.Sealer, logins *authguard.Queue, log *slog.Logger, filters func(*postbox.Options) error,
	observe func(sealpost.RegionID, sealpost.Store, sealpost.BlobStore) (sealpost.Store, sealpost.BlobStore)) (*Region, error) {
	const op = "server.openRegion"
	inner, err := openStore(ctx, rc)
	if err != nil {
		return nil, errors.E(op, errors.Errorf("region %s: %w", rc.ID, err))
	}
	guarded, err := guard.New(ctx, inner, sealpost.RegionID(rc.ID), dir)
	if err != nil {
		inner.Close()
		return nil, errors.E(op, errors.Errorf("region %s: %w", rc.ID, err))
	}
	blobs, closeBlobs, err := OpenBlobs(ctx, rc)
	if err != nil {
		inner.Close()
		return nil, errors.E(op, errors.Errorf("region %s: %w", rc.ID, err))
	}
	po := postbox.Options{
		Params:         cfg.Argon2.Params(),
		MaxMessageSize: cfg.Limits.MaxMessageSize,
		Quota:          cfg.Quota.Limits(),
		QueueKey:       qk,
		Logger:         log.With("region", rc.ID),
		Logins:         logins,
		AuthCacheTime:  cfg.Auth.CacheTime.D(),
	}
	if filters != nil {
		if err := filters(&po); err != nil {
			inner.Close()
			closeBlobs()
			return nil, errors.E(op, err)
		}
	}
	var st sealpost.Store = guarded
	pb := blobs
	if observe != nil {
		st, pb = observe(sealpost.RegionID(rc.ID), st, pb)
	}
	svc := postbox.New(st, pb, po)
	return &Region{Info: Info(rc), Config: rc, Store: guarded, Blobs: blobs, Svc: svc, closeBlobs: closeBlobs}, nil
}

// Close closes the region's postbox and stores.
func (r *Region) Close() error {
	r.Svc.Close()
	err := r.closeBlobs()
	if cerr := r.Store.Close(); err == nil {
		err = cerr
	}
	return err
}
