package region_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/directory"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/store/guard"
	"github.com/sealpost/sealpost/store/sqlite"
)

// world is a deployment of two regions in one process, as the demo runs:
// ie holds alice, us holds bob, each on its own SQLite store and pack.
type world struct {
	dir     *directory.Dir
	regions map[sealpost.RegionID]*regionEnv
	router  *region.Router
}

type regionEnv struct {
	id    sealpost.RegionID
	inner *sqlite.Store
	guard *guard.Store
	blobs *pack.Store
	svc   *postbox.Service
}

func (r *regionEnv) end() region.End {
	return region.End{Region: r.id, Store: r.guard, Blobs: r.blobs}
}

func (r *regionEnv) rawEnd() region.End {
	return region.End{Region: r.id, Store: r.inner, Blobs: r.blobs}
}

func newWorld(t *testing.T, opts ...func(*postbox.Options)) *world {
	t.Helper()
	ctx := context.Background()
	base := t.TempDir()
	dir, err := directory.Open(filepath.Join(base, "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	w := &world{dir: dir, regions: map[sealpost.RegionID]*regionEnv{}}
	local := map[sealpost.RegionID]*postbox.Service{}
	for _, id := range []sealpost.RegionID{"ie", "us"} {
		w.regions[id] = openRegion(t, base, id, dir, opts...)
		local[id] = w.regions[id].svc
	}
	w.router = region.NewRouter(dir, local, nil, 1<<20)
	testkit.Must(t, w.router.AddDomain(ctx, "demo.example", "ie"))
	for addr, id := range map[string]sealpost.RegionID{"alice@demo.example": "ie", "bob@demo.example": "us"} {
		if _, _, err := w.router.CreateAccount(ctx, addr, addr+"-pass", id); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func openRegion(t *testing.T, base string, id sealpost.RegionID, dir sealpost.Directory, opts ...func(*postbox.Options)) *regionEnv {
	t.Helper()
	folder := filepath.Join(base, string(id))
	inner, err := sqlite.Open(filepath.Join(base, string(id)+".db"))
	if err != nil {
		t.Fatal(err)
	}
	guarded, err := guard.New(context.Background(), inner, id, dir)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := pack.Open(folder)
	if err != nil {
		t.Fatal(err)
	}
	o := postbox.Options{Params: pwhash.TestParams}
	for _, f := range opts {
		f(&o)
	}
	svc := postbox.New(guarded, blobs, o)
	t.Cleanup(func() { svc.Close(); blobs.Close(); inner.Close() })
	return &regionEnv{id: id, inner: inner, guard: guarded, blobs: blobs, svc: svc}
}

func deliver(t *testing.T, w *world, rcpts []string, body string) {
	t.Helper()
	raw := []byte("From: x@example.org\r\nSubject: test\r\n\r\n" + body + "\r\n")
	testkit.Must(t, w.router.Deliver(context.Background(), postbox.Envelope{From: "x@example.org", Recipients: rcpts}, postbox.Bytes(raw)))
}

// bodies logs in and returns the bodies in the account's INBOX, with the
// mailbox's UIDVALIDITY and UIDs.
func bodies(t *testing.T, w *world, addr string) (uint32, []sealpost.UID, []string) {
	t.Helper()
	return mailboxBodies(t, w, addr, "INBOX")
}

// mailboxBodies is bodies for any mailbox.
func mailboxBodies(t *testing.T, w *world, addr, mailbox string) (uint32, []sealpost.UID, []string) {
	t.Helper()
	ctx := context.Background()
	sess, err := w.router.Login(ctx, addr, addr+"-pass")
	if err != nil {
		t.Fatalf("login %s: %v", addr, err)
	}
	defer sess.Close()
	mb, err := sess.Select(ctx, mailbox)
	testkit.Must(t, err)
	defer sess.Release(mb)
	var validity uint32
	var msgs []sealpost.Message
	mb.Read(func(info sealpost.Mailbox, m []sealpost.Message) {
		validity, msgs = info.UIDValidity, append(msgs, m...)
	})
	var uids []sealpost.UID
	var out []string
	for _, m := range msgs {
		b, err := sess.Body(ctx, m)
		if errors.Is(errors.Sealed, err) {
			// Sealed to a key generation this password no longer opens.
			b = []byte("\r\n\r\n<sealed>")
		} else {
			testkit.Must(t, err)
		}
		uids = append(uids, m.UID)
		out = append(out, string(b[bytes.Index(b, []byte("\r\n\r\n"))+4:]))
	}
	return validity, uids, out
}

func TestRouterDeliversToHomeRegion(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	deliver(t, w, []string{"alice@demo.example", "bob@demo.example"}, "to both")
	for addr, home := range map[string]sealpost.RegionID{"alice@demo.example": "ie", "bob@demo.example": "us"} {
		_, _, got := bodies(t, w, addr)
		if len(got) != 1 || got[0] != "to both\r\n" {
			t.Errorf("%s: inbox %q", addr, got)
		}
		// The data is in the home region's storage and nowhere else.
		for id, r := range w.regions {
			_, err := r.inner.ExportAccount(ctx, addr)
			if (id == home) != (err == nil) {
				t.Errorf("%s in region %s: %v", addr, id, err)
			}
		}
	}
	inv, err := w.regions["ie"].inner.Inventory(ctx)
	testkit.Must(t, err)
	if len(inv.Blobs) != 1 {
		t.Errorf("ie holds %d blobs, want 1 (alice's copy only)", len(inv.Blobs))
	}
	// A wrong password and an unknown address fail alike.
	_, err = w.router.Login(ctx, "alice@demo.example", "wrong")
	testkit.WantKind(t, "wrong password", err, errors.Permission)
	_, err = w.router.Login(ctx, "nobody@demo.example", "x")
	testkit.WantKind(t, "unknown account", err, errors.Permission)
	if ok, _ := w.router.IsHostedDomain(ctx, "demo.example"); !ok {
		t.Error("demo.example not hosted")
	}
}

// A quarantined message (Envelope.Junk) lands in each recipient's Junk
// mailbox in its home region, and in no INBOX.
func TestRouterDeliversJunk(t *testing.T) {
	w := newWorld(t)
	raw := []byte("From: x@example.org\r\nSubject: q\r\n\r\nquarantined\r\n")
	testkit.Must(t, w.router.Deliver(context.Background(),
		postbox.Envelope{From: "x@example.org", Recipients: []string{"alice@demo.example", "bob@demo.example"}, Junk: true}, postbox.Bytes(raw)))
	for _, addr := range []string{"alice@demo.example", "bob@demo.example"} {
		if _, _, got := mailboxBodies(t, w, addr, "Junk"); len(got) != 1 || got[0] != "quarantined\r\n" {
			t.Errorf("%s: Junk %q", addr, got)
		}
		if _, _, got := bodies(t, w, addr); len(got) != 0 {
			t.Errorf("%s: INBOX %q", addr, got)
		}
	}
}

func TestMoveKeepsMailAndUIDs(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		deliver(t, w, []string{"alice@demo.example"}, fmt.Sprintf("message %d", i))
	}
	validity, uids, before := bodies(t, w, "alice@demo.example")
	ie, us := w.regions["ie"], w.regions["us"]
	var meter countMeter
	m := &region.Mover{Dir: w.dir, From: ie.end(), To: us.end(), Meter: &meter}
	testkit.Must(t, m.Move(ctx, "alice@demo.example"))
	if meter.total != 5 || meter.items != 5 || meter.bytes == 0 {
		t.Errorf("the move's meter: total %d, %d blobs of %d bytes; want 5 blobs", meter.total, meter.items, meter.bytes)
	}

	if home, _ := w.dir.Home(ctx, "alice@demo.example"); home != "us" {
		t.Fatalf("home after move = %s", home)
	}
	v2, uids2, after := bodies(t, w, "alice@demo.example")
	if v2 != validity || fmt.Sprint(uids2) != fmt.Sprint(uids) || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after move: uidvalidity %d uids %v bodies %q; before %d %v %q", v2, uids2, after, validity, uids, before)
	}
	// Nothing of alice's is left in ie.
	var audited countMeter
	rep, err := region.AuditMetered(ctx, w.dir, []region.End{ie.rawEnd(), us.rawEnd()}, &audited)
	testkit.Must(t, err)
	if audited.items != 5 {
		t.Errorf("the audit counted %d blobs, want 5", audited.items)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("audit after move: %+v", rep.Findings)
	}
	if n := countBlobs(t, ie.blobs); n != 0 {
		t.Errorf("ie still holds %d blobs", n)
	}
	// New mail goes to us and continues the UIDs.
	deliver(t, w, []string{"alice@demo.example"}, "after the move")
	_, uids3, _ := bodies(t, w, "alice@demo.example")
	if len(uids3) != 6 || uids3[5] <= uids[4] {
		t.Errorf("UIDs after a new delivery: %v", uids3)
	}
	// Moving again to where it already lives is refused.
	testkit.WantKind(t, "move to its own home", m.Move(ctx, "alice@demo.example"), errors.Exist)
}

// countMeter is a region.Meter that counts.
type countMeter struct{ total, items, bytes int64 }

func (c *countMeter) SetTotal(n int64)   { c.total = n }
func (c *countMeter) Add(n, bytes int64) { c.items += n; c.bytes += bytes }

func countBlobs(t *testing.T, b sealpost.BlobStore) int {
	n := 0
	testkit.Must(t, b.List(context.Background(), func(sealpost.BlobRef) error { n++; return nil }))
	return n
}

// A move interrupted at any point completes when run again, and nothing is
// lost, duplicated or left behind.
func TestMoveResumesAfterCrashAtEveryPoint(t *testing.T) {
	points := []string{"started", "swept", "first-blob", "blobs-copied", "imported", "copied", "switched", "source-deleted", "cleaned"}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			for i := 0; i < 4; i++ {
				deliver(t, w, []string{"alice@demo.example"}, fmt.Sprintf("message %d", i))
			}
			validity, uids, before := bodies(t, w, "alice@demo.example")
			ie, us := w.regions["ie"], w.regions["us"]
			crashed := false
			m := &region.Mover{Dir: w.dir, From: ie.end(), To: us.end()}
			m.SetCrashHook(func(p string) {
				if p == point {
					crashed = true
					panic("crash")
				}
			})
			func() {
				defer func() { recover() }()
				m.Move(ctx, "alice@demo.example")
			}()
			if !crashed {
				t.Fatalf("never reached %s", point)
			}
			// The second run, as after a restart, completes.
			m2 := &region.Mover{Dir: w.dir, From: ie.end(), To: us.end()}
			testkit.Must(t, m2.Move(ctx, "alice@demo.example"))
			v2, uids2, after := bodies(t, w, "alice@demo.example")
			if v2 != validity || fmt.Sprint(uids2) != fmt.Sprint(uids) || fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("after resumed move: %d %v %q; before %d %v %q", v2, uids2, after, validity, uids, before)
			}
			rep, err := region.Audit(ctx, w.dir, []region.End{ie.rawEnd(), us.rawEnd()})
			testkit.Must(t, err)
			if len(rep.Findings) != 0 {
				t.Errorf("audit: %+v", rep.Findings)
			}
			if n := countBlobs(t, us.blobs); n != 4+0 {
				t.Errorf("us holds %d blobs, want 4 (alice's; bob has none)", n)
			}
		})
	}
}

