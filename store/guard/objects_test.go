package guard_test

import (
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/store/guard"
)

// The object calls are refused for an account the guard has not vouched
// for (WrongRegion), frozen while it moves (Unavailable), and refused for
// good on the source once the move has switched.
func TestGuardsObjects(t *testing.T) {
	d := newDeployment(t)
	ie, us := d.guards["ie"], d.guards["us"]
	const s = sealpost.ObjectSieveScript
	calls := func(id sealpost.AccountID) map[string]error {
		_, errObject := ie.Object(ctx, id, s, "main")
		_, errObjects := ie.Objects(ctx, id, s)
		return map[string]error{
			"PutObject":       ie.PutObject(ctx, sealpost.AccountObject{Account: id, Kind: s, Name: "main"}, 0),
			"Object":          errObject,
			"Objects":         errObjects,
			"RenameObject":    ie.RenameObject(ctx, id, s, "main", "other"),
			"SetActiveObject": ie.SetActiveObject(ctx, id, s, "main"),
			"DeleteObject":    ie.DeleteObject(ctx, id, s, "main"),
		}
	}
	// bob's ID in us may be one ie handed out for alice: use IDs ie never
	// did.
	bob, err := us.Account(ctx, "bob@demo.example")
	testkit.Must(t, err)
	for _, id := range []sealpost.AccountID{bob.ID + 100, 999} {
		for name, err := range calls(id) {
			testkit.WantKind(t, "ie."+name+"(unvouched id)", err, errors.WrongRegion)
		}
	}

	alice, err := ie.Account(ctx, "alice@demo.example")
	testkit.Must(t, err)
	testkit.Must(t, ie.PutObject(ctx, sealpost.AccountObject{Account: alice.ID, Kind: s, Name: "main", Data: []byte("x")}, 1))
	testkit.Must(t, ie.SetActiveObject(ctx, alice.ID, s, "main"))

	testkit.Must(t, d.dir.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "ie", To: "us"}))
	d.clock.Add(guard.Recheck)
	for name, err := range calls(alice.ID) {
		testkit.WantKind(t, "ie."+name+" during a move", err, errors.Unavailable)
	}
	testkit.Must(t, d.dir.SwitchMove(ctx, "alice@demo.example"))
	d.clock.Add(guard.Recheck)
	for name, err := range calls(alice.ID) {
		testkit.WantKind(t, "ie."+name+" on the source after the switch", err, errors.WrongRegion)
	}
	// Nothing of that reached the store.
	o, err := d.inner["ie"].Object(ctx, alice.ID, s, "main")
	if err != nil || !o.Active || string(o.Data) != "x" {
		t.Fatalf("alice's script in ie's store: %+v, %v", o, err)
	}
}
