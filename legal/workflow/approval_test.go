package workflow

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

const (
	alice = "alice@demo.example"
	bob   = "bob@demo.example"
)

func approve(t *testing.T, existing []Approval, actor Actor, targets []string, cats ...legal.Category) []Approval {
	t.Helper()
	a, err := Approve(existing, actor, targets, cats, "", t0)
	if err != nil {
		t.Fatalf("%s approves %v %v: %v", actor.Name, targets, cats, err)
	}
	return append(existing, a)
}

func TestTwoOfficers(t *testing.T) {
	want := Items([]string{bob}, []legal.Category{legal.Content})
	if err := CanDisclose(nil, want); !errors.Is(errors.Permission, err) || !strings.Contains(err.Error(), "no legal officer") {
		t.Errorf("no approval: %v", err)
	}
	as := approve(t, nil, ann, []string{bob}, legal.Content)
	err := CanDisclose(as, want)
	if !errors.Is(errors.Permission, err) || !strings.Contains(err.Error(), "approved by ann only") ||
		!strings.Contains(err.Error(), bob+" content") {
		t.Errorf("one officer: %v", err)
	}
	as = approve(t, as, ben, []string{bob}, legal.Content)
	if err := CanDisclose(as, want); err != nil {
		t.Errorf("two officers: %v", err)
	}
	if got := Cleared(as); !slices.Equal(got, want) {
		t.Errorf("Cleared = %v, want %v", got, want)
	}
}

func TestSameOfficerTwice(t *testing.T) {
	want := Items([]string{bob}, []legal.Category{legal.Content})
	as := approve(t, nil, ann, []string{bob}, legal.Content)
	// Approve refuses a second approval that adds nothing.
	if _, err := Approve(as, ann, []string{bob}, []legal.Category{legal.Content}, "", t0.Add(time.Hour)); !errors.Is(errors.Exist, err) {
		t.Errorf("second approval by ann: %v, want exist", err)
	}
	if _, err := Approve(as, Actor{Name: " ANN ", Role: Officer}, []string{"Bob@Demo.Example"}, []legal.Category{legal.Content}, "", t0); !errors.Is(errors.Exist, err) {
		t.Errorf("second approval by ANN: %v, want exist", err)
	}
	// And approvals stored twice, or under another spelling of the same
	// name, still count once.
	for _, second := range []string{"ann", "Ann", " ann"} {
		twice := append(slices.Clone(as), Approval{Officer: second, At: t0, Targets: []string{bob}, Categories: []legal.Category{legal.Content}})
		if err := CanDisclose(twice, want); !errors.Is(errors.Permission, err) {
			t.Errorf("ann and %q: %v, want permission denied", second, err)
		}
		if got := Cleared(twice); len(got) != 0 {
			t.Errorf("ann and %q: Cleared = %v", second, got)
		}
	}
	// An approval with no officer counts for nothing.
	anon := append(slices.Clone(as), Approval{Officer: "", At: t0, Targets: []string{bob}, Categories: []legal.Category{legal.Content}})
	if err := CanDisclose(anon, want); !errors.Is(errors.Permission, err) {
		t.Errorf("unnamed second approval: %v, want permission denied", err)
	}
}

func TestPartialApprovals(t *testing.T) {
	// Ann approves everything; Ben approves bob's subscriber data and
	// alice's traffic data; Cat approves alice's content.
	cat := Actor{Name: "cat", Role: Officer}
	all := []legal.Category{legal.Subscriber, legal.Traffic, legal.Content}
	as := approve(t, nil, ann, []string{bob, alice}, all...)
	as = approve(t, as, ben, []string{bob}, legal.Subscriber)
	as = approve(t, as, ben, []string{alice}, legal.Traffic)
	as = approve(t, as, cat, []string{alice}, legal.Content)
	want := []Item{{alice, legal.Traffic}, {alice, legal.Content}, {bob, legal.Subscriber}}
	if got := Cleared(as); !slices.Equal(got, want) {
		t.Errorf("Cleared = %v, want %v", got, want)
	}
	if err := CanDisclose(as, want); err != nil {
		t.Errorf("cleared items: %v", err)
	}
	// Ben may still add what he has not approved.
	if _, err := Approve(as, ben, []string{bob}, []legal.Category{legal.Subscriber, legal.Content}, "", t0); err != nil {
		t.Errorf("ben adds bob's content: %v", err)
	}
	// The whole demand is not cleared: the error names what is missing.
	err := CanDisclose(as, Items([]string{alice, bob}, all))
	if !errors.Is(errors.Permission, err) {
		t.Fatalf("whole scope: %v, want permission denied", err)
	}
	for _, missing := range []string{alice + " subscriber: approved by ann only", bob + " traffic: approved by ann only", bob + " content: approved by ann only"} {
		if !strings.Contains(err.Error(), missing) {
			t.Errorf("error %q does not say %q", err, missing)
		}
	}
	if strings.Contains(err.Error(), alice+" content") {
		t.Errorf("error %q names a cleared item", err)
	}
	// Targets are compared normalized.
	if err := CanDisclose(as, []Item{{"Alice@Demo.Example", legal.Content}}); err != nil {
		t.Errorf("normalized target: %v", err)
	}
	if err := CanDisclose(as, nil); !errors.Is(errors.Invalid, err) {
		t.Errorf("nothing to disclose: %v, want invalid", err)
	}
}

func TestApproveInvalid(t *testing.T) {
	tests := []struct {
		name    string
		targets []string
		cats    []legal.Category
		note    string
		at      time.Time
	}{
		{"no targets", nil, []legal.Category{legal.Content}, "", t0},
		{"empty target", []string{" "}, []legal.Category{legal.Content}, "", t0},
		{"no categories", []string{alice}, nil, "", t0},
		{"unknown category", []string{alice}, []legal.Category{"location"}, "", t0},
		{"no time", []string{alice}, []legal.Category{legal.Content}, "", time.Time{}},
		{"note too long", []string{alice}, []legal.Category{legal.Content}, strings.Repeat("x", MaxNote+1), t0},
	}
	for _, tt := range tests {
		if _, err := Approve(nil, ann, tt.targets, tt.cats, tt.note, tt.at); !errors.Is(errors.Invalid, err) {
			t.Errorf("%s: %v, want invalid", tt.name, err)
		}
	}
	a, err := Approve(nil, ann, []string{" Alice@Demo.Example", alice, bob}, []legal.Category{legal.Content, legal.Content}, "ok", t0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Targets, []string{alice, bob}) || !slices.Equal(a.Categories, []legal.Category{legal.Content}) ||
		a.Officer != "ann" || a.Note != "ok" || !a.At.Equal(t0) {
		t.Errorf("approval %+v", a)
	}
}

func TestScope(t *testing.T) {
	d := legal.Demand{Targets: []string{alice, bob}, Categories: []legal.Category{legal.Subscriber, legal.Content}}
	want := []Item{{alice, legal.Subscriber}, {alice, legal.Content}, {bob, legal.Subscriber}, {bob, legal.Content}}
	if got := Scope(d); !slices.Equal(got, want) {
		t.Errorf("Scope = %v, want %v", got, want)
	}
}
