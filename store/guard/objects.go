package guard

import (
	"context"

	"github.com/sealpost/sealpost"
)

// The object calls are an account's, guarded like SetSettings: refused
// (WrongRegion) for an account the directory homes elsewhere or that the
// guard has not vouched for, Unavailable while the account moves.

func (g *Store) PutObject(ctx context.Context, o sealpost.AccountObject, max int) error {
	if err := g.account(ctx, "guard.PutObject", o.Account); err != nil {
		return err
	}
	return g.inner.PutObject(ctx, o, max)
}

func (g *Store) Object(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name string) (sealpost.AccountObject, error) {
	if err := g.account(ctx, "guard.Object", acct); err != nil {
		return sealpost.AccountObject{}, err
	}
	return g.inner.Object(ctx, acct, kind, name)
}

func (g *Store) Objects(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind) ([]sealpost.AccountObject, error) {
	if err := g.account(ctx, "guard.Objects", acct); err != nil {
		return nil, err
	}
	return g.inner.Objects(ctx, acct, kind)
}

func (g *Store) DeleteObject(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name string) error {
	if err := g.account(ctx, "guard.DeleteObject", acct); err != nil {
		return err
	}
	return g.inner.DeleteObject(ctx, acct, kind, name)
}

func (g *Store) RenameObject(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name, newName string) error {
	if err := g.account(ctx, "guard.RenameObject", acct); err != nil {
		return err
	}
	return g.inner.RenameObject(ctx, acct, kind, name, newName)
}

func (g *Store) SetActiveObject(ctx context.Context, acct sealpost.AccountID, kind sealpost.ObjectKind, name string) error {
	if err := g.account(ctx, "guard.SetActiveObject", acct); err != nil {
		return err
	}
	return g.inner.SetActiveObject(ctx, acct, kind, name)
}