// The audit names misplaced items: an account's rows in a region that is
// not its home, and a sealed blob no account of its region references.
func TestAuditFindsMisplacedData(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	deliver(t, w, []string{"alice@demo.example", "bob@demo.example"}, "hello")
	ie, us := w.regions["ie"], w.regions["us"]
	ends := []region.End{ie.rawEnd(), us.rawEnd()}
	rep, err := region.Audit(ctx, w.dir, ends)
	testkit.Must(t, err)
	if len(rep.Findings) != 0 {
		t.Fatalf("clean deployment: %+v", rep.Findings)
	}

	// Misplace alice's whole account (keys and mail rows) into us by hand,
	// behind the guard's back, with one of her sealed blobs.
	img, err := ie.inner.ExportAccount(ctx, "alice@demo.example")
	testkit.Must(t, err)
	inbox := -1
	for i, mb := range img.Mailboxes {
		if mb.Mailbox.Use == sealpost.UseInbox {
			inbox = i
		}
	}
	data, err := ie.blobs.Get(ctx, img.Mailboxes[inbox].Messages[0].Blob)
	testkit.Must(t, err)
	sealed := data.(interface{ Bytes() []byte }).Bytes()
	data.Close()
	ref, err := us.blobs.Put(ctx, sealed)
	testkit.Must(t, err)
	img.Mailboxes[inbox].Messages[0].Blob = ref
	_, err = us.inner.ImportAccount(ctx, img)
	testkit.Must(t, err)
	rep, err = region.Audit(ctx, w.dir, ends)
	testkit.Must(t, err)
	if len(rep.Findings) != 1 || rep.Findings[0].Region != "us" || rep.Findings[0].Item != "account alice@demo.example" {
		t.Errorf("misplaced account: findings %+v", rep.Findings)
	}

	// A stray sealed blob, referenced by nothing in ie.
	stray, err := ie.blobs.Put(ctx, sealed)
	testkit.Must(t, err)
	rep, err = region.Audit(ctx, w.dir, ends)
	testkit.Must(t, err)
	found := false
	for _, f := range rep.Findings {
		if f.Region == "ie" && f.Item == "blob "+string(stray) {
			found = true
		}
	}
	if !found || len(rep.Findings) != 2 {
		t.Errorf("stray blob %s not named: %+v", stray, rep.Findings)
	}
}

