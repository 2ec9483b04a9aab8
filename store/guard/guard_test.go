package guard_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/directory"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/store/guard"
	"github.com/sealpost/sealpost/store/sqlite"
	"github.com/sealpost/sealpost/store/storetest"
)

var ctx = context.Background()

// homing is what a deployment does around a region's guarded store: the
// router writes the directory before it creates a domain or an account,
// and the mover records a move into the region before it imports an
// account. The conformance suite runs through it, so each of its calls
// reaches the guard as it would in a deployment, for accounts the real
// directory homes in the guard's region.
type homing struct {
	*guard.Store
	dir    *directory.Dir
	region sealpost.RegionID
}

func (h homing) AddDomain(ctx context.Context, domain string) error {
	if err := h.Store.AddDomain(ctx, domain); err != nil {
		return err
	}
	err := h.dir.AddDomain(ctx, sealpost.Domain{Name: domain, DefaultRegion: h.region})
	if errors.Is(errors.Exist, err) {
		return nil
	}
	return err
}

// CreateAccount homes the address here first, as the router does; an
// address the directory refuses (an unhosted domain) is left to the guard
// to refuse.
func (h homing) CreateAccount(ctx context.Context, acct sealpost.Account, key sealpost.Key) (sealpost.Account, error) {
	err := h.dir.AddHome(ctx, sealpost.Home{Address: acct.Address, Region: h.region})
	if err != nil && !errors.Is(errors.Exist, err) && !errors.Is(errors.NotExist, err) {
		return sealpost.Account{}, err
	}
	return h.Store.CreateAccount(ctx, acct, key)
}

// ImportAccount brings the account in as a move from another region: the
// directory records the move, the guard imports, the move switches and
// ends. A refused import is abandoned and the directory put back as it
// was. An address the directory cannot record a move for (malformed, or
// in a domain not hosted) gets the directory's error, as a mover would.
func (h homing) ImportAccount(ctx context.Context, img sealpost.AccountImage) (sealpost.Account, error) {
	addr := img.Account.Address
	prev, err := h.dir.Home(ctx, addr)
	if err != nil && !errors.Is(errors.NotExist, err) {
		return sealpost.Account{}, err
	}
	const away = "elsewhere"
	if prev != "" {
		if err := h.dir.RemoveHome(ctx, addr); err != nil {
			return sealpost.Account{}, err
		}
	}
	if err := h.dir.AddHome(ctx, sealpost.Home{Address: addr, Region: away}); err != nil {
		return sealpost.Account{}, err
	}
	if err := h.dir.StartMove(ctx, sealpost.Move{Address: addr, From: away, To: h.region}); err != nil {
		return sealpost.Account{}, err
	}
	a, err := h.Store.ImportAccount(ctx, img)
	if err != nil {
		h.dir.AbandonMove(ctx, addr)
		h.dir.RemoveHome(ctx, addr)
		if prev != "" {
			h.dir.AddHome(ctx, sealpost.Home{Address: addr, Region: prev})
		}
		return a, err
	}
	if err := h.dir.SwitchMove(ctx, addr); err != nil {
		return a, err
	}
	return a, h.dir.FinishMove(ctx, addr)
}

// The one store conformance suite, through the guard, for accounts homed
// in its region. The stores a subtest opens (two for those that move an
// account) share one directory, as the regions of a deployment do.
func TestConformance(t *testing.T) {
	var mu sync.Mutex
	dirs := map[*testing.T]*directory.Dir{}
	storetest.Run(t, storetest.Harness{Open: func(t *testing.T) sealpost.Store {
		mu.Lock()
		dir := dirs[t]
		if dir == nil {
			dir = openDir(t)
			dirs[t] = dir
		}
		mu.Unlock()
		g, err := guard.New(ctx, openInner(t), "ie", dir)
		if err != nil {
			t.Fatal(err)
		}
		return homing{Store: g, dir: dir, region: "ie"}
	}})
}

