package postbox

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/sieve"
)

// scripts.go: the owner's Sieve scripts (RFC 5228), as ManageSieve
// (RFC 5804) and the owner's page edit them. Each is sealed under the
// account's filter key (filterkey.go); its name is in the clear.

// MaxScripts is how many Sieve scripts an account keeps.
const MaxScripts = 16

// ErrActiveScript is the error kind's detail when the active script is
// deleted (RFC 5804 2.10: the server refuses with the ACTIVE code).
var ErrActiveScript = errors.Str("the active script cannot be deleted")

// ErrNoServerFilter is the detail when a script is made active while the
// account's settings say NoServerFilter.
var ErrNoServerFilter = errors.Str("server-side rules are off for this account")

// ScriptInfo is a script's name and whether it runs at delivery.
type ScriptInfo struct {
	Name   string
	Active bool
}

// Scripts lists the account's scripts, sorted by name.
func (ss *Session) Scripts(ctx context.Context) ([]ScriptInfo, error) {
	objs, err := ss.svc.store.Objects(ctx, ss.acct.ID, sealpost.ObjectSieveScript)
	if err != nil {
		return nil, errors.E("postbox.Scripts", err)
	}
	out := make([]ScriptInfo, len(objs))
	for i, o := range objs {
		out[i] = ScriptInfo{Name: o.Name, Active: o.Active}
	}
	return out, nil
}

// GetScript returns a script's text.
func (ss *Session) GetScript(ctx context.Context, name string) ([]byte, error) {
	const op = "postbox.GetScript"
	o, err := ss.svc.store.Object(ctx, ss.acct.ID, sealpost.ObjectSieveScript, name)
	if err != nil {
		return nil, errors.E(op, err)
	}
	k, err := ss.filterKey(ctx)
	if err != nil {
		return nil, errors.E(op, err)
	}
	src, err := k.OpenObject(objectBinding(ss.acct.Address, sealpost.ObjectSieveScript), o.Data)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return src, nil
}

// CheckScript compiles src without storing it; the error (Invalid, with
// the line and column) is what ManageSieve shows the user.
func (ss *Session) CheckScript(ctx context.Context, src []byte) error {
	_, err := sieve.Compile(src)
	return err
}

// PutScript checks src and stores it under name (replacing a script of
// that name, which stays active if it was).
func (ss *Session) PutScript(ctx context.Context, name string, src []byte) error {
	const op = "postbox.PutScript"
	if err := checkScriptName(name); err != nil {
		return errors.E(op, err)
	}
	if _, err := sieve.Compile(src); err != nil {
		return errors.E(op, err)
	}
	k, err := ss.filterKey(ctx)
	if err != nil {
		return errors.E(op, err)
	}
	if err := ss.putObject(ctx, k, sealpost.ObjectSieveScript, name, src, MaxScripts); err != nil {
		return errors.E(op, err)
	}
	return nil
}

// HaveSpace tells whether a script of that name and size would be stored
// (RFC 5804 2.3).
func (ss *Session) HaveSpace(ctx context.Context, name string, size int64) error {
	const op = "postbox.HaveSpace"
	if err := checkScriptName(name); err != nil {
		return errors.E(op, err)
	}
	if size > sieve.MaxScriptSize {
		return errors.E(op, errors.TooLarge)
	}
	list, err := ss.Scripts(ctx)
	if err != nil {
		return errors.E(op, err)
	}
	if len(list) >= MaxScripts {
		for _, s := range list {
			if s.Name == name {
				return nil
			}
		}
		return errors.E(op, errors.OverQuota, errors.Errorf("at most %d scripts", MaxScripts))
	}
	return nil
}

// DeleteScript removes a script; not the active one.
func (ss *Session) DeleteScript(ctx context.Context, name string) error {
	const op = "postbox.DeleteScript"
	o, err := ss.svc.store.Object(ctx, ss.acct.ID, sealpost.ObjectSieveScript, name)
	if err != nil {
		return errors.E(op, err)
	}
	if o.Active {
		return errors.E(op, errors.Permission, ErrActiveScript)
	}
	if err := ss.svc.store.DeleteObject(ctx, ss.acct.ID, sealpost.ObjectSieveScript, name); err != nil {
		return errors.E(op, err)
	}
	ss.svc.forgetFilter(ss.acct.ID)
	return nil
}

// RenameScript renames a script, keeping whether it is active.
func (ss *Session) RenameScript(ctx context.Context, name, newName string) error {
	const op = "postbox.RenameScript"
	if err := checkScriptName(newName); err != nil {
		return errors.E(op, err)
	}
	if err := ss.svc.store.RenameObject(ctx, ss.acct.ID, sealpost.ObjectSieveScript, name, newName); err != nil {
		return errors.E(op, err)
	}
	ss.svc.forgetFilter(ss.acct.ID)
	return nil
}

// SetActiveScript makes the named script the one run at delivery; ""
// deactivates scripts. Refused (Invalid, ErrNoServerFilter: its text is
// for the owner) while the account's settings say NoServerFilter.
func (ss *Session) SetActiveScript(ctx context.Context, name string) error {
	const op = "postbox.SetActiveScript"
	if name != "" {
		acct, err := ss.svc.store.Account(ctx, ss.acct.Address)
		if err != nil {
			return errors.E(op, err)
		}
		if acct.Settings.NoServerFilter {
			return errors.E(op, errors.Invalid, ErrNoServerFilter)
		}
		// Make sure delivery can open the script.
		if _, err := ss.filterKey(ctx); err != nil {
			return errors.E(op, err)
		}
	}
	if err := ss.svc.store.SetActiveObject(ctx, ss.acct.ID, sealpost.ObjectSieveScript, name); err != nil {
		return errors.E(op, err)
	}
	ss.svc.forgetFilter(ss.acct.ID)
	return nil
}

// checkScriptName applies RFC 5804 1.6 to a script name: not empty,
// no control characters, and within sealpost.MaxObjectName.
func checkScriptName(name string) error {
	if name == "" {
		return errors.E(errors.Invalid, errors.Str("empty script name"))
	}
	return sealpost.CheckObjectName(name)
}