// IsHostedDomain caches "no" as it caches "yes", and adding the domain
// through the router forgets the cached "no" at once; a domain added
// behind its back (another process, on the same directory) is seen once
// the cached answer expires.
func TestIsHostedDomainCache(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	clock := testkit.NewClock(time.Now())
	local := map[sealpost.RegionID]*postbox.Service{"ie": w.regions["ie"].svc, "us": w.regions["us"].svc}
	w.router = region.NewRouter(w.dir, local, nil, 1<<20, region.WithClock(clock.Now))
	for _, d := range []string{"later.example", "behind.example"} {
		if ok, err := w.router.IsHostedDomain(ctx, d); ok || err != nil {
			t.Fatalf("%s hosted before it was added: %v, %v", d, ok, err)
		}
	}
	testkit.Must(t, w.router.AddDomain(ctx, "later.example", "ie"))
	if ok, _ := w.router.IsHostedDomain(ctx, "later.example"); !ok {
		t.Error("later.example not hosted right after AddDomain")
	}
	testkit.Must(t, w.dir.AddDomain(ctx, sealpost.Domain{Name: "behind.example", DefaultRegion: "ie"}))
	if ok, _ := w.router.IsHostedDomain(ctx, "behind.example"); ok {
		t.Error("the cached answer was not used")
	}
	clock.Add(6 * time.Second)
	if ok, _ := w.router.IsHostedDomain(ctx, "behind.example"); !ok {
		t.Error("behind.example not hosted after the cached answer expired")
	}
}
