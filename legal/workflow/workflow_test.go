package workflow

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

var (
	ann   = Actor{Name: "ann", Role: Officer}
	ben   = Actor{Name: "ben", Role: Officer}
	t0    = time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	bogus = legal.State("pending")
)

// edges is the graph written out independently of the package's map:
// the moves, then the ones the package documents as added.
var edges = map[[2]legal.State]bool{
	{legal.Received, legal.InReview}:       true,
	{legal.InReview, legal.Rejected}:       true,
	{legal.InReview, legal.Challenged}:     true,
	{legal.InReview, legal.Approved}:       true,
	{legal.Challenged, legal.Stayed}:       true,
	{legal.Challenged, legal.Upheld}:       true,
	{legal.Challenged, legal.Overturned}:   true,
	{legal.Stayed, legal.Upheld}:           true,
	{legal.Stayed, legal.Overturned}:       true,
	{legal.Upheld, legal.Appealed}:         true,
	{legal.Upheld, legal.Complied}:         true,
	{legal.Upheld, legal.HeldInContempt}:   true,
	{legal.HeldInContempt, legal.Appealed}: true,
	{legal.Appealed, legal.Won}:            true,
	{legal.Appealed, legal.Lost}:           true,
	{legal.Lost, legal.Approved}:           true,
	{legal.Approved, legal.Complied}:       true,
	{legal.Rejected, legal.Challenged}:     true, // added: a motion to compel
	{legal.HeldInContempt, legal.Complied}: true, // added: contempt purged
	{legal.Overturned, legal.Appealed}:     true, // added: the authority appeals
	{legal.Won, legal.Appealed}:            true, // added: the authority appeals
	{legal.Lost, legal.Appealed}:           true, // added: the provider appeals further
}

func init() {
	// Closed follows every state but itself.
	for _, s := range States {
		if s != legal.Closed {
			edges[[2]legal.State{s, legal.Closed}] = true
		}
	}
}

func TestStates(t *testing.T) {
	want := []legal.State{legal.Received, legal.InReview, legal.Rejected, legal.Challenged, legal.Approved,
		legal.Stayed, legal.Upheld, legal.Overturned, legal.Appealed, legal.Complied,
		legal.HeldInContempt, legal.Won, legal.Lost, legal.Closed}
	if len(States) != len(want) {
		t.Fatalf("%d states, want %d", len(States), len(want))
	}
	for _, s := range want {
		if !slices.Contains(States, s) {
			t.Errorf("States lacks %s", s)
		}
		if _, ok := graph[s]; !ok {
			t.Errorf("graph lacks %s", s)
		}
	}
	if len(graph) != len(want) {
		t.Errorf("graph has %d states, want %d", len(graph), len(want))
	}
}

// TestAllowedExhaustive checks every pair of states (and an unknown one)
// against the edges above: each edge allowed, every other pair refused.
func TestAllowedExhaustive(t *testing.T) {
	all := append(slices.Clone(States), bogus, "")
	n := 0
	for _, from := range all {
		for _, to := range all {
			want := edges[[2]legal.State{from, to}]
			if got := Allowed(from, to); got != want {
				t.Errorf("Allowed(%q, %q) = %v, want %v", from, to, got, want)
			}
			if want {
				n++
			}
		}
	}
	if n != len(edges) {
		t.Errorf("%d of %d edges are between known states", n, len(edges))
	}
}

func TestNext(t *testing.T) {
	for _, from := range append(slices.Clone(States), bogus) {
		var want []legal.State
		for _, to := range States {
			if edges[[2]legal.State{from, to}] {
				want = append(want, to)
			}
		}
		if got := Next(from); !slices.Equal(got, want) {
			t.Errorf("Next(%s) = %v, want %v", from, got, want)
		}
	}
	if got := Next(legal.Received); !slices.Equal(got, []legal.State{legal.InReview, legal.Closed}) {
		t.Errorf("Next(received) = %v", got)
	}
	if got := Next(legal.Closed); len(got) != 0 {
		t.Errorf("closed is final, Next = %v", got)
	}
}

