package postbox

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/junk"
)

// JunkModelForTest returns the account's junk key and its stored model,
// opened (nil when it has none), as Learn reads them.
func (ss *Session) JunkModelForTest(ctx context.Context) (junk.Key, []byte, error) {
	k, err := ss.filterKey(ctx)
	if err != nil {
		return junk.Key{}, nil, err
	}
	jk := junk.Key(k.Derive("junk"))
	o, err := ss.svc.store.Object(ctx, ss.acct.ID, sealpost.ObjectJunkModel, "")
	if errors.Is(errors.NotExist, err) {
		return jk, nil, nil
	} else if err != nil {
		return jk, nil, err
	}
	plain, err := k.OpenObject(objectBinding(ss.acct.Address, sealpost.ObjectJunkModel), o.Data)
	return jk, plain, err
}

// PutJunkModelForTest stores plain as the account's model, sealed as
// Learn seals it.
func (ss *Session) PutJunkModelForTest(ctx context.Context, plain []byte) error {
	k, err := ss.filterKey(ctx)
	if err != nil {
		return err
	}
	sealed, err := k.SealObject(objectBinding(ss.acct.Address, sealpost.ObjectJunkModel), plain)
	if err != nil {
		return err
	}
	if err := ss.svc.store.PutObject(ctx, sealpost.AccountObject{Account: ss.acct.ID, Kind: sealpost.ObjectJunkModel, Data: sealed}, 0); err != nil {
		return err
	}
	ss.svc.forgetFilter(ss.acct.ID)
	return nil
}
