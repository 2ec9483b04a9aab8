package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/legal"
)

// The test regions: Ireland run by an Irish company, the United States run
// by a US company, Germany run by a US company (the CLOUD Act caveat), and
// the United Kingdom run by a British company (a CLOUD Act agreement).
var regions = map[string]*Region{
	"ie":    {ID: "ie", Name: "Ireland", Country: "IE", Zones: []string{"EU"}, Entity: "Sealpost Ireland Ltd", EntityCountry: "IE"},
	"us":    {ID: "us", Name: "United States", Country: "US", Entity: "Sealpost Inc.", EntityCountry: "US"},
	"de-us": {ID: "de-us", Name: "Germany (US-operated)", Country: "DE", Zones: []string{"EU"}, Entity: "Sealpost Inc.", EntityCountry: "US"},
	"gb":    {ID: "gb", Name: "United Kingdom", Country: "GB", Entity: "Sealpost UK Ltd", EntityCountry: "GB"},
}

func date(s string) legal.Date {
	d, err := legal.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// demand is a demand received on 2026-12-01 for mail of 2026.
func demand(in legal.Instrument, country, requesting string, cats ...legal.Category) legal.Demand {
	from, to := date("2026-01-01"), date("2026-11-30")
	return legal.Demand{
		Reference: "REF-1", Authority: "An authority", Country: country, Instrument: in,
		RequestingCountry: requesting, LegalBasis: "A law", Targets: []string{"x@demo.example"},
		Categories: cats, From: &from, To: &to, Received: date("2026-12-01"),
	}
}

func cat(d legal.Decision, c legal.Category) legal.DecisionKind {
	for _, cd := range d.Categories {
		if cd.Category == c {
			return cd.Decision
		}
	}
	return "(absent)"
}

func hasReason(d legal.Decision, s string) bool {
	for _, r := range d.Reasons {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

// TestSeedScenarios are the cases the issue names.
func TestSeedScenarios(t *testing.T) {
	e := Default()
	S, T, C := legal.Subscriber, legal.Traffic, legal.Content
	type want struct {
		decision legal.DecisionKind
		cats     map[legal.Category]legal.DecisionKind
		route    string
		yields   string
		preserve bool
		reasons  []string // substrings some reason holds
	}
	tests := []struct {
		name   string
		demand legal.Demand
		region string // "" for no account
		want   want
	}{
		{"US warrant, content, Ireland", demand(legal.SearchWarrant, "US", "", C), "ie",
			want{decision: legal.RejectOutOfJurisdiction, route: "MLAT request to Ireland", preserve: true,
				reasons: []string{"held in Ireland", "mutual legal assistance treaty between the United States and Ireland"}}},
		{"US warrant, content, US", demand(legal.SearchWarrant, "US", "", C), "us",
			want{decision: legal.Eligible, yields: legal.YieldsCiphertextOnly, reasons: []string{"holds no key"}}},
		{"US subpoena, subscriber+content, US", demand(legal.Subpoena, "US", "", S, C), "us",
			want{decision: legal.Eligible, cats: map[legal.Category]legal.DecisionKind{S: legal.Eligible, C: legal.RejectInsufficientInstrument},
				reasons: []string{"A subpoena cannot compel content; that needs a search warrant", "content may not be disclosed"}}},
		{"MLAT executed by Ireland for the US", demand(legal.MLATRequest, "IE", "US", S, T, C), "ie",
			want{decision: legal.Eligible, yields: legal.YieldsCiphertextOnly, reasons: []string{"authorities of Ireland", "on behalf of the United States"}}},
		{"MLAT executed by the US for Ireland, Irish data", demand(legal.MLATRequest, "US", "IE", C), "ie",
			want{decision: legal.RejectOutOfJurisdiction, route: "Request through the authorities of Ireland"}},
		{"interception, US", demand(legal.InterceptionOrder, "US", "", C), "us",
			want{decision: legal.NeedsReview, reasons: []string{"no interception capability"}}},
		{"national security, US", demand(legal.NationalSecurityRequest, "US", "", S), "us",
			want{decision: legal.NeedsReview}},
		{"no account", demand(legal.SearchWarrant, "US", "", S, C), "",
			want{decision: legal.NoSuchAccount, cats: map[legal.Category]legal.DecisionKind{S: legal.NoSuchAccount, C: legal.NoSuchAccount}}},
		{"EU production order from Germany, Ireland", demand(legal.EUProductionOrder, "DE", "", S, T, C), "ie",
			want{decision: legal.Eligible, yields: legal.YieldsCiphertextOnly, reasons: []string{"e-Evidence Regulation"}}},
		{"EU production order from Denmark, Ireland", demand(legal.EUProductionOrder, "DK", "", S), "ie",
			want{decision: legal.RejectInsufficientInstrument}},
		{"EU production order from the US", demand(legal.EUProductionOrder, "US", "", S), "us",
			want{decision: legal.RejectInsufficientInstrument}},
		{"CLOUD Act: US warrant, German data, US company", demand(legal.SearchWarrant, "US", "", C), "de-us",
			want{decision: legal.Eligible, yields: legal.YieldsCiphertextOnly, reasons: []string{"CLOUD Act", "held in Germany", "Sealpost Inc."}}},
		{"German warrant, German data, US company", demand(legal.SearchWarrant, "DE", "", C), "de-us",
			want{decision: legal.RejectOutOfJurisdiction, route: "MLAT request to the United States", preserve: true}},
		{"French warrant, German data, US company", demand(legal.SearchWarrant, "FR", "", C), "de-us",
			want{decision: legal.RejectOutOfJurisdiction, route: "Request through the authorities of Germany"}},
		{"EU production order from France, German data, US company", demand(legal.EUProductionOrder, "FR", "", C), "de-us",
			want{decision: legal.Eligible, yields: legal.YieldsCiphertextOnly}},
		{"UK warrant, US data (US-UK agreement)", demand(legal.SearchWarrant, "GB", "", S, C), "us",
			want{decision: legal.Eligible, yields: legal.YieldsCiphertextOnly, reasons: []string{"US-UK CLOUD Act executive agreement"}}},
		{"US records order, UK data (US-UK agreement)", demand(legal.RecordsOrder, "US", "", S, T, C), "gb",
			want{decision: legal.Eligible, cats: map[legal.Category]legal.DecisionKind{S: legal.Eligible, T: legal.Eligible, C: legal.RejectInsufficientInstrument}}},
		{"Japanese warrant, Irish data", demand(legal.SearchWarrant, "JP", "", C), "ie",
			want{decision: legal.RejectOutOfJurisdiction, route: "Request through the authorities of Ireland"}},
		{"US preservation order, US data", demand(legal.PreservationOrder, "US", "", S, T, C), "us",
			want{decision: legal.RejectInsufficientInstrument, preserve: true, reasons: []string{"not to disclose it", "legal hold"}}},
		{"US preservation order, Irish data (pending MLAT)", demand(legal.PreservationOrder, "US", "", C), "ie",
			want{decision: legal.RejectOutOfJurisdiction, route: "MLAT request to Ireland", preserve: true, reasons: []string{"preserved meanwhile"}}},
		{"Japanese preservation order, Irish data (no route agreed)", demand(legal.PreservationOrder, "JP", "", C), "ie",
			want{decision: legal.RejectOutOfJurisdiction, route: "Request through the authorities of Ireland"}},
		{"US emergency, all categories, US data", demand(legal.EmergencyRequest, "US", "", S, T, C), "us",
			want{decision: legal.Eligible, cats: map[legal.Category]legal.DecisionKind{S: legal.Eligible, T: legal.Eligible, C: legal.NeedsReview},
				reasons: []string{"content needs a legal officer's decision"}}},
		{"US emergency, content only", demand(legal.EmergencyRequest, "US", "", C), "us",
			want{decision: legal.NeedsReview}},
		{"US emergency, Irish data", demand(legal.EmergencyRequest, "US", "", S), "ie",
			want{decision: legal.RejectOutOfJurisdiction, route: "MLAT request to Ireland", preserve: true}},
		{"Irish subpoena, Irish data", demand(legal.Subpoena, "IE", "", S, T), "ie",
			want{decision: legal.Eligible, cats: map[legal.Category]legal.DecisionKind{S: legal.Eligible, T: legal.RejectInsufficientInstrument}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reg *Region
			if tt.region != "" {
				reg = regions[tt.region]
			}
			got := e.Decide(tt.demand, []Target{{"who@demo.example", reg}})
			if len(got) != 1 {
				t.Fatalf("%d decisions for one target", len(got))
			}
			d := got[0]
			if d.Decision != tt.want.decision {
				t.Errorf("decision = %s, want %s; reasons %q", d.Decision, tt.want.decision, d.Reasons)
			}
			for c, k := range tt.want.cats {
				if g := cat(d, c); g != k {
					t.Errorf("%s: %s, want %s", c, g, k)
				}
			}
			if d.Route != tt.want.route {
				t.Errorf("route = %q, want %q", d.Route, tt.want.route)
			}
			if d.Yields != tt.want.yields {
				t.Errorf("yields = %q, want %q", d.Yields, tt.want.yields)
			}
			if d.Preserve != tt.want.preserve {
				t.Errorf("preserve = %v, want %v", d.Preserve, tt.want.preserve)
			}
			for _, r := range tt.want.reasons {
				if !hasReason(d, r) {
					t.Errorf("no reason says %q: %q", r, d.Reasons)
				}
			}
			checkInvariants(t, e, tt.demand, d)
		})
	}
}

// checkInvariants holds for every decision of the default policy.
func checkInvariants(t *testing.T, e *Engine, dm legal.Demand, d legal.Decision) {
	t.Helper()
	if d.PolicyVersion != e.Version() {
		t.Errorf("PolicyVersion = %q, want %q", d.PolicyVersion, e.Version())
	}
	if len(d.Reasons) == 0 {
		t.Error("no reasons")
	}
	for _, r := range d.Reasons {
		if r == "" || r[0] < 'A' || r[0] > 'Z' || !strings.HasSuffix(r, ".") || strings.ContainsAny(r, "{}\n") {
			t.Errorf("reason is not a complete sentence: %q", r)
		}
	}
	var cats []legal.Category
	for _, c := range dm.Categories {
		if !slices.Contains(cats, c) {
			cats = append(cats, c)
		}
	}
	if len(d.Categories) != len(cats) {
		t.Fatalf("%d category decisions for %d categories", len(d.Categories), len(cats))
	}
	anyEligible := false
	for i, cd := range d.Categories {
		if cd.Category != cats[i] {
			t.Errorf("category %d is %s, want %s", i, cd.Category, cats[i])
		}
		if len(cd.Reasons) == 0 {
			t.Errorf("%s: no reasons", cd.Category)
		}
		wantYields := ""
		if cd.Category == legal.Content && cd.Decision == legal.Eligible {
			wantYields = legal.YieldsCiphertextOnly
			if !slices.Contains(cd.Reasons, YieldsReason) {
				t.Errorf("eligible content does not say the provider holds no key: %q", cd.Reasons)
			}
		}
		if cd.Yields != wantYields {
			t.Errorf("%s %s: yields %q, want %q", cd.Category, cd.Decision, cd.Yields, wantYields)
		}
		anyEligible = anyEligible || cd.Decision == legal.Eligible
	}
	if anyEligible != (d.Decision == legal.Eligible) {
		t.Errorf("decision %s, but some category eligible = %v", d.Decision, anyEligible)
	}
	if (d.Decision == legal.RejectOutOfJurisdiction) != (d.Route != "") {
		t.Errorf("decision %s with route %q: a route goes with, and only with, an out-of-jurisdiction rejection", d.Decision, d.Route)
	}
	if dm.Instrument == legal.InterceptionOrder || dm.Instrument == legal.NationalSecurityRequest {
		if d.Decision != legal.NeedsReview && d.Decision != legal.NoSuchAccount {
			t.Errorf("%s decided %s, want needs_review", dm.Instrument, d.Decision)
		}
	}
}

// oracle states the default policy's semantics for one category in plain
// Go, independently of default.yaml: what the issue asks for.
func oracle(in legal.Instrument, country, requesting string, r *Region, c legal.Category) (legal.DecisionKind, string, bool) {
	names := map[string]string{"US": "the United States", "IE": "Ireland", "DE": "Germany", "GB": "the United Kingdom", "FR": "France", "DK": "Denmark", "JP": "Japan"}
	eeaOrder := country != "DK" && slices.Contains([]string{"IE", "DE", "FR", "DK"}, country) // EU members in the test set, less Denmark
	if in == legal.InterceptionOrder || in == legal.NationalSecurityRequest {
		return legal.NeedsReview, "", false
	}
	if in == legal.EUProductionOrder && !eeaOrder {
		return legal.RejectInsufficientInstrument, "", false
	}
	origin := country
	if in == legal.MLATRequest && requesting != "" {
		origin = requesting
	}
	cloudAct := func(a, b string) bool {
		pair := []string{a, b}
		slices.Sort(pair)
		return pair[0] == "GB" && pair[1] == "US"
	}
	mlat := func(a, b string) bool {
		for _, p := range [][2]string{{"US", "IE"}, {"US", "DE"}, {"US", "GB"}} {
			if (a == p[0] && b == p[1]) || (a == p[1] && b == p[0]) {
				return true
			}
		}
		return false
	}
	reach := (in == legal.MLATRequest && country == r.Country) ||
		(country == r.Country && country == r.EntityCountry) ||
		country == r.EntityCountry ||
		cloudAct(country, r.Country) ||
		(in == legal.EUProductionOrder && eeaOrder && slices.Contains(r.Zones, "EU"))
	if !reach {
		via := r.Country
		if r.Country == origin {
			via = r.EntityCountry
		}
		if mlat(origin, via) {
			return legal.RejectOutOfJurisdiction, "MLAT request to " + names[via], true
		}
		return legal.RejectOutOfJurisdiction, "Request through the authorities of " + names[via], false
	}
	switch in {
	case legal.PreservationOrder:
		return legal.RejectInsufficientInstrument, "", true
	case legal.EmergencyRequest:
		if c == legal.Content {
			return legal.NeedsReview, "", false
		}
		return legal.Eligible, "", false
	}
	compels := map[legal.Instrument][]legal.Category{
		legal.Subpoena:          {legal.Subscriber},
		legal.RecordsOrder:      {legal.Subscriber, legal.Traffic},
		legal.SearchWarrant:     {legal.Subscriber, legal.Traffic, legal.Content},
		legal.MLATRequest:       {legal.Subscriber, legal.Traffic, legal.Content},
		legal.EUProductionOrder: {legal.Subscriber, legal.Traffic, legal.Content},
	}
	if slices.Contains(compels[in], c) {
		return legal.Eligible, "", false
	}
	return legal.RejectInsufficientInstrument, "", false
}

// TestDefaultMatrix runs the default policy across instrument × issuing
// country × home region × data category (and, for MLAT requests, the
// requesting country) against the oracle, one category per demand, and
// then all three categories at once against the summary rule.
func TestDefaultMatrix(t *testing.T) {
	e := Default()
	countries := []string{"US", "IE", "DE", "GB", "FR", "DK", "JP"}
	regionIDs := []string{"ie", "us", "de-us", "gb"}
	n := 0
	for _, in := range legal.Instruments {
		for _, country := range countries {
			requestings := []string{""}
			if in == legal.MLATRequest {
				requestings = nil
				for _, rc := range countries {
					if rc != country {
						requestings = append(requestings, rc)
					}
				}
			}
			for _, rc := range requestings {
				for _, rid := range regionIDs {
					r := regions[rid]
					name := fmt.Sprintf("%s/%s/%s/%s", in, country, rc, rid)
					var perCat []legal.DecisionKind
					for _, c := range legal.Categories {
						wantK, wantRoute, wantPreserve := oracle(in, country, rc, r, c)
						d := e.Decide(demand(in, country, rc, c), []Target{{"x@demo.example", r}})[0]
						n++
						if d.Decision != wantK || d.Route != wantRoute || d.Preserve != wantPreserve {
							t.Errorf("%s/%s: got %s route %q preserve %v; want %s route %q preserve %v; reasons %q",
								name, c, d.Decision, d.Route, d.Preserve, wantK, wantRoute, wantPreserve, d.Reasons)
						}
						checkInvariants(t, e, demand(in, country, rc, c), d)
						perCat = append(perCat, wantK)
					}
					// All categories in one demand: the categories keep their
					// decisions and the target's follows the summary rule.
					all := demand(in, country, rc, legal.Categories...)
					d := e.Decide(all, []Target{{"x@demo.example", r}})[0]
					for i, c := range legal.Categories {
						if g := cat(d, c); g != perCat[i] {
							t.Errorf("%s, all categories: %s is %s, alone %s", name, c, g, perCat[i])
						}
					}
					if want := summary(perCat); d.Decision != want {
						t.Errorf("%s, all categories: %s, want %s (categories %v)", name, d.Decision, want, perCat)
					}
					checkInvariants(t, e, all, d)
				}
			}
		}
	}
	t.Logf("%d single-category decisions checked", n)
}

// summary is the rule for a target's decision from its categories'.
func summary(ks []legal.DecisionKind) legal.DecisionKind {
	for _, k := range []legal.DecisionKind{legal.Eligible, legal.NeedsReview, legal.RejectOutOfJurisdiction, legal.RejectInsufficientInstrument} {
		if slices.Contains(ks, k) {
			return k
		}
	}
	return ""
}

func TestFutureDatesNeedReview(t *testing.T) {
	d := demand(legal.SearchWarrant, "US", "", legal.Content)
	to := date("2027-06-30") // after the demand was received
	d.To = &to
	got := Default().Decide(d, []Target{{"bob@demo.example", regions["us"]}})[0]
	if got.Decision != legal.NeedsReview || !hasReason(got, "interception") {
		t.Errorf("a range into the future: %s %q; want needs_review saying it would be interception", got.Decision, got.Reasons)
	}
}

// TestManyTargets checks order, per-target fields and that targets sharing a
// region do not share slices.
func TestManyTargets(t *testing.T) {
	var targets []Target
	for i := range 12 {
		var r *Region
		switch i % 4 {
		case 0:
			r = regions["ie"]
		case 1:
			r = regions["us"]
		case 2:
			r = regions["de-us"]
		}
		targets = append(targets, Target{Address: fmt.Sprintf("u%d@demo.example", i), Region: r})
	}
	d := demand(legal.SearchWarrant, "US", "", legal.Subscriber, legal.Content, legal.Subscriber)
	got := Default().Decide(d, targets)
	if len(got) != len(targets) {
		t.Fatalf("%d decisions for %d targets", len(got), len(targets))
	}
	want := []legal.DecisionKind{legal.RejectOutOfJurisdiction, legal.Eligible, legal.Eligible, legal.NoSuchAccount}
	for i, g := range got {
		if g.Target != targets[i].Address {
			t.Errorf("decision %d is for %s, want %s", i, g.Target, targets[i].Address)
		}
		if g.Decision != want[i%4] {
			t.Errorf("%s: %s, want %s", g.Target, g.Decision, want[i%4])
		}
		if len(g.Categories) != 2 {
			t.Errorf("%s: %d categories, want 2 (subscriber was asked twice)", g.Target, len(g.Categories))
		}
		if g.Decision == legal.NoSuchAccount && !hasReason(g, g.Target) {
			t.Errorf("%s: the no-account reason does not name the address: %q", g.Target, g.Reasons)
		}
	}
	got[1].Reasons[0] = "changed"
	got[1].Categories[0].Reasons[0] = "changed"
	if got[5].Reasons[0] == "changed" || got[5].Categories[0].Reasons[0] == "changed" {
		t.Error("two targets in one region share their reasons' storage")
	}
}

func TestMisconfiguredRegion(t *testing.T) {
	r := &Region{ID: "xx", Name: "Nowhere", Country: "DE"} // no operating company
	got := Default().Decide(demand(legal.SearchWarrant, "DE", "", legal.Content), []Target{{"x@demo.example", r}})[0]
	if got.Decision != legal.NeedsReview || !hasReason(got, "Region xx") {
		t.Errorf("region without an operating company: %s %q; want needs_review naming the region", got.Decision, got.Reasons)
	}
}

// TestConcurrentDecide shares one engine between goroutines (run with
// -race): Engine is immutable after Parse.
func TestConcurrentDecide(t *testing.T) {
	e := Default()
	want := e.Decide(demand(legal.SearchWarrant, "US", "", legal.Categories...), hundred())
	done := make(chan []legal.Decision)
	for range 4 {
		go func() { done <- e.Decide(demand(legal.SearchWarrant, "US", "", legal.Categories...), hundred()) }()
	}
	for range 4 {
		got := <-done
		for i := range got {
			if got[i].Decision != want[i].Decision || !slices.Equal(got[i].Reasons, want[i].Reasons) {
				t.Fatalf("target %d: concurrent decision %s %q differs from %s %q", i, got[i].Decision, got[i].Reasons, want[i].Decision, want[i].Reasons)
			}
		}
	}
}
