package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/tlog"
	"github.com/sealpost/sealpost/transparency"
)

const origin = "report.test/sealpost/log"

// testLog is a real transparency log fed with entries built the way the
// ledger builds them, from events shaped like legal/store's.
type testLog struct {
	t       *testing.T
	log     *tlog.Log
	vkey    string
	blinder *transparency.Blinder
	w       transparency.Withholding
	seq     map[string]int64
	last    []byte
}

func newTestLog(t *testing.T) *testLog {
	t.Helper()
	skey, vkey, err := tlog.NewKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tlog.Open(t.TempDir(), skey, tlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	b, err := transparency.NewBlinder(bytes.Repeat([]byte{7}, transparency.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{
		t: t, log: l, vkey: vkey, blinder: b,
		w:   transparency.Withholding{Instruments: []string{"national_security_request"}},
		seq: map[string]int64{},
	}
}

// event logs ev as the next event of src.
func (l *testLog) event(src string, ev sealpost.Event) transparency.Entry {
	l.t.Helper()
	l.seq[src]++
	pub, _ := l.blinder.Build(src, l.seq[src], ev, l.w, nil)
	l.raw(pub.Marshal())
	return pub
}

// raw appends data as is.
func (l *testLog) raw(data []byte) {
	l.t.Helper()
	if _, err := l.log.Append(context.Background(), data); err != nil {
		l.t.Fatal(err)
	}
	l.last = data
}

// snapshot returns the latest checkpoint and the entries read back.
func (l *testLog) snapshot() ([]byte, [][]byte) {
	l.t.Helper()
	cp := l.log.Checkpoint()
	var entries [][]byte
	for i := range l.log.Size() {
		e, err := l.log.Entry(context.Background(), i)
		if err != nil {
			l.t.Fatal(err)
		}
		entries = append(entries, e)
	}
	return cp, entries
}

// A demand as legal/store describes it in every event's detail.
type demandSpec struct {
	id, country, instrument, received, requesting, until string
	targets                                              []string
}

func (d demandSpec) detail() map[string]string {
	m := map[string]string{
		"demand": d.id, "authority": "Secret Authority of " + d.country, "country": d.country,
		"instrument": d.instrument, "received": d.received, "categories": "subscriber,content",
	}
	if d.requesting != "" {
		m["requesting_country"] = d.requesting
	}
	if d.until != "" {
		m["nondisclosure_until"] = d.until
	}
	return m
}

func with(m map[string]string, kv ...string) map[string]string {
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// filed logs demand.filed and one demand.decided per decision, as
// store.File does; decisions[i] is "decision[|yields|category_decisions]".
func (l *testLog) filed(d demandSpec, when string, decisions ...string) {
	l.t.Helper()
	t := at(when)
	l.event(transparency.SourceLegal, sealpost.Event{Time: t, Kind: sealpost.EventDemandFiled, Actor: "Officer Alice",
		Detail: with(d.detail(), "state", "received", "targets", strconv.Itoa(len(d.targets)), "documents", "1")})
	for i, dec := range decisions {
		parts := strings.Split(dec+"||", "|")
		l.event(transparency.SourceLegal, sealpost.Event{Time: t, Kind: sealpost.EventDemandDecided, Account: d.targets[i], Actor: "policy",
			Detail: with(d.detail(), "decision", parts[0], "policy_version", "p1", "yields", parts[1], "category_decisions", parts[2])})
	}
}

func (l *testLog) transition(d demandSpec, when, from, to string) {
	l.t.Helper()
	l.event(transparency.SourceLegal, sealpost.Event{Time: at(when), Kind: sealpost.EventDemandTransition, Actor: "Officer Bob",
		Detail: with(d.detail(), "from", from, "to", to)})
}

func (l *testLog) disclosure(d demandSpec, when string) {
	l.t.Helper()
	l.event(transparency.SourceLegal, sealpost.Event{Time: at(when), Kind: sealpost.EventDemandDisclosure, Actor: "Officer Alice,Officer Bob",
		Detail: with(d.detail(), "state", "complied", "disclosure", "1", "manifest_sha256", strings.Repeat("ab", 32), "officers", "Officer Alice,Officer Bob")})
}

func (l *testLog) noticeSent(d demandSpec, when, addr string) {
	l.t.Helper()
	l.event(transparency.SourceLegal, sealpost.Event{Time: at(when), Kind: sealpost.EventNoticeSent, Account: addr, Actor: "sealpost",
		Detail: with(d.detail(), "notice", "1")})
}

// scenario builds the log every test below reads. The expected figures
// for 2026-H1 are counted by hand in wantH1.
func scenario(t *testing.T) *testLog {
	l := newTestLog(t)
	// A: a US search warrant for an account in Ireland: out of jurisdiction.
	a := demandSpec{id: "d-a", country: "US", instrument: "search_warrant", received: "2026-02-01", targets: []string{"ann@example.ie"}}
	l.filed(a, "2026-02-02T10:00:00Z", "reject_out_of_jurisdiction")
	l.transition(a, "2026-02-03T10:00:00Z", "received", "in_review")
	l.transition(a, "2026-02-04T10:00:00Z", "in_review", "rejected")

	// B: a US subpoena, partly eligible (subscriber data), one target
	// unknown; disclosed; the owner notified (the notice logged twice by
	// a replayed event, which must count once).
	b := demandSpec{id: "d-b", country: "US", instrument: "subpoena", received: "2026-03-01", targets: []string{"bo@example.ie", "nobody@example.ie"}}
	l.filed(b, "2026-03-01T09:00:00Z", "eligible||subscriber:eligible,content:reject_insufficient_instrument", "no_such_account")
	l.transition(b, "2026-03-02T09:00:00Z", "received", "approved")
	l.disclosure(b, "2026-03-03T09:00:00Z")
	l.noticeSent(b, "2026-03-04T09:00:00Z", "bo@example.ie")
	l.raw(l.last) // the same event again

	// C: a German EU production order, challenged, upheld, content
	// (ciphertext) disclosed.
	c := demandSpec{id: "d-c", country: "DE", instrument: "eu_production_order", received: "2026-04-10", targets: []string{"cy@example.ie"}}
	l.filed(c, "2026-04-10T12:00:00Z", "eligible|ciphertext_only|content:eligible")
	l.transition(c, "2026-04-11T12:00:00Z", "received", "challenged")
	l.transition(c, "2026-04-20T12:00:00Z", "challenged", "upheld")
	l.transition(c, "2026-04-21T12:00:00Z", "upheld", "approved")
	l.disclosure(c, "2026-04-22T12:00:00Z")

	// D: an Irish search warrant under a nondisclosure order until
	// 2026-05-01, in review; both owners notified when it lapsed.
	d := demandSpec{id: "d-d", country: "IE", instrument: "search_warrant", received: "2026-03-10", until: "2026-05-01",
		targets: []string{"di@example.ie", "do@example.ie"}}
	l.filed(d, "2026-03-10T08:00:00Z", "needs_review", "needs_review")
	l.transition(d, "2026-03-11T08:00:00Z", "received", "in_review")
	l.noticeSent(d, "2026-05-01T08:00:00Z", "di@example.ie")
	l.noticeSent(d, "2026-05-01T08:00:01Z", "do@example.ie")

	// E: an MLAT request executed by Ireland for Brazil: no such account.
	e := demandSpec{id: "d-e", country: "IE", instrument: "mlat_request", requesting: "BR", received: "2026-01-20", targets: []string{"ghost@example.ie"}}
	l.filed(e, "2026-01-21T08:00:00Z", "no_such_account")

	// F: a US emergency request received on the period's last day,
	// subscriber data disclosed.
	f := demandSpec{id: "d-f", country: "US", instrument: "emergency_request", received: "2026-06-30", targets: []string{"fi@example.ie"}}
	l.filed(f, "2026-06-30T23:00:00Z", "eligible||subscriber:eligible")
	l.disclosure(f, "2026-07-01T01:00:00Z") // logged after the period: still counts

	// G: preservation orders: one US in the period, one Irish before it.
	g := demandSpec{id: "d-g", country: "US", instrument: "preservation_order", received: "2026-02-15", targets: []string{"g1@example.ie", "g2@example.ie", "g3@example.ie"}}
	l.filed(g, "2026-02-15T08:00:00Z", "eligible", "eligible", "eligible")
	g2 := demandSpec{id: "d-g2", country: "IE", instrument: "preservation_order", received: "2025-12-31", targets: []string{"g4@example.ie"}}
	l.filed(g2, "2026-01-02T08:00:00Z", "eligible")

	// H: a national-security request: two withheld entries in the period;
	// another one dated before it.
	h := demandSpec{id: "d-h", country: "US", instrument: "national_security_request", received: "2026-03-03", targets: []string{"h@example.ie"}}
	l.filed(h, "2026-03-03T08:00:00Z", "eligible")
	h2 := demandSpec{id: "d-h2", country: "US", instrument: "national_security_request", received: "2025-11-01", targets: []string{}}
	l.filed(h2, "2025-11-01T08:00:00Z")

	// I: received before the period (filed in it), and J2 on the first
	// day after it: in no H1 row.
	i := demandSpec{id: "d-i", country: "US", instrument: "search_warrant", received: "2025-12-20", targets: []string{"i@example.ie"}}
	l.filed(i, "2026-01-05T08:00:00Z", "eligible")
	j2 := demandSpec{id: "d-j2", country: "US", instrument: "subpoena", received: "2026-07-01", targets: []string{"j@example.ie"}}
	l.filed(j2, "2026-07-01T08:00:00Z", "reject_insufficient_instrument")

	// J: a French subpoena approved, then closed without disclosure.
	j := demandSpec{id: "d-j", country: "FR", instrument: "subpoena", received: "2026-05-05", targets: []string{"jo@example.ie"}}
	l.filed(j, "2026-05-05T08:00:00Z", "eligible||subscriber:eligible")
	l.transition(j, "2026-05-06T08:00:00Z", "received", "approved")
	l.transition(j, "2026-05-07T08:00:00Z", "approved", "closed")

	// K: a French records order whose every target the policy rejected.
	k := demandSpec{id: "d-k", country: "FR", instrument: "records_order", received: "2026-05-10", targets: []string{"k1@example.ie", "k2@example.ie"}}
	l.filed(k, "2026-05-10T08:00:00Z", "reject_insufficient_instrument", "reject_insufficient_instrument")

	// Entries about no demand.
	l.event(transparency.SourceJournal, sealpost.Event{Time: at("2026-02-01T00:00:00Z"), Kind: sealpost.EventMailboxMoveCompleted, Account: "ann@example.ie", Actor: "owner",
		Detail: map[string]string{"from": "us", "to": "ie"}})
	l.event(transparency.SourceLegal, sealpost.Event{Time: at("2026-01-01T00:00:00Z"), Kind: sealpost.EventOfficerAdded, Actor: "admin",
		Detail: map[string]string{"officer": "Officer Alice"}})
	return l
}

// wantH1 is scenario's report for 2026-H1, counted by hand.
func wantH1() []Row {
	return []Row{
		{Country: "DE", Instrument: "eu_production_order", Requests: 1, AccountsSpecified: 1, ContentDisclosed: 1, Challenged: 1},
		{Country: "FR", Instrument: "records_order", Requests: 1, AccountsSpecified: 2, Rejected: 1},
		{Country: "FR", Instrument: "subpoena", Requests: 1, AccountsSpecified: 1, Rejected: 1},
		{Country: "IE", Instrument: "mlat_request", Requests: 1, AccountsSpecified: 1, NoDataFound: 1, ViaMLAT: 1},
		{Country: "IE", Instrument: "search_warrant", Requests: 1, AccountsSpecified: 2, Pending: 1, UsersNotified: 2, NoticesDelayed: 2},
		{Country: "US", Instrument: "emergency_request", Requests: 1, AccountsSpecified: 1, NonContentOnly: 1, Emergency: 1},
		{Country: "US", Instrument: "search_warrant", Requests: 1, AccountsSpecified: 1, Rejected: 1, RejectedOutOfJurisdiction: 1},
		{Country: "US", Instrument: "subpoena", Requests: 1, AccountsSpecified: 2, NonContentOnly: 1, UsersNotified: 1},
	}
}

func mustPeriod(t *testing.T, s string) Period {
	t.Helper()
	p, err := ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompute(t *testing.T) {
	l := scenario(t)
	cp, entries := l.snapshot()
	r, err := Compute(cp, l.vkey, entries, mustPeriod(t, "2026-H1"))
	if err != nil {
		t.Fatal(err)
	}
	want := wantH1()
	for i := range want {
		want[i].Period = "2026-H1"
	}
	if !reflect.DeepEqual(r.Rows, want) {
		t.Errorf("rows:\n got %+v\nwant %+v", r.Rows, want)
	}
	wantTotals := Row{Period: "2026-H1", Country: TotalCountry, Instrument: TotalInstrument,
		Requests: 8, AccountsSpecified: 11, ContentDisclosed: 1, NonContentOnly: 2, NoDataFound: 1,
		Rejected: 3, RejectedOutOfJurisdiction: 1, Challenged: 1, Pending: 1, ViaMLAT: 1, Emergency: 1,
		UsersNotified: 3, NoticesDelayed: 2}
	if r.Totals != wantTotals {
		t.Errorf("totals:\n got %+v\nwant %+v", r.Totals, wantTotals)
	}
	if want := []Preservation{{Country: "US", Requests: 1, Accounts: 3}}; !reflect.DeepEqual(r.Preservation, want) {
		t.Errorf("preservation = %+v, want %+v", r.Preservation, want)
	}
	if want := (NationalSecurity{Band: "0–249", WithheldEntriesBand: Band{0, 249}}); r.NationalSecurity != want {
		t.Errorf("national security = %+v, want %+v", r.NationalSecurity, want)
	}
	if r.Checkpoint.Origin != origin || r.Checkpoint.Size != uint64(len(entries)) || !strings.Contains(string(cp), "\n"+r.Checkpoint.RootHash+"\n") {
		t.Errorf("checkpoint = %+v, not that of\n%s", r.Checkpoint, cp)
	}
	if r.Period.Name != "2026-H1" {
		t.Errorf("period = %+v", r.Period)
	}

	// The national-security demand's entries are in the log only as
	// withheld ones, and nothing in the log names its instrument.
	withheld := 0
	for _, data := range entries {
		e, _ := transparency.Parse(data)
		if e.Kind == transparency.KindWithheld {
			withheld++
		}
	}
	if withheld != 3 || bytes.Contains(bytes.Join(entries, nil), []byte("national_security")) {
		t.Errorf("%d withheld entries, want 3, and none naming the instrument", withheld)
	}
	// Exactly the two withheld entries dated in the period went into the band.
	tl := newTally(r.Period)
	for i, data := range entries {
		e, _ := transparency.Parse(data)
		if err := tl.add(i, e); err != nil {
			t.Fatal(err)
		}
	}
	if tl.withheld != 2 {
		t.Errorf("%d withheld entries counted in 2026-H1, want 2", tl.withheld)
	}
	// The gagged demand's decisions were logged without their salt.
	for _, data := range entries {
		e, _ := transparency.Parse(data)
		if e.DemandOf() == "d-d" && e.Kind == sealpost.EventDemandDecided && e.Salt != "" {
			t.Errorf("gagged decision logged with its salt: %s", data)
		}
	}
}

func TestComputePeriods(t *testing.T) {
	l := scenario(t)
	cp, entries := l.snapshot()
	for _, tc := range []struct {
		period   string
		requests int // rows' requests
		rows     int
		pres     []Preservation
		band     string
	}{
		// H2: only j2 (received 2026-07-01); no withheld entries.
		{"2026-H2", 1, 1, []Preservation{}, "0–249"},
		// The year: H1 and H2.
		{"2026", 9, 8, []Preservation{{"US", 1, 3}}, "0–249"},
		// 2025: i; g2 (preservation); one withheld entry (h2).
		{"2025", 1, 1, []Preservation{{"IE", 1, 1}}, "0–249"},
		{"2024", 0, 0, []Preservation{}, "0–249"},
	} {
		t.Run(tc.period, func(t *testing.T) {
			r, err := Compute(cp, l.vkey, entries, mustPeriod(t, tc.period))
			if err != nil {
				t.Fatal(err)
			}
			if r.Totals.Requests != tc.requests || len(r.Rows) != tc.rows {
				t.Errorf("requests %d in %d rows, want %d in %d: %+v", r.Totals.Requests, len(r.Rows), tc.requests, tc.rows, r.Rows)
			}
			if !reflect.DeepEqual(r.Preservation, tc.pres) {
				t.Errorf("preservation = %+v, want %+v", r.Preservation, tc.pres)
			}
			if r.NationalSecurity.Band != tc.band {
				t.Errorf("band = %q, want %q", r.NationalSecurity.Band, tc.band)
			}
		})
	}
}

func TestNationalSecurityBand(t *testing.T) {
	l := newTestLog(t)
	// 251 withheld entries in the period (appended concurrently: their
	// order does not matter), one after it.
	var wg sync.WaitGroup
	errs := make(chan error, 251)
	for i := range 251 {
		l.seq[transparency.SourceLegal]++
		d := demandSpec{id: "ns-" + strconv.Itoa(i), country: "US", instrument: "national_security_request", received: "2026-08-01"}
		pub, _ := l.blinder.Build(transparency.SourceLegal, l.seq[transparency.SourceLegal],
			sealpost.Event{Time: at("2026-08-01T10:00:00Z"), Kind: sealpost.EventDemandFiled, Actor: "Officer Alice", Detail: d.detail()}, l.w, nil)
		if pub.Kind != transparency.KindWithheld {
			t.Fatalf("entry not withheld: %+v", pub)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.log.Append(context.Background(), pub.Marshal())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	d := demandSpec{id: "ns-late", country: "US", instrument: "national_security_request", received: "2027-01-01"}
	l.event(transparency.SourceLegal, sealpost.Event{Time: at("2027-01-01T00:00:00Z"), Kind: sealpost.EventDemandFiled, Actor: "x", Detail: d.detail()})

	cp, entries := l.snapshot()
	r, err := Compute(cp, l.vkey, entries, mustPeriod(t, "2026-H2"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (NationalSecurity{Band: "250–499", WithheldEntriesBand: Band{250, 499}}); r.NationalSecurity != want {
		t.Errorf("national security = %+v, want %+v", r.NationalSecurity, want)
	}
	if len(r.Rows) != 0 || r.Totals.Requests != 0 {
		t.Errorf("national-security requests in the rows: %+v", r.Rows)
	}
}

func TestBandOf(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0–249"}, {1, "0–249"}, {249, "0–249"}, {250, "250–499"}, {499, "250–499"}, {500, "500–749"}, {1000, "1000–1249"}} {
		if got := bandOf(tc.n).String(); got != tc.want {
			t.Errorf("bandOf(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestComputeTampered(t *testing.T) {
	l := scenario(t)
	cp, entries := l.snapshot()
	p := mustPeriod(t, "2026-H1")
	other, otherKey, err := tlog.NewKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	_ = other
	_, foreignKey, err := tlog.NewKey("elsewhere.test/log")
	if err != nil {
		t.Fatal(err)
	}
	clone := func() [][]byte {
		out := make([][]byte, len(entries))
		for i, e := range entries {
			out[i] = bytes.Clone(e)
		}
		return out
	}
	changed := clone()
	changed[5] = bytes.Replace(changed[5], []byte(`"US"`), []byte(`"FR"`), 1)
	if bytes.Equal(changed[5], entries[5]) {
		t.Fatal("entry 5 not changed")
	}
	reordered := clone()
	reordered[3], reordered[4] = reordered[4], reordered[3]
	dropped := append(clone()[:7], clone()[8:]...)
	extra := append(clone(), []byte(`{"v":1}`))
	forgedSize := bytes.Replace(cp, []byte("\n"+strconv.Itoa(len(entries))+"\n"), []byte("\n"+strconv.Itoa(len(entries)-1)+"\n"), 1)

	for _, tc := range []struct {
		name    string
		cp      []byte
		key     string
		entries [][]byte
		want    string
	}{
		{"changed entry", cp, l.vkey, changed, "root hash"},
		{"reordered entries", cp, l.vkey, reordered, "root hash"},
		{"dropped entry", cp, l.vkey, dropped, "commits to"},
		{"extra entry", cp, l.vkey, extra, "commits to"},
		{"truncated to fit a forged size", forgedSize, l.vkey, entries[:len(entries)-1], "checkpoint"},
		{"wrong verifier key", cp, otherKey, entries, "checkpoint"},
		{"another log's key", cp, foreignKey, entries, "checkpoint"},
		{"bad verifier key", cp, "not a key", entries, "verifier key"},
		{"no checkpoint", nil, l.vkey, entries, "checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compute(tc.cp, tc.key, tc.entries, p)
			if err == nil {
				t.Fatalf("Compute succeeded: %+v", r)
			}
			if !errors.Is(errors.Invalid, err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want an Invalid error about %q", err, tc.want)
			}
		})
	}
	// The untouched input still computes.
	if _, err := Compute(cp, l.vkey, entries, p); err != nil {
		t.Fatal(err)
	}
	if _, err := Compute(cp, l.vkey, entries, Period{Name: "empty"}); !errors.Is(errors.Invalid, err) {
		t.Errorf("empty period: err = %v, want Invalid", err)
	}
}

// A log whose entries are signed for but are not entries, or whose facts
// cannot be read, fails and names the entry.
func TestComputeBadEntry(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  func(l *testLog)
		want string
	}{
		{"not an entry", func(l *testLog) { l.raw([]byte("not json")) }, "entry 1:"},
		{"not canonical", func(l *testLog) {
			l.raw([]byte(`{"v":1, "src":"legal","seq":9,"time":"2026-01-01T00:00:00Z","kind":"x"}`))
		}, "entry 1:"},
		{"bad received", func(l *testLog) {
			d := demandSpec{id: "bad", country: "US", instrument: "subpoena", received: "soon", targets: []string{"x@example.ie"}}
			l.filed(d, "2026-01-01T00:00:00Z")
		}, "entry 1:"},
		{"bad targets", func(l *testLog) {
			d := demandSpec{id: "bad", country: "US", instrument: "subpoena", received: "2026-01-01"}
			l.event(transparency.SourceLegal, sealpost.Event{Time: at("2026-01-01T00:00:00Z"), Kind: sealpost.EventDemandFiled, Detail: with(d.detail(), "targets", "many")})
		}, "entry 1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLog(t)
			l.event(transparency.SourceJournal, sealpost.Event{Time: at("2026-01-01T00:00:00Z"), Kind: sealpost.EventPolicyLoaded, Actor: "admin"})
			tc.add(l)
			cp, entries := l.snapshot()
			_, err := Compute(cp, l.vkey, entries, mustPeriod(t, "2026"))
			if !errors.Is(errors.Invalid, err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want an Invalid error naming %q", err, tc.want)
			}
		})
	}
}

func TestEmptyLog(t *testing.T) {
	l := newTestLog(t)
	cp, entries := l.snapshot()
	r, err := Compute(cp, l.vkey, entries, mustPeriod(t, "2026-H1"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Checkpoint.Size != 0 || len(r.Rows) != 0 || r.Totals.Requests != 0 || r.NationalSecurity.Band != "0–249" {
		t.Errorf("report of an empty log = %+v", r)
	}
	j, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(j, []byte(`"rows": []`)) || !bytes.Contains(j, []byte(`"preservation": []`)) {
		t.Errorf("empty lists not written as []:\n%s", j)
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	checkHTML(t, b.Bytes(), r, HTMLOptions{})
}

func computeH1(t *testing.T) *Report {
	t.Helper()
	l := scenario(t)
	cp, entries := l.snapshot()
	r, err := Compute(cp, l.vkey, entries, mustPeriod(t, "2026-H1"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCSV(t *testing.T) {
	r := computeH1(t)
	recs, err := csv.NewReader(bytes.NewReader(r.CSV())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recs[0], Columns) {
		t.Errorf("header = %q", recs[0])
	}
	if want := strings.Join([]string{"period", "country", "instrument", "requests", "accounts_specified",
		"content_disclosed_ciphertext_only", "non_content_only", "no_data_found", "rejected",
		"rejected_out_of_jurisdiction", "challenged", "pending", "via_mlat", "emergency", "users_notified",
		"notices_delayed_by_nondisclosure"}, ","); strings.Join(recs[0], ",") != want {
		t.Errorf("header = %q, want %q", recs[0], want)
	}
	if len(recs) != 1+len(r.Rows)+1 {
		t.Fatalf("%d records, want header, %d rows and totals", len(recs), len(r.Rows))
	}
	// Rebuild each row from its record by the JSON names.
	for i, rec := range recs[1:] {
		m := map[string]any{}
		for j, name := range Columns {
			if j < 3 {
				m[name] = rec[j]
				continue
			}
			n, err := strconv.Atoi(rec[j])
			if err != nil {
				t.Fatalf("record %d column %s: %v", i+1, name, err)
			}
			m[name] = n
		}
		b, _ := json.Marshal(m)
		var got Row
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		want := r.Totals
		if i < len(r.Rows) {
			want = r.Rows[i]
		}
		if got != want {
			t.Errorf("record %d = %+v, want %+v", i+1, got, want)
		}
	}
	if last := recs[len(recs)-1]; last[1] != TotalCountry || last[2] != TotalInstrument || last[3] != "8" {
		t.Errorf("totals record = %q", last)
	}
}

func TestJSON(t *testing.T) {
	r := computeH1(t)
	j, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Period.From.Equal(r.Period.From) || !back.Period.To.Equal(r.Period.To) {
		t.Errorf("period %+v, want %+v", back.Period, r.Period)
	}
	back.Period.From, back.Period.To = r.Period.From, r.Period.To
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, *r)
	}
	// The names, as documented.
	var m map[string]map[string]any
	var top map[string]json.RawMessage
	if err := json.Unmarshal(j, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"period", "checkpoint", "rows", "totals", "preservation", "national_security"} {
		if _, ok := top[k]; !ok {
			t.Errorf("no %q in %s", k, j)
		}
	}
	delete(top, "rows")
	delete(top, "preservation")
	b, _ := json.Marshal(top)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for obj, keys := range map[string][]string{
		"period":            {"name", "from", "to"},
		"checkpoint":        {"origin", "size", "root_hash"},
		"totals":            Columns,
		"national_security": {"band", "withheld_entries_band"},
	} {
		for _, k := range keys {
			if _, ok := m[obj][k]; !ok {
				t.Errorf("no %s.%s in %s", obj, k, j)
			}
		}
	}
	if m["period"]["from"] != "2026-01-01T00:00:00Z" || m["period"]["to"] != "2026-07-01T00:00:00Z" || m["national_security"]["band"] != "0–249" {
		t.Errorf("period or band: %v %v", m["period"], m["national_security"])
	}
	// Deterministic: a second computation gives the same bytes.
	j2, err := computeH1(t).JSON()
	if err != nil {
		t.Fatal(err)
	}
	// The two logs differ in keys, hence roots: compare without the checkpoint.
	strip := func(b []byte) string {
		var v map[string]json.RawMessage
		json.Unmarshal(b, &v)
		delete(v, "checkpoint")
		out, _ := json.Marshal(v)
		return string(out)
	}
	if strip(j) != strip(j2) {
		t.Errorf("two computations differ:\n%s\n%s", j, j2)
	}
}

func TestColumnsDocumented(t *testing.T) {
	if len(countColumns) != len(Columns)-3 {
		t.Fatalf("%d documented columns, want %d", len(countColumns), len(Columns)-3)
	}
	for i, c := range countColumns {
		if c.Name != Columns[3+i] {
			t.Errorf("documented column %d is %q, want %q", i, c.Name, Columns[3+i])
		}
		if !strings.Contains(packageDoc(t), c.Name) {
			t.Errorf("package documentation does not define %s", c.Name)
		}
	}
}
