package directory

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
)

func open(t *testing.T) *Dir {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestDomainsAndHomes(t *testing.T) {
	ctx := context.Background()
	d := open(t)
	testkit.Must(t, d.AddDomain(ctx, sealpost.Domain{Name: "Demo.Example", DefaultRegion: "ie"}))
	testkit.WantKind(t, "duplicate domain", d.AddDomain(ctx, sealpost.Domain{Name: "demo.example", DefaultRegion: "us"}), errors.Exist)
	testkit.WantKind(t, "bad region", d.AddDomain(ctx, sealpost.Domain{Name: "x.example", DefaultRegion: "IE!"}), errors.Invalid)
	dom, err := d.Domain(ctx, "DEMO.example")
	testkit.Must(t, err)
	if dom != (sealpost.Domain{Name: "demo.example", DefaultRegion: "ie"}) {
		t.Errorf("Domain = %+v", dom)
	}
	_, err = d.Domain(ctx, "other.example")
	testkit.WantKind(t, "unknown domain", err, errors.NotExist)

	testkit.Must(t, d.AddHome(ctx, sealpost.Home{Address: "Alice@demo.example", Region: "ie"}))
	testkit.Must(t, d.AddHome(ctx, sealpost.Home{Address: "bob@demo.example", Region: "us"}))
	testkit.WantKind(t, "duplicate home", d.AddHome(ctx, sealpost.Home{Address: "alice@demo.example", Region: "us"}), errors.Exist)
	testkit.WantKind(t, "unhosted domain", d.AddHome(ctx, sealpost.Home{Address: "eve@other.example", Region: "us"}), errors.NotExist)
	testkit.WantKind(t, "no local part", d.AddHome(ctx, sealpost.Home{Address: "@demo.example", Region: "us"}), errors.Invalid)

	for addr, want := range map[string]sealpost.RegionID{"alice@demo.example": "ie", "BOB@demo.example": "us"} {
		got, err := d.Home(ctx, addr)
		testkit.Must(t, err)
		if got != want {
			t.Errorf("Home(%s) = %s, want %s", addr, got, want)
		}
	}
	_, err = d.Home(ctx, "carol@demo.example")
	testkit.WantKind(t, "unknown home", err, errors.NotExist)
	homes, err := d.Homes(ctx)
	testkit.Must(t, err)
	if len(homes) != 2 || homes[0].Address != "alice@demo.example" || homes[1].Region != "us" {
		t.Errorf("Homes = %+v", homes)
	}
	testkit.Must(t, d.RemoveHome(ctx, "alice@demo.example"))
	testkit.Must(t, d.RemoveHome(ctx, "alice@demo.example"))
	_, err = d.Home(ctx, "alice@demo.example")
	testkit.WantKind(t, "removed home", err, errors.NotExist)
}

func TestMovePhases(t *testing.T) {
	ctx := context.Background()
	d := open(t)
	testkit.Must(t, d.AddDomain(ctx, sealpost.Domain{Name: "demo.example", DefaultRegion: "ie"}))
	testkit.Must(t, d.AddHome(ctx, sealpost.Home{Address: "alice@demo.example", Region: "ie"}))

	testkit.WantKind(t, "wrong from", d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "us", To: "ie"}), errors.WrongRegion)
	testkit.WantKind(t, "same region", d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "ie", To: "ie"}), errors.Invalid)
	testkit.WantKind(t, "unknown account", d.StartMove(ctx, sealpost.Move{Address: "x@demo.example", From: "ie", To: "us"}), errors.NotExist)
	testkit.Must(t, d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "ie", To: "us"}))
	testkit.WantKind(t, "second move", d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "ie", To: "us"}), errors.Exist)
	testkit.WantKind(t, "finish before switch", d.FinishMove(ctx, "alice@demo.example"), errors.Invalid)

	moves, err := d.Moves(ctx)
	testkit.Must(t, err)
	if len(moves) != 1 || moves[0].Phase != sealpost.MoveCopy || moves[0].To != "us" || moves[0].Started.IsZero() {
		t.Fatalf("Moves = %+v", moves)
	}
	if home, _ := d.Home(ctx, "alice@demo.example"); home != "ie" {
		t.Errorf("home during copy = %s, want ie", home)
	}
	testkit.Must(t, d.SwitchMove(ctx, "alice@demo.example"))
	testkit.Must(t, d.SwitchMove(ctx, "alice@demo.example")) // idempotent
	if home, _ := d.Home(ctx, "alice@demo.example"); home != "us" {
		t.Errorf("home after switch = %s, want us", home)
	}
	testkit.WantKind(t, "abandon after switch", d.AbandonMove(ctx, "alice@demo.example"), errors.Invalid)
	testkit.Must(t, d.FinishMove(ctx, "alice@demo.example"))
	if moves, _ := d.Moves(ctx); len(moves) != 0 {
		t.Errorf("moves after finish: %+v", moves)
	}
	testkit.WantKind(t, "switch without move", d.SwitchMove(ctx, "alice@demo.example"), errors.NotExist)

	// An abandoned move leaves the home where it was.
	testkit.Must(t, d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "us", To: "ie"}))
	testkit.Must(t, d.AbandonMove(ctx, "alice@demo.example"))
	if home, _ := d.Home(ctx, "alice@demo.example"); home != "us" {
		t.Errorf("home after abandon = %s, want us", home)
	}
}

// Two processes (here: two handles) share one directory file; a change by
// one is seen by the other, and concurrent moves of one address conflict.
func TestSharedFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "directory.db")
	a, err := Open(path)
	testkit.Must(t, err)
	defer a.Close()
	b, err := Open(path)
	testkit.Must(t, err)
	defer b.Close()
	testkit.Must(t, a.AddDomain(ctx, sealpost.Domain{Name: "demo.example", DefaultRegion: "ie"}))
	testkit.Must(t, a.AddHome(ctx, sealpost.Home{Address: "alice@demo.example", Region: "ie"}))
	if r, err := b.Home(ctx, "alice@demo.example"); err != nil || r != "ie" {
		t.Fatalf("other handle: %v %v", r, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, d := range []*Dir{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "ie", To: "us"})
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("exactly one concurrent StartMove must win: %v, %v", errs[0], errs[1])
	}
}
