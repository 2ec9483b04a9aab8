package store

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

func TestTransitions(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	d := file(t, s, "SW-1")
	steps := []legal.Transition{
		{From: legal.Received, To: legal.InReview, Actor: "olivia", At: t0.Add(time.Hour), Note: "opened"},
		{From: legal.InReview, To: legal.Challenged, Actor: "oscar", At: t0.Add(2 * time.Hour)},
	}
	for _, tr := range steps {
		if err := s.AddTransition(ctx, d.ID, tr); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := s.Demand(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != legal.Challenged || !reflect.DeepEqual(rec.Transitions, steps) {
		t.Errorf("state %s transitions %+v", rec.State, rec.Transitions)
	}

	for _, tc := range []struct {
		name string
		id   string
		tr   legal.Transition
		want errors.Kind
	}{
		{"stale from", d.ID, legal.Transition{From: legal.InReview, To: legal.Approved, Actor: "olivia", At: t0}, errors.Exist},
		{"no such demand", "D-2026-000009", legal.Transition{From: legal.Received, To: legal.InReview, Actor: "olivia", At: t0}, errors.NotExist},
		{"no actor", d.ID, legal.Transition{From: legal.Challenged, To: legal.Stayed, At: t0}, errors.Invalid},
		{"no to", d.ID, legal.Transition{From: legal.Challenged, Actor: "olivia", At: t0}, errors.Invalid},
		{"no time", d.ID, legal.Transition{From: legal.Challenged, To: legal.Stayed, Actor: "olivia"}, errors.Invalid},
	} {
		err := s.AddTransition(ctx, tc.id, tc.tr)
		if !errors.Is(tc.want, err) {
			t.Errorf("%s: got %v, want kind %v", tc.name, err, tc.want)
		}
	}
	if rec2, _ := s.Demand(ctx, d.ID); len(rec2.Transitions) != 2 || rec2.State != legal.Challenged {
		t.Errorf("refused transitions changed the record: %+v", rec2)
	}
}

// TestTransitionRace has several officers move the same demand from the
// same state at once: exactly one succeeds, the others get Exist.
func TestTransitionRace(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	d := file(t, s, "SW-1")
	targets := []legal.State{legal.InReview, legal.Rejected, legal.Closed, legal.Challenged}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, to := range targets {
		wg.Go(func() {
			errs[i] = s.AddTransition(ctx, d.ID, legal.Transition{From: legal.Received, To: to, Actor: "officer", At: t0})
		})
	}
	wg.Wait()
	var won legal.State
	for i, err := range errs {
		switch {
		case err == nil:
			if won != "" {
				t.Fatalf("two transitions from received succeeded: %s and %s", won, targets[i])
			}
			won = targets[i]
		case !errors.Is(errors.Exist, err):
			t.Errorf("loser got %v, want Exist", err)
		}
	}
	rec, err := s.Demand(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if won == "" || rec.State != won || len(rec.Transitions) != 1 || rec.Transitions[0].To != won {
		t.Errorf("winner %q, record state %s transitions %+v", won, rec.State, rec.Transitions)
	}
}

func TestApprovalsAndDisclosures(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	d := file(t, s, "SW-1")
	for _, o := range []string{"olivia", "oscar"} {
		if err := s.AddOfficer(ctx, o, "pw-"+o); err != nil {
			t.Fatal(err)
		}
	}
	a1 := Approval{Officer: "olivia", At: t0.Add(time.Hour), Note: "lawful"}
	if err := s.AddApproval(ctx, d.ID, a1); err != nil {
		t.Fatal(err)
	}
	err := s.AddApproval(ctx, d.ID, Approval{Officer: "olivia", At: t0.Add(2 * time.Hour)})
	wantKind(t, err, errors.Exist)
	err = s.AddApproval(ctx, d.ID, Approval{Officer: "mallory", At: t0})
	wantKind(t, err, errors.NotExist)
	err = s.AddApproval(ctx, "D-2026-000009", Approval{Officer: "oscar", At: t0})
	wantKind(t, err, errors.NotExist)
	err = s.AddApproval(ctx, d.ID, Approval{Officer: "oscar"})
	wantKind(t, err, errors.Invalid)
	a2 := Approval{Officer: "oscar", At: t0.Add(3 * time.Hour)}
	if err := s.AddApproval(ctx, d.ID, a2); err != nil {
		t.Fatal(err)
	}

	manifest := hexSum([]byte("manifest"))
	for _, tc := range []struct {
		name     string
		manifest string
		by       []string
		want     errors.Kind
	}{
		{"bad sha256", "abc", []string{"olivia"}, errors.Invalid},
		{"upper-case sha256", strings.ToUpper(manifest), []string{"olivia"}, errors.Invalid},
		{"nobody", manifest, nil, errors.Invalid},
		{"officer twice", manifest, []string{"olivia", "olivia"}, errors.Invalid},
		{"not an officer", manifest, []string{"olivia", "mallory"}, errors.NotExist},
	} {
		err := s.AddDisclosure(ctx, d.ID, tc.manifest, tc.by, t0)
		if !errors.Is(tc.want, err) {
			t.Errorf("%s: got %v, want kind %v", tc.name, err, tc.want)
		}
	}
	err = s.AddDisclosure(ctx, "D-2026-000009", manifest, []string{"olivia"}, t0)
	wantKind(t, err, errors.NotExist)
	at := t0.Add(4 * time.Hour)
	if err := s.AddDisclosure(ctx, d.ID, manifest, []string{"oscar", "olivia"}, at); err != nil {
		t.Fatal(err)
	}

	rec, err := s.Demand(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec.Approvals, []Approval{a1, a2}) {
		t.Errorf("approvals %+v", rec.Approvals)
	}
	want := []Disclosure{{ID: rec.Disclosures[0].ID, ManifestSHA256: manifest, By: []string{"olivia", "oscar"}, At: at}}
	if !reflect.DeepEqual(rec.Disclosures, want) {
		t.Errorf("disclosures %+v, want %+v", rec.Disclosures, want)
	}
}

func TestHolds(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	d1 := file(t, s, "SW-1")
	d2 := file(t, s, "SW-2")

	if err := s.PlaceHold(ctx, d1.ID, "ALICE@demo.example", "olivia", t0); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.PlaceHold(ctx, d1.ID, "alice@demo.example", "olivia", t0), errors.Exist)
	wantKind(t, s.PlaceHold(ctx, d1.ID, "eve@demo.example", "olivia", t0), errors.Invalid)
	wantKind(t, s.PlaceHold(ctx, "D-2026-000009", "alice@demo.example", "olivia", t0), errors.NotExist)
	wantKind(t, s.PlaceHold(ctx, d1.ID, "bob@demo.example", "", t0), errors.Invalid)
	if err := s.PlaceHold(ctx, d2.ID, "alice@demo.example", "olivia", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.PlaceHold(ctx, d2.ID, "bob@demo.example", "olivia", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	held, err := s.HeldAddresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(held, map[string]bool{"alice@demo.example": true, "bob@demo.example": true}) {
		t.Errorf("held %v", held)
	}

	// Releasing one of alice's two holds keeps her held.
	if err := s.ReleaseHold(ctx, d1.ID, "alice@demo.example", "oscar", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.ReleaseHold(ctx, d1.ID, "alice@demo.example", "oscar", t0.Add(time.Hour)), errors.NotExist)
	if err := s.ReleaseHold(ctx, d2.ID, "bob@demo.example", "oscar", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	held, err = s.HeldAddresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(held, map[string]bool{"alice@demo.example": true}) {
		t.Errorf("held after releases %v", held)
	}
	active, err := s.ActiveHolds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || active[0].DemandID != d2.ID || active[0].Address != "alice@demo.example" || active[0].Released != nil {
		t.Errorf("active holds %+v", active)
	}

	// A released hold may be placed again; the record keeps both.
	if err := s.PlaceHold(ctx, d1.ID, "alice@demo.example", "olivia", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Demand(ctx, d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Holds) != 2 || rec.Holds[0].Released == nil || !rec.Holds[0].Released.Equal(t0.Add(time.Hour)) ||
		rec.Holds[0].ReleasedBy != "oscar" || rec.Holds[1].Released != nil || rec.Holds[1].PlacedBy != "olivia" {
		t.Errorf("record holds %+v", rec.Holds)
	}
}

func TestNotices(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	d := file(t, s, "SW-1")
	gagEnd := t0.AddDate(0, 6, 0)

	alice, err := s.AddNotice(ctx, Notice{DemandID: d.ID, Address: "Alice@demo.example", Queued: t0, Due: gagEnd, Text: "A US search warrant named you."})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.AddNotice(ctx, Notice{DemandID: d.ID, Address: "bob@demo.example", Queued: t0, Due: t0, Text: "A US search warrant named you."})
	if err != nil {
		t.Fatal(err)
	}
	if alice.ID == 0 || alice.ID == bob.ID || alice.Address != "alice@demo.example" {
		t.Errorf("notices %+v %+v", alice, bob)
	}
	for _, tc := range []struct {
		name string
		n    Notice
		want errors.Kind
	}{
		{"not a target", Notice{DemandID: d.ID, Address: "eve@demo.example", Due: t0, Text: "x"}, errors.Invalid},
		{"no demand", Notice{DemandID: "D-2026-000009", Address: "bob@demo.example", Due: t0, Text: "x"}, errors.NotExist},
		{"no text", Notice{DemandID: d.ID, Address: "bob@demo.example", Due: t0}, errors.Invalid},
		{"no due", Notice{DemandID: d.ID, Address: "bob@demo.example", Text: "x"}, errors.Invalid},
		{"already sent", Notice{DemandID: d.ID, Address: "bob@demo.example", Due: t0, Text: "x", Sent: &t0}, errors.Invalid},
	} {
		_, err := s.AddNotice(ctx, tc.n)
		if !errors.Is(tc.want, err) {
			t.Errorf("%s: got %v, want kind %v", tc.name, err, tc.want)
		}
	}

	due := func(now time.Time) []int64 {
		t.Helper()
		ns, err := s.DueNotices(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, n := range ns {
			ids = append(ids, n.ID)
		}
		return ids
	}
	if got := due(t0.Add(time.Hour)); !reflect.DeepEqual(got, []int64{bob.ID}) {
		t.Errorf("due during the gag: %v, want bob's %d", got, bob.ID)
	}
	// Nothing is shown to alice while her notice is unsent.
	if ns, err := s.NoticesFor(ctx, "alice@demo.example"); err != nil || len(ns) != 0 {
		t.Errorf("alice sees %+v, %v during the gag", ns, err)
	}
	sent := t0.Add(time.Hour)
	if err := s.MarkNoticeSent(ctx, bob.ID, sent); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.MarkNoticeSent(ctx, bob.ID, sent), errors.Exist)
	wantKind(t, s.MarkNoticeSent(ctx, 9999, sent), errors.NotExist)
	if got := due(t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("due after sending bob's: %v", got)
	}
	if got := due(gagEnd); !reflect.DeepEqual(got, []int64{alice.ID}) {
		t.Errorf("due when the gag lapses: %v, want alice's %d", got, alice.ID)
	}
	ns, err := s.NoticesFor(ctx, "BOB@demo.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].ID != bob.ID || ns[0].Sent == nil || !ns[0].Sent.Equal(sent) || ns[0].Text != bob.Text {
		t.Errorf("bob's notices %+v", ns)
	}
	rec, err := s.Demand(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Notices) != 2 || rec.Notices[0].ID != alice.ID || rec.Notices[0].Sent != nil || rec.Notices[1].Sent == nil {
		t.Errorf("record notices %+v", rec.Notices)
	}
}
