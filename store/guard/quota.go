package guard

import (
	"context"

	"github.com/sealpost/sealpost"
)

// The quota calls are an account's, guarded like SetSettings: refused for
// an account the directory homes elsewhere.

func (g *Store) SetQuota(ctx context.Context, id sealpost.AccountID, q sealpost.Quota) error {
	if err := g.account(ctx, "guard.SetQuota", id); err != nil {
		return err
	}
	return g.inner.SetQuota(ctx, id, q)
}

func (g *Store) Usage(ctx context.Context, id sealpost.AccountID) (sealpost.Usage, error) {
	if err := g.account(ctx, "guard.Usage", id); err != nil {
		return sealpost.Usage{}, err
	}
	return g.inner.Usage(ctx, id)
}