// TestReachable checks that every state can be reached from received and
// every state can reach closed.
func TestReachable(t *testing.T) {
	seen := map[legal.State]bool{legal.Received: true}
	queue := []legal.State{legal.Received}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range Next(s) {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	for _, s := range States {
		if !seen[s] {
			t.Errorf("%s cannot be reached from received", s)
		}
		if s != legal.Closed && !Allowed(s, legal.Closed) {
			t.Errorf("%s cannot be closed", s)
		}
	}
}

// walk applies each state in turn, alternating officers, an hour apart,
// and returns the history.
func walk(t *testing.T, path ...legal.State) []legal.Transition {
	t.Helper()
	var h []legal.Transition
	for i, to := range path {
		actor := ann
		if i%2 == 1 {
			actor = ben
		}
		tr, err := Apply(h, to, actor, "step "+string(to), t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatalf("step %d to %s: %v", i, to, err)
		}
		if tr.From != Current(h) || tr.To != to || tr.Actor != actor.Name || tr.Note != "step "+string(to) {
			t.Fatalf("step %d: transition %+v", i, tr)
		}
		h = append(h, tr)
		if Current(h) != to {
			t.Fatalf("step %d: current %s, want %s", i, Current(h), to)
		}
	}
	if err := Check(h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestSeedScenario walks the paths of the seed scenario: a warrant
// challenged, stayed, upheld, the provider held in contempt, appealed and
// won (Microsoft Ireland); and a warrant approved and complied with.
func TestSeedScenario(t *testing.T) {
	h := walk(t, legal.InReview, legal.Challenged, legal.Stayed, legal.Upheld, legal.HeldInContempt,
		legal.Appealed, legal.Won, legal.Closed)
	if len(h) != 8 || h[0].From != legal.Received {
		t.Errorf("history %+v", h)
	}
	walk(t, legal.InReview, legal.Approved, legal.Complied, legal.Closed)
	walk(t, legal.InReview, legal.Rejected, legal.Closed)
	walk(t, legal.InReview, legal.Challenged, legal.Upheld, legal.Appealed, legal.Lost, legal.Approved, legal.Complied, legal.Closed)
	walk(t, legal.InReview, legal.Challenged, legal.Stayed, legal.Overturned, legal.Closed)
	walk(t, legal.Closed) // withdrawn before review
}

func TestApplyIllegal(t *testing.T) {
	h := walk(t, legal.InReview, legal.Approved, legal.Complied, legal.Closed)
	tests := []struct {
		history []legal.Transition
		to      legal.State
	}{
		{nil, legal.Approved},         // no review
		{nil, legal.Received},         // to itself
		{h[:1], legal.Complied},       // in_review: not approved yet
		{h[:1], legal.HeldInContempt}, // no court yet
		{h[:2], legal.Challenged},     // approved: too late to challenge
		{h[:3], legal.Approved},       // complied: done
		{h, legal.InReview},           // closed is final
		{h, legal.Closed},             // closed is final
		{h[:1], bogus},                // no such state
		{walk(t, legal.InReview, legal.Challenged), legal.Complied}, // not without the court
	}
	for _, tt := range tests {
		from := Current(tt.history)
		_, err := Apply(tt.history, tt.to, ann, "", t0.Add(24*time.Hour))
		if !errors.Is(errors.Invalid, err) {
			t.Errorf("%s → %s: %v, want invalid", from, tt.to, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, string(from)) || !strings.Contains(msg, string(tt.to)) {
			t.Errorf("%s → %s: error %q does not name both states", from, tt.to, msg)
		}
	}
}

func TestApplyRoles(t *testing.T) {
	for _, actor := range []Actor{
		{Name: "root", Role: Admin},
		{Name: "sam", Role: Support},
		{Name: "eve", Role: ""},
		{Name: "eve", Role: "Legal_Officer"},
		{Name: "", Role: Officer},
		{Name: "  ", Role: Officer},
	} {
		if _, err := Apply(nil, legal.InReview, actor, "", t0); !errors.Is(errors.Permission, err) {
			t.Errorf("%+v: %v, want permission denied", actor, err)
		}
		if _, err := Approve(nil, actor, []string{"alice@demo.example"}, []legal.Category{legal.Content}, "", t0); !errors.Is(errors.Permission, err) {
			t.Errorf("approve by %+v: %v, want permission denied", actor, err)
		}
	}
	tr, err := Apply(nil, legal.InReview, Actor{Name: " ann ", Role: Officer}, "", t0)
	if err != nil || tr.Actor != "ann" {
		t.Errorf("officer: %+v %v", tr, err)
	}
}

func TestApplyTime(t *testing.T) {
	h := walk(t, legal.InReview) // at t0
	if _, err := Apply(h, legal.Challenged, ann, "", t0.Add(-time.Second)); !errors.Is(errors.Invalid, err) {
		t.Errorf("before the last transition: %v, want invalid", err)
	}
	if _, err := Apply(h, legal.Challenged, ann, "", time.Time{}); !errors.Is(errors.Invalid, err) {
		t.Errorf("zero time: %v, want invalid", err)
	}
	if _, err := Apply(nil, legal.InReview, ann, "", time.Time{}); !errors.Is(errors.Invalid, err) {
		t.Errorf("zero time, empty history: %v, want invalid", err)
	}
	// The same instant is not before: two steps may be recorded at once.
	if _, err := Apply(h, legal.Challenged, ann, "", t0); err != nil {
		t.Errorf("same time: %v", err)
	}
	// The same instant in another zone is the same instant.
	if _, err := Apply(h, legal.Challenged, ann, "", t0.In(time.FixedZone("EST", -5*3600))); err != nil {
		t.Errorf("same time elsewhere: %v", err)
	}
}

func TestApplyNote(t *testing.T) {
	if _, err := Apply(nil, legal.InReview, ann, strings.Repeat("x", MaxNote), t0); err != nil {
		t.Errorf("longest note: %v", err)
	}
	if _, err := Apply(nil, legal.InReview, ann, strings.Repeat("x", MaxNote+1), t0); !errors.Is(errors.Invalid, err) {
		t.Errorf("note too long: %v, want invalid", err)
	}
	if _, err := Apply(nil, legal.InReview, ann, "\xff", t0); !errors.Is(errors.Invalid, err) {
		t.Errorf("note not UTF-8: %v, want invalid", err)
	}
}

func TestCheck(t *testing.T) {
	good := walk(t, legal.InReview, legal.Challenged, legal.Upheld)
	if err := Check(good); err != nil {
		t.Fatal(err)
	}
	if err := Check(nil); err != nil {
		t.Errorf("empty history: %v", err)
	}
	breaks := map[string]func(h []legal.Transition){
		"does not start at received": func(h []legal.Transition) { h[0].From = legal.InReview },
		"gap":                        func(h []legal.Transition) { h[1].From = legal.Approved },
		"illegal move":               func(h []legal.Transition) { h[2].To = legal.Won },
		"no actor":                   func(h []legal.Transition) { h[1].Actor = "" },
		"no time":                    func(h []legal.Transition) { h[0].At = time.Time{} },
		"time goes back":             func(h []legal.Transition) { h[2].At = h[1].At.Add(-time.Minute) },
	}
	for name, brk := range breaks {
		h := slices.Clone(good)
		brk(h)
		if err := Check(h); !errors.Is(errors.Invalid, err) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
		// Apply refuses to build on a broken history.
		if _, err := Apply(h, legal.Closed, ann, "", t0.Add(48*time.Hour)); !errors.Is(errors.Invalid, err) {
			t.Errorf("%s: Apply: %v, want invalid", name, err)
		}
	}
}

func TestDisclosable(t *testing.T) {
	for _, s := range States {
		want := s == legal.Approved || s == legal.Upheld || s == legal.HeldInContempt
		if got := Disclosable(s); got != want {
			t.Errorf("Disclosable(%s) = %v", s, got)
		}
		// A disclosure leads to compliance: every disclosable state may
		// move to complied.
		if Disclosable(s) && !Allowed(s, legal.Complied) {
			t.Errorf("%s is disclosable but cannot move to complied", s)
		}
	}
}
