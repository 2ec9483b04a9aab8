package directory

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
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

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, what string, err error, kind errors.Kind) {
	t.Helper()
	if !errors.Is(kind, err) {
		t.Errorf("%s: got %v, want kind %v", what, err, kind)
	}
}

func TestDomainsAndHomes(t *testing.T) {
	ctx := context.Background()
	d := open(t)
	must(t, d.AddDomain(ctx, sealpost.Domain{Name: "Demo.Example", DefaultRegion: "ie"}))
	wantKind(t, "duplicate domain", d.AddDomain(ctx, sealpost.Domain{Name: "demo.example", DefaultRegion: "us"}), errors.Exist)
	wantKind(t, "bad region", d.AddDomain(ctx, sealpost.Domain{Name: "x.example", DefaultRegion: "IE!"}), errors.Invalid)
	dom, err := d.Domain(ctx, "DEMO.example")
	must(t, err)
	if dom != (sealpost.Domain{Name: "demo.example", DefaultRegion: "ie"}) {
		t.Errorf("Domain = %+v", dom)
	}
	_, err = d.Domain(ctx, "other.example")
	wantKind(t, "unknown domain", err, errors.NotExist)

	must(t, d.AddHome(ctx, sealpost.Home{Address: "Alice@demo.example", Region: "ie"}))
	must(t, d.AddHome(ctx, sealpost.Home{Address: "bob@demo.example", Region: "us"}))
	wantKind(t, "duplicate home", d.AddHome(ctx, sealpost.Home{Address: "alice@demo.example", Region: "us"}), errors.Exist)
	wantKind(t, "unhosted domain", d.AddHome(ctx, sealpost.Home{Address: "eve@other.example", Region: "us"}), errors.NotExist)
	wantKind(t, "no local part", d.AddHome(ctx, sealpost.Home{Address: "@demo.example", Region: "us"}), errors.Invalid)

	for addr, want := range map[string]sealpost.RegionID{"alice@demo.example": "ie", "BOB@demo.example": "us"} {
		got, err := d.Home(ctx, addr)
		must(t, err)
		if got != want {
			t.Errorf("Home(%s) = %s, want %s", addr, got, want)
		}
	}
	_, err = d.Home(ctx, "carol@demo.example")
	wantKind(t, "unknown home", err, errors.NotExist)
	homes, err := d.Homes(ctx)
	must(t, err)
	if len(homes) != 2 || homes[0].Address != "alice@demo.example" || homes[1].Region != "us" {
		t.Errorf("Homes = %+v", homes)
	}
	must(t, d.RemoveHome(ctx, "alice@demo.example"))
	must(t, d.RemoveHome(ctx, "alice@demo.example"))
	_, err = d.Home(ctx, "alice@demo.example")
	wantKind(t, "removed home", err, errors.NotExist)
}

func TestMovePhases(t *testing.T) {
	ctx := context.Background()
	d := open(t)
	must(t, d.AddDomain(ctx, sealpost.Domain{Name: "demo.example", DefaultRegion: "ie"}))
	must(t, d.AddHome(ctx, sealpost.Home{Address: "alice@demo.example", Region: "ie"}))

	wantKind(t, "wrong from", d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "us", To: "ie"}), errors.WrongRegion)
	wantKind(t, "same region", d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "ie", To: "ie"}), errors.Invalid)
	wantKind(t, "unknown account", d.StartMove(ctx, sealpost.Move{Address: "x@demo.example", From: "ie", To: "us"}), errors.NotExist)
	must(t, d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "ie", To: "us"}))
	wantKind(t, "second move", d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "ie", To: "us"}), errors.Exist)
	wantKind(t, "finish before switch", d.FinishMove(ctx, "alice@demo.example"), errors.Invalid)

	moves, err := d.Moves(ctx)
	must(t, err)
	if len(moves) != 1 || moves[0].Phase != sealpost.MoveCopy || moves[0].To != "us" || moves[0].Started.IsZero() {
		t.Fatalf("Moves = %+v", moves)
	}
	if home, _ := d.Home(ctx, "alice@demo.example"); home != "ie" {
		t.Errorf("home during copy = %s, want ie", home)
	}
	must(t, d.SwitchMove(ctx, "alice@demo.example"))
	must(t, d.SwitchMove(ctx, "alice@demo.example")) // idempotent
	if home, _ := d.Home(ctx, "alice@demo.example"); home != "us" {
		t.Errorf("home after switch = %s, want us", home)
	}
	wantKind(t, "abandon after switch", d.AbandonMove(ctx, "alice@demo.example"), errors.Invalid)
	must(t, d.FinishMove(ctx, "alice@demo.example"))
	if moves, _ := d.Moves(ctx); len(moves) != 0 {
		t.Errorf("moves after finish: %+v", moves)
	}
	wantKind(t, "switch without move", d.SwitchMove(ctx, "alice@demo.example"), errors.NotExist)

	// An abandoned move leaves the home where it was.
	must(t, d.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "us", To: "ie"}))
	must(t, d.AbandonMove(ctx, "alice@demo.example"))
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
	must(t, err)
	defer a.Close()
	b, err := Open(path)
	must(t, err)
	defer b.Close()
	must(t, a.AddDomain(ctx, sealpost.Domain{Name: "demo.example", DefaultRegion: "ie"}))
	must(t, a.AddHome(ctx, sealpost.Home{Address: "alice@demo.example", Region: "ie"}))
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
