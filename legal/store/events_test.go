package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// wantEvent is what a test expects of an event: its kind (as stored, so
// the tests below spell out each kind's string), account, actor, and some
// of its detail.
type wantEvent struct {
	kind           sealpost.EventKind
	account, actor string
	detail         map[string]string
}

// TestEvents runs every kind of mutation, each followed by a refused one,
// and checks that each success wrote exactly its events, in order, and each
// refusal none.
func TestEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	var seq int64
	check := func(step string, want ...wantEvent) {
		t.Helper()
		evs, err := s.Events(ctx, seq, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != len(want) {
			t.Fatalf("%s: %d events %+v, want %d", step, len(evs), evs, len(want))
		}
		for i, e := range evs {
			w := want[i]
			if e.Seq <= seq {
				t.Errorf("%s: event %d after %d", step, e.Seq, seq)
			}
			seq = e.Seq
			if e.Kind != w.kind || e.Account != w.account || e.Actor != w.actor || e.Time.IsZero() {
				t.Errorf("%s: event %d is %s/%q/%q at %v, want %s/%q/%q", step, i, e.Kind, e.Account, e.Actor, e.Time, w.kind, w.account, w.actor)
			}
			for k, v := range w.detail {
				if e.Detail[k] != v {
					t.Errorf("%s: event %s detail %s = %q, want %q (detail %v)", step, e.Kind, k, e.Detail[k], v, e.Detail)
				}
			}
		}
	}
	refused := func(step string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: not refused", step)
		}
		check(step + " (refused)")
	}

	if err := s.AddOfficer(ctx, "olivia", "pw1"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddOfficer(ctx, "oscar", "pw2"); err != nil {
		t.Fatal(err)
	}
	check("officers", wantEvent{"officer.added", "", ActorAdmin, map[string]string{"officer": "olivia"}},
		wantEvent{"officer.added", "", ActorAdmin, map[string]string{"officer": "oscar"}})
	refused("officer again", s.AddOfficer(ctx, "olivia", "pw"))

	d := file(t, s, "SW-1")
	base := map[string]string{"demand": d.ID, "instrument": "search_warrant", "country": "US", "nondisclosure_until": "2026-09-01"}
	with := func(kv ...string) map[string]string {
		m := make(map[string]string)
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	check("file",
		wantEvent{"demand.filed", "", "clerk", with("state", "received", "targets", "2", "documents", "1", "categories", "subscriber,content", "received", "2026-02-27")},
		wantEvent{"demand.decided", "alice@demo.example", ActorPolicy, with("decision", "reject_out_of_jurisdiction", "route", "MLAT request to Ireland", "preserve", "true", "policy_version", "2026-1")},
		wantEvent{"demand.decided", "bob@demo.example", ActorPolicy, with("decision", "eligible", "yields", "ciphertext_only", "category_decisions", "content:eligible")})
	dd, docs := sample(t, "sw-1")
	_, err := s.File(ctx, dd, docs, decisions(), "clerk", t0)
	refused("file duplicate", err)

	tr := legal.Transition{From: legal.Received, To: legal.InReview, Actor: "olivia", At: t0.Add(time.Hour), Note: "private note"}
	if err := s.AddTransition(ctx, d.ID, tr); err != nil {
		t.Fatal(err)
	}
	check("transition", wantEvent{"demand.transition", "", "olivia", with("from", "received", "to", "in_review")})
	refused("stale transition", s.AddTransition(ctx, d.ID, tr))

	if err := s.AddApproval(ctx, d.ID, Approval{Officer: "olivia", At: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddApproval(ctx, d.ID, Approval{Officer: "oscar", At: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	check("approvals", wantEvent{"demand.approval", "", "olivia", with("approvals", "1", "state", "in_review")},
		wantEvent{"demand.approval", "", "oscar", with("approvals", "2")})
	refused("approval again", s.AddApproval(ctx, d.ID, Approval{Officer: "oscar", At: t0}))

	m := hexSum([]byte("manifest"))
	if err := s.AddDisclosure(ctx, d.ID, m, []string{"olivia", "oscar"}, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("disclosure", wantEvent{"demand.disclosure", "", "olivia,oscar", with("manifest_sha256", m, "officers", "olivia,oscar")})
	refused("disclosure by a stranger", s.AddDisclosure(ctx, d.ID, m, []string{"olivia", "mallory"}, t0))

	if err := s.PlaceHold(ctx, d.ID, "alice@demo.example", "olivia", t0); err != nil {
		t.Fatal(err)
	}
	check("hold", wantEvent{"hold.placed", "alice@demo.example", "olivia", base})
	refused("hold again", s.PlaceHold(ctx, d.ID, "alice@demo.example", "olivia", t0))
	if err := s.ReleaseHold(ctx, d.ID, "alice@demo.example", "oscar", t0); err != nil {
		t.Fatal(err)
	}
	check("release", wantEvent{"hold.released", "alice@demo.example", "oscar", base})
	refused("release again", s.ReleaseHold(ctx, d.ID, "alice@demo.example", "oscar", t0))

	n, err := s.AddNotice(ctx, Notice{DemandID: d.ID, Address: "alice@demo.example", Queued: t0, Due: t0, Text: "secret text"})
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(n.ID, 10)
	check("notice", wantEvent{"notice.queued", "alice@demo.example", ActorSystem, with("notice", id, "due", t0.Format(time.RFC3339))})
	_, err = s.AddNotice(ctx, Notice{DemandID: d.ID, Address: "eve@demo.example", Due: t0, Text: "x"})
	refused("notice to a stranger", err)
	if err := s.MarkNoticeSent(ctx, n.ID, t0); err != nil {
		t.Fatal(err)
	}
	check("sent", wantEvent{"notice.sent", "alice@demo.example", ActorSystem, with("notice", id)})
	refused("sent again", s.MarkNoticeSent(ctx, n.ID, t0))

	// Nothing secret leaks into the outbox.
	all, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		for k, v := range e.Detail {
			for _, secret := range []string{"pw1", "pw2", "secret text", "private note", "the signed order"} {
				if strings.Contains(v, secret) {
					t.Errorf("event %s detail %s holds %q", e.Kind, k, secret)
				}
			}
		}
	}
	// Events pages by limit.
	page, err := s.Events(ctx, all[2].Seq, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 || page[0].Seq != all[3].Seq || page[2].Seq != all[5].Seq {
		t.Errorf("page after %d: %+v", all[2].Seq, page)
	}
}

// flaky is a Recorder that keeps what it records and fails once it holds
// failAt events.
type flaky struct {
	got    []sealpost.Event
	failAt int
}

func (f *flaky) Record(ctx context.Context, e sealpost.Event) error {
	if f.failAt > 0 && len(f.got) >= f.failAt {
		return errors.Str("log unavailable")
	}
	f.got = append(f.got, e)
	return nil
}

func TestForward(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	// Enough events to span more than one batch.
	for i := range forwardBatch/3 + 1 {
		file(t, s, "SW-"+strconv.Itoa(i)) // 3 events each
	}
	all, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) <= forwardBatch {
		t.Fatalf("only %d events", len(all))
	}

	r := &flaky{failAt: 100}
	last, err := s.Forward(ctx, r, 0)
	if err == nil || errors.KindOf(err) != errors.Unavailable {
		t.Fatalf("Forward to a failing recorder: %v", err)
	}
	if last != all[99].Seq || len(r.got) != 100 {
		t.Fatalf("after failure: last %d, recorded %d; want %d, 100", last, len(r.got), all[99].Seq)
	}
	// Resume from where it stopped: the rest arrives once, in order.
	r.failAt = 0
	last, err = s.Forward(ctx, r, last)
	if err != nil {
		t.Fatal(err)
	}
	if last != all[len(all)-1].Seq {
		t.Errorf("last %d, want %d", last, all[len(all)-1].Seq)
	}
	var want []sealpost.Event
	for _, e := range all {
		want = append(want, e.Event)
	}
	if !reflect.DeepEqual(r.got, want) {
		t.Errorf("recorded %d events, not the %d in order", len(r.got), len(want))
	}
	// Nothing new: Forward returns its argument.
	if again, err := s.Forward(ctx, r, last); err != nil || again != last || len(r.got) != len(all) {
		t.Errorf("Forward with nothing new: %d %v, %d recorded", again, err, len(r.got))
	}
	// A new change is forwarded next time.
	if err := s.AddOfficer(ctx, "olivia", "pw"); err != nil {
		t.Fatal(err)
	}
	if next, err := s.Forward(ctx, r, last); err != nil || next <= last || r.got[len(r.got)-1].Kind != sealpost.EventOfficerAdded {
		t.Errorf("Forward after a change: %d %v", next, err)
	}
}

// TestOutboxAtomic makes the outbox refuse an event (a trigger aborts its
// insert) and checks that the change it records is rolled back with it:
// no change without its event.
func TestOutboxAtomic(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	d := file(t, s, "SW-0")
	if err := s.AddOfficer(ctx, "olivia", "pw"); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "legal.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, kind := range []string{"demand.decided", "demand.transition", "demand.approval", "hold.placed", "notice.queued"} {
		if _, err := db.Exec(`CREATE TRIGGER "refuse ` + kind + `" BEFORE INSERT ON events WHEN NEW.kind = '` + kind + `'
			BEGIN SELECT RAISE(ABORT, 'outbox refused'); END`); err != nil {
			t.Fatal(err)
		}
	}
	before := countRows(t, dir)

	dd, docs := sample(t, "SW-1", "warrant.pdf")
	_, err = s.File(ctx, dd, docs, decisions(), "clerk", t0) // demand.filed goes in, then demand.decided fails
	if err == nil {
		t.Error("File succeeded")
	}
	if err := s.AddTransition(ctx, d.ID, legal.Transition{From: legal.Received, To: legal.InReview, Actor: "olivia", At: t0}); err == nil {
		t.Error("AddTransition succeeded")
	}
	if err := s.AddApproval(ctx, d.ID, Approval{Officer: "olivia", At: t0}); err == nil {
		t.Error("AddApproval succeeded")
	}
	if err := s.PlaceHold(ctx, d.ID, "alice@demo.example", "olivia", t0); err == nil {
		t.Error("PlaceHold succeeded")
	}
	if _, err := s.AddNotice(ctx, Notice{DemandID: d.ID, Address: "alice@demo.example", Due: t0, Text: "x"}); err == nil {
		t.Error("AddNotice succeeded")
	}
	if got := countRows(t, dir); !reflect.DeepEqual(got, before) {
		t.Errorf("rows %v, want %v", got, before)
	}
	rec, err := s.Demand(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != legal.Received {
		t.Errorf("state %s after a refused transition", rec.State)
	}
}