func openDir(t *testing.T) *directory.Dir {
	t.Helper()
	dir, err := directory.Open(filepath.Join(t.TempDir(), "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	return dir
}

func openInner(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// deployment is two regions over one directory: ie homes alice, us homes
// bob, each region's store behind its guard.
type deployment struct {
	dir    *directory.Dir
	clock  *testkit.Clock
	inner  map[sealpost.RegionID]*sqlite.Store
	guards map[sealpost.RegionID]*guard.Store
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	d := &deployment{dir: openDir(t), clock: testkit.NewClock(time.Now()),
		inner: map[sealpost.RegionID]*sqlite.Store{}, guards: map[sealpost.RegionID]*guard.Store{}}
	testkit.Must(t, d.dir.AddDomain(ctx, sealpost.Domain{Name: "demo.example", DefaultRegion: "ie"}))
	for _, r := range []sealpost.RegionID{"ie", "us"} {
		d.inner[r] = openInner(t)
		g, err := guard.New(ctx, d.inner[r], r, d.dir, guard.WithClock(d.clock.Now))
		testkit.Must(t, err)
		testkit.Must(t, g.AddDomain(ctx, "demo.example"))
		d.guards[r] = g
	}
	for addr, r := range map[string]sealpost.RegionID{"alice@demo.example": "ie", "bob@demo.example": "us"} {
		testkit.Must(t, d.dir.AddHome(ctx, sealpost.Home{Address: addr, Region: r}))
		_, err := d.guards[r].CreateAccount(ctx, sealpost.Account{Address: addr}, key())
		testkit.Must(t, err)
	}
	return d
}

func key() sealpost.Key {
	return sealpost.Key{PublicKey: []byte("public"), WrappedByPassword: []byte("wrapped"), Active: true}
}

// The guard refuses every operation for an account homed elsewhere, by
// address and by ID, with a WrongRegion error.
func TestRefusesForeignAccounts(t *testing.T) {
	d := newDeployment(t)
	ie, us := d.guards["ie"], d.guards["us"]

	_, err := ie.Account(ctx, "bob@demo.example")
	testkit.WantKind(t, "ie.Account(bob)", err, errors.WrongRegion)
	_, err = us.Account(ctx, "alice@demo.example")
	testkit.WantKind(t, "us.Account(alice)", err, errors.WrongRegion)
	_, err = ie.ExportAccount(ctx, "bob@demo.example")
	testkit.WantKind(t, "ie.Export(bob)", err, errors.WrongRegion)

	// Creating an account the directory does not home, or homes elsewhere.
	_, err = ie.CreateAccount(ctx, sealpost.Account{Address: "carol@demo.example"}, key())
	testkit.WantKind(t, "create without a directory entry", err, errors.NotExist)
	testkit.Must(t, d.dir.AddHome(ctx, sealpost.Home{Address: "carol@demo.example", Region: "us"}))
	_, err = ie.CreateAccount(ctx, sealpost.Account{Address: "carol@demo.example"}, key())
	testkit.WantKind(t, "create in the wrong region", err, errors.WrongRegion)

	// IDs: bob's account and mailbox IDs in us are unknown to ie's guard
	// (they may even collide with ie's own IDs, so use some ie never
	// handed out).
	bob, err := us.Account(ctx, "bob@demo.example")
	testkit.Must(t, err)
	mbs, err := us.Mailboxes(ctx, bob.ID)
	testkit.Must(t, err)
	for _, id := range []sealpost.AccountID{bob.ID + 100, 999} {
		_, err = ie.Mailboxes(ctx, id)
		testkit.WantKind(t, "ie.Mailboxes(unvouched id)", err, errors.WrongRegion)
		_, err = ie.Keys(ctx, id)
		testkit.WantKind(t, "ie.Keys(unvouched id)", err, errors.WrongRegion)
		_, err = ie.DeleteAccount(ctx, id)
		testkit.WantKind(t, "ie.DeleteAccount(unvouched id)", err, errors.WrongRegion)
		_, err = ie.CreateMailbox(ctx, id, "x", sealpost.UseNone, 0)
		testkit.WantKind(t, "ie.CreateMailbox(unvouched id)", err, errors.WrongRegion)
	}
	other := mbs[0].ID + 1000
	_, err = ie.Messages(ctx, other, 0)
	testkit.WantKind(t, "ie.Messages(unvouched mailbox)", err, errors.WrongRegion)
	_, err = ie.AddMessages(ctx, []sealpost.NewMessage{{Mailbox: other, Size: 1, Blob: "x", InternalDate: time.Now()}})
	testkit.WantKind(t, "ie.AddMessages(unvouched mailbox)", err, errors.WrongRegion)
	_, err = ie.SetFlags(ctx, other, []sealpost.UID{1}, sealpost.FlagsAdd, []sealpost.Flag{sealpost.FlagSeen})
	testkit.WantKind(t, "ie.SetFlags(unvouched mailbox)", err, errors.WrongRegion)
	_, err = ie.Expunge(ctx, other, []sealpost.UID{1})
	testkit.WantKind(t, "ie.Expunge(unvouched mailbox)", err, errors.WrongRegion)
	err = ie.RenameMailbox(ctx, other, "y")
	testkit.WantKind(t, "ie.RenameMailbox(unvouched mailbox)", err, errors.WrongRegion)
	_, err = ie.DeleteMailbox(ctx, other)
	testkit.WantKind(t, "ie.DeleteMailbox(unvouched mailbox)", err, errors.WrongRegion)
	_, err = ie.ImportAccount(ctx, sealpost.AccountImage{Account: bob})
	testkit.WantKind(t, "ie.Import(bob) without a move", err, errors.WrongRegion)

	// Accounts lists only those homed here.
	accts, err := ie.Accounts(ctx)
	testkit.Must(t, err)
	if len(accts) != 1 || accts[0].Address != "alice@demo.example" {
		t.Errorf("ie.Accounts = %v", accts)
	}

	// A store claimed by one region cannot be opened as another.
	_, err = guard.New(ctx, d.inner["ie"], "us", d.dir)
	testkit.WantKind(t, "claiming ie's store for us", err, errors.WrongRegion)
}

// When the directory moves an account away, the guard stops serving IDs it
// had vouched for once it re-checks.
func TestRechecksVouchedIDs(t *testing.T) {
	d := newDeployment(t)
	ie := d.guards["ie"]
	alice, err := ie.Account(ctx, "alice@demo.example")
	testkit.Must(t, err)
	_, err = ie.Mailboxes(ctx, alice.ID)
	testkit.Must(t, err)

	// A move is recorded: by address the mailbox is frozen at once
	// (Unavailable); a vouched ID keeps working until the re-check.
	testkit.Must(t, d.dir.StartMove(ctx, sealpost.Move{Address: "alice@demo.example", From: "ie", To: "us"}))
	_, err = ie.Account(ctx, "alice@demo.example")
	testkit.WantKind(t, "Account during a move", err, errors.Unavailable)
	_, err = ie.Mailboxes(ctx, alice.ID)
	testkit.Must(t, err)
	d.clock.Add(guard.Recheck)
	_, err = ie.Mailboxes(ctx, alice.ID)
	testkit.WantKind(t, "Mailboxes after the re-check during a move", err, errors.Unavailable)

	// Once switched, the source refuses the ID for good.
	testkit.Must(t, d.dir.SwitchMove(ctx, "alice@demo.example"))
	d.clock.Add(guard.Recheck)
	_, err = ie.Keys(ctx, alice.ID)
	testkit.WantKind(t, "Keys on the source after the switch", err, errors.WrongRegion)
	_, err = ie.Mailboxes(ctx, alice.ID)
	testkit.WantKind(t, "Mailboxes on the source after the switch", err, errors.WrongRegion)
}
