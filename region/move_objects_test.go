package region_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/region"
)

// giveObjects gives alice (in ie) the strictest setting and sealed objects
// of three kinds, one script active, and returns them as ie lists them.
func giveObjects(t *testing.T, w *world) []sealpost.AccountObject {
	t.Helper()
	ctx := context.Background()
	ie := w.regions["ie"].guard
	a, err := ie.Account(ctx, "alice@demo.example")
	testkit.Must(t, err)
	testkit.Must(t, ie.SetSettings(ctx, a.ID, sealpost.AccountSettings{NoServerFilter: true}))
	when := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	for _, o := range []sealpost.AccountObject{
		{Kind: sealpost.ObjectFilterKey, Name: sealpost.FilterKeyOwner, Data: []byte("sealed F")},
		{Kind: sealpost.ObjectSieveScript, Name: "main", Data: []byte("sealed script")},
		{Kind: sealpost.ObjectSieveScript, Name: "old", Data: []byte("sealed old script")},
		{Kind: sealpost.ObjectJunkModel, Data: []byte("sealed model")},
	} {
		o.Account, o.Updated = a.ID, when
		testkit.Must(t, ie.PutObject(ctx, o, 0))
	}
	testkit.Must(t, ie.SetActiveObject(ctx, a.ID, sealpost.ObjectSieveScript, "main"))
	img, err := ie.ExportAccount(ctx, "alice@demo.example")
	testkit.Must(t, err)
	if len(img.Objects) != 4 {
		t.Fatalf("alice's image holds %d objects, want 4", len(img.Objects))
	}
	return img.Objects
}

// wantMovedObjects checks alice's setting and objects in us.
func wantMovedObjects(t *testing.T, w *world, want []sealpost.AccountObject) {
	t.Helper()
	ctx := context.Background()
	us := w.regions["us"].guard
	a, err := us.Account(ctx, "alice@demo.example")
	testkit.Must(t, err)
	if !a.Settings.NoServerFilter {
		t.Errorf("alice's settings after the move: %+v", a.Settings)
	}
	var got []sealpost.AccountObject
	for _, k := range []sealpost.ObjectKind{sealpost.ObjectFilterKey, sealpost.ObjectSieveScript, sealpost.ObjectJunkModel, sealpost.ObjectVacation} {
		list, err := us.Objects(ctx, a.ID, k)
		testkit.Must(t, err)
		got = append(got, list...)
	}
	if len(got) != len(want) {
		t.Fatalf("alice has %d objects after the move, want %d", len(got), len(want))
	}
	for i, o := range want {
		g := got[i]
		if g.Account != a.ID || g.Kind != o.Kind || g.Name != o.Name || g.Active != o.Active ||
			!bytes.Equal(g.Data, o.Data) || !g.Updated.Equal(o.Updated) {
			t.Errorf("object %d after the move = %+v, want %+v in account %d", i, g, o, a.ID)
		}
	}
}

// A move carries the account's sealed objects and settings, as they are.
func TestMoveCarriesObjects(t *testing.T) {
	w := newWorld(t)
	want := giveObjects(t, w)
	m := &region.Mover{Dir: w.dir, From: w.regions["ie"].end(), To: w.regions["us"].end()}
	testkit.Must(t, m.Move(context.Background(), "alice@demo.example"))
	wantMovedObjects(t, w, want)
}

// A copy left by an interrupted move whose objects or settings differ
// from the source's fails verification and is made again.
func TestMoveRedoesCopyWithOtherObjects(t *testing.T) {
	for name, tamper := range map[string]func(ctx context.Context, s sealpost.Store, id sealpost.AccountID) error{
		"object data": func(ctx context.Context, s sealpost.Store, id sealpost.AccountID) error {
			return s.PutObject(ctx, sealpost.AccountObject{Account: id, Kind: sealpost.ObjectSieveScript, Name: "main",
				Data: []byte("other"), Updated: time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)}, 0)
		},
		"active script": func(ctx context.Context, s sealpost.Store, id sealpost.AccountID) error {
			return s.SetActiveObject(ctx, id, sealpost.ObjectSieveScript, "old")
		},
		"extra object": func(ctx context.Context, s sealpost.Store, id sealpost.AccountID) error {
			return s.PutObject(ctx, sealpost.AccountObject{Account: id, Kind: sealpost.ObjectVacation}, 0)
		},
		"settings": func(ctx context.Context, s sealpost.Store, id sealpost.AccountID) error {
			return s.SetSettings(ctx, id, sealpost.AccountSettings{})
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			want := giveObjects(t, w)
			ie, us := w.regions["ie"], w.regions["us"]
			m := &region.Mover{Dir: w.dir, From: ie.end(), To: us.end()}
			m.SetCrashHook(func(p string) {
				if p == "imported" {
					panic("crash")
				}
			})
			func() {
				defer func() { recover() }()
				m.Move(ctx, "alice@demo.example")
			}()
			// The copy is complete; change it behind the guard's back.
			img, err := us.inner.ExportAccount(ctx, "alice@demo.example")
			testkit.Must(t, err)
			testkit.Must(t, tamper(ctx, us.inner, img.Account.ID))
			m2 := &region.Mover{Dir: w.dir, From: ie.end(), To: us.end()}
			testkit.Must(t, m2.Move(ctx, "alice@demo.example"))
			wantMovedObjects(t, w, want)
		})
	}
}
