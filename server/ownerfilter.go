package server

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/web"
)

// ownerfilter.go: the owner's page's view and edit of the account's mail
// filter (postbox/scripts.go, postbox/train.go).

// defaultScriptName names the script the owner's page saves when no
// script is active.
const defaultScriptName = "sealpost"

func (o owners) Filter(ctx context.Context, addr string) (web.FilterView, error) {
	addr = sealpost.NormalizeAddress(addr)
	home, err := o.s.Dir.Home(ctx, addr)
	if err != nil {
		return web.FilterView{}, err
	}
	r, ok := o.s.Regions[home]
	if !ok {
		return web.FilterView{}, errors.E(errors.Unavailable, errors.Errorf("region %s is not served by this process", home))
	}
	st, err := r.Svc.FilterStatus(ctx, addr)
	if err != nil {
		return web.FilterView{}, err
	}
	return web.FilterView{NoServerFilter: st.NoServerFilter, ActiveScript: st.ActiveScript, Script: st.Script,
		Scripts: st.Scripts, Ham: st.Ham, Spam: st.Spam, Trained: st.Trained}, nil
}

func (o owners) SetFilter(ctx context.Context, addr, password string, change web.FilterChange) error {
	const op = "server.SetFilter"
	ss, err := o.s.Router.Login(ctx, addr, password)
	if err != nil {
		if errors.KindOf(err) == errors.Unavailable {
			return errors.E(op, err)
		}
		return errors.E(op, errors.Permission, errors.Str("wrong address or password"))
	}
	defer ss.Close()
	if change.NoServerFilter != nil {
		if err := ss.SetNoServerFilter(ctx, *change.NoServerFilter); err != nil {
			return errors.E(op, err)
		}
	}
	if change.Script != nil {
		return setActiveText(ctx, ss, change.Script)
	}
	return nil
}

// setActiveText replaces the active script's text, or saves it as
// defaultScriptName and makes it active; an empty text deactivates.
func setActiveText(ctx context.Context, ss *postbox.Session, src []byte) error {
	const op = "server.setActiveText"
	list, err := ss.Scripts(ctx)
	if err != nil {
		return errors.E(op, err)
	}
	name := ""
	for _, s := range list {
		if s.Active {
			name = s.Name
		}
	}
	if len(src) == 0 {
		return ss.SetActiveScript(ctx, "")
	}
	if name == "" {
		name = defaultScriptName
	}
	if err := ss.PutScript(ctx, name, src); err != nil {
		return errors.E(op, err)
	}
	return ss.SetActiveScript(ctx, name)
}
