// Package report computes Sealpost's public transparency report from the
// entries of its transparency log (package tlog, entries per package
// transparency) and nothing else, so that anyone holding the log can
// recompute every figure and check it against the checkpoint the report
// names.
//
// Compute first proves that the entries are exactly those a signed
// checkpoint commits to: it checks the checkpoint's signature (C2SP
// tlog-checkpoint, a golang.org/x/mod/sumdb/note signed note) with the
// log's verifier key, that there are as many entries as the checkpoint's
// size, and that their RFC 6962 Merkle tree hash (RFC 6962 2.1) equals the
// checkpoint's root hash. Then it parses every entry (transparency.Parse).
//
// # Rows
//
// The report has one row per period × issuing country × instrument, in the
// shape large providers publish (one line per country and kind of legal
// process). A demand is identified by its entries' detail "demand". Its
// country, instrument, received date, number of targets, requesting country
// and nondisclosure order are taken from its demand.filed entry (or, if the
// log holds none, from its first entry). A demand belongs to the period in
// which its received date falls; its outcome is judged from all of its
// entries the checkpoint commits to, whenever they were logged. An event
// logged twice (the same source and sequence number) counts once.
//
// The columns, which are also the CSV header and the JSON names:
//
//	period, country, instrument   the row's key; country is the issuing
//	                              (for an MLAT request, the executing) state
//	requests                      demands received in the period
//	accounts_specified            the sum of their targets
//	content_disclosed_ciphertext_only
//	                              a demand.disclosure entry exists and some
//	                              demand.decided entry found content eligible
//	                              (category_decisions has content:eligible,
//	                              or yields is ciphertext_only): Sealpost
//	                              holds content only sealed to its owner, so
//	                              what was handed over was ciphertext
//	non_content_only              a disclosure, otherwise
//	no_data_found                 no disclosure, and every decision was
//	                              no_such_account
//	rejected                      no disclosure, and either the demand's
//	                              latest demand.transition went to rejected,
//	                              won, overturned or closed, or every
//	                              decision was a reject_* one
//	rejected_out_of_jurisdiction  of rejected, those with some decision
//	                              reject_out_of_jurisdiction
//	challenged                    demands with a transition to challenged,
//	                              whatever their outcome
//	pending                       every other demand
//	via_mlat                      instrument mlat_request, or a requesting
//	                              country given
//	emergency                     instrument emergency_request
//	users_notified                notice.sent entries of the demands
//	notices_delayed_by_nondisclosure
//	                              demand.decided entries (one per target)
//	                              of demands under a nondisclosure order
//
// The five outcomes (content disclosed, non-content only, no data found,
// rejected, pending) are exclusive and are tried in that order, so they
// add up to requests. A totals row sums every row.
//
// Preservation orders (instrument preservation_order) ask to keep data, not
// to hand it over; they are not in the rows but counted apart, per country:
// requests and accounts specified.
//
// National-security requests are withheld from the log: each of their
// events is published only as a commitment dated to the day (Kind
// transparency.KindWithheld). The report gives only the band, 250 wide
// ("0–249", "250–499", …), in which the number of withheld entries dated
// in the period falls. Every such request makes at least one withheld
// entry, so the upper end of the band bounds the number of requests from
// above; the requests may be fewer than the lower end. Should the log hold
// a national_security_request demand whose entries were not withheld,
// its entries dated in the period are counted into the band too and the
// demand appears in no row.
package report

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/transparency"
	fmtlog "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Report is a transparency report for one period, computed from the log
// up to one checkpoint.
type Report struct {
	Period     Period     `json:"period"`
	Checkpoint Checkpoint `json:"checkpoint"`
	// Rows are sorted by country, then instrument.
	Rows   []Row `json:"rows"`
	Totals Row   `json:"totals"` // Country TotalCountry, Instrument TotalInstrument
	// Preservation counts preservation orders per country, sorted.
	Preservation     []Preservation   `json:"preservation"`
	NationalSecurity NationalSecurity `json:"national_security"`
}

// Checkpoint names the checkpoint a report was computed from.
type Checkpoint struct {
	Origin   string `json:"origin"`
	Size     uint64 `json:"size"`
	RootHash string `json:"root_hash"` // standard base64, as in the checkpoint
}

// The key of the totals row.
const (
	TotalCountry    = "total"
	TotalInstrument = "all"
)

// Columns are the names of a Row's fields, in order: the CSV header and
// the JSON names.
var Columns = []string{
	"period", "country", "instrument", "requests", "accounts_specified",
	"content_disclosed_ciphertext_only", "non_content_only", "no_data_found",
	"rejected", "rejected_out_of_jurisdiction", "challenged", "pending",
	"via_mlat", "emergency", "users_notified", "notices_delayed_by_nondisclosure",
}

// A Row counts the demands of one country and instrument received in the
// period (see the package documentation for each figure's definition).
type Row struct {
	Period                    string `json:"period"`
	Country                   string `json:"country"`
	Instrument                string `json:"instrument"`
	Requests                  int    `json:"requests"`
	AccountsSpecified         int    `json:"accounts_specified"`
	ContentDisclosed          int    `json:"content_disclosed_ciphertext_only"`
	NonContentOnly            int    `json:"non_content_only"`
	NoDataFound               int    `json:"no_data_found"`
	Rejected                  int    `json:"rejected"`
	RejectedOutOfJurisdiction int    `json:"rejected_out_of_jurisdiction"`
	Challenged                int    `json:"challenged"`
	Pending                   int    `json:"pending"`
	ViaMLAT                   int    `json:"via_mlat"`
	Emergency                 int    `json:"emergency"`
	UsersNotified             int    `json:"users_notified"`
	NoticesDelayed            int    `json:"notices_delayed_by_nondisclosure"`
}

// counts returns r's figures in the order of Columns[3:].
func (r *Row) counts() []*int {
	return []*int{
		&r.Requests, &r.AccountsSpecified, &r.ContentDisclosed, &r.NonContentOnly,
		&r.NoDataFound, &r.Rejected, &r.RejectedOutOfJurisdiction, &r.Challenged,
		&r.Pending, &r.ViaMLAT, &r.Emergency, &r.UsersNotified, &r.NoticesDelayed,
	}
}

// add adds o's figures to r's.
func (r *Row) add(o *Row) {
	oc := o.counts()
	for i, c := range r.counts() {
		*c += *oc[i]
	}
}

// Preservation counts the preservation orders of one country.
type Preservation struct {
	Country  string `json:"country"`
	Requests int    `json:"requests"`
	Accounts int    `json:"accounts"` // accounts specified
}

// BandWidth is the width of the band national-security figures are given in.
const BandWidth = 250

// NationalSecurity is what the report says of national-security requests.
type NationalSecurity struct {
	// Band is WithheldEntriesBand written "0–249": the number of
	// national-security requests is at most its upper end.
	Band                string `json:"band"`
	WithheldEntriesBand Band   `json:"withheld_entries_band"`
}

// A Band is a range of counts, Low to High inclusive.
type Band struct {
	Low  int `json:"low"`
	High int `json:"high"`
}

// String writes b as "Low–High" (with an en dash).
func (b Band) String() string { return strconv.Itoa(b.Low) + "–" + strconv.Itoa(b.High) }

// bandOf returns the band of width BandWidth that holds n.
func bandOf(n int) Band {
	low := n / BandWidth * BandWidth
	return Band{Low: low, High: low + BandWidth - 1}
}

// Compute computes the report for period p from entries, which must be
// exactly the entries the signed checkpoint commits to, in order;
// verifierKey (golang.org/x/mod/sumdb/note text form) checks the
// checkpoint's signature and names its origin. Any failure of the
// checkpoint, the tree or an entry is errors.Invalid.
func Compute(checkpoint []byte, verifierKey string, entries [][]byte, p Period) (*Report, error) {
	const op = "report.Compute"
	if !p.From.Before(p.To) {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("period %q is empty", p.Name))
	}
	cp, err := verifyCheckpoint(checkpoint, verifierKey)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if uint64(len(entries)) != cp.Size {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("%d entries, but the checkpoint commits to %d", len(entries), cp.Size))
	}
	root, err := treeHash(entries)
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	if !slices.Equal(root[:], cp.Hash) {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("the entries' tree hash %s is not the checkpoint's root hash %s",
			base64.StdEncoding.EncodeToString(root[:]), base64.StdEncoding.EncodeToString(cp.Hash)))
	}
	t := newTally(p)
	for i, data := range entries {
		e, err := transparency.Parse(data)
		if err != nil {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("entry %d: %w", i, err))
		}
		if err := t.add(i, e); err != nil {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("entry %d: %w", i, err))
		}
	}
	r, err := t.report()
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	r.Checkpoint = Checkpoint{Origin: cp.Origin, Size: cp.Size, RootHash: base64.StdEncoding.EncodeToString(cp.Hash)}
	return r, nil
}

// verifyCheckpoint opens a signed checkpoint with verifierKey, whose name
// must be the checkpoint's origin.
func verifyCheckpoint(checkpoint []byte, verifierKey string) (*fmtlog.Checkpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, errors.E(errors.Invalid, errors.Errorf("bad verifier key: %v", err))
	}
	cp, _, _, err := fmtlog.ParseCheckpoint(checkpoint, v.Name(), v)
	if err != nil {
		return nil, errors.E(errors.Invalid, errors.Errorf("checkpoint: %v", err))
	}
	if len(cp.Hash) != tlog.HashSize {
		return nil, errors.E(errors.Invalid, errors.Errorf("checkpoint root hash is %d bytes, want %d", len(cp.Hash), tlog.HashSize))
	}
	return cp, nil
}

// treeHash returns the RFC 6962 Merkle tree hash of entries, kept in
// memory as tlog's stored hashes (about two per entry).
func treeHash(entries [][]byte) (tlog.Hash, error) {
	stored := make([]tlog.Hash, 0, 2*len(entries))
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(stored)) {
				return nil, errors.Errorf("stored hash %d not computed", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, e := range entries {
		hs, err := tlog.StoredHashes(int64(i), e, r)
		if err != nil {
			return tlog.Hash{}, err
		}
		stored = append(stored, hs...)
	}
	return tlog.TreeHash(int64(len(entries)), r)
}

// A use is what the report takes from an entry of one event kind.
type use int

const (
	uncounted       use = iota // nothing of its own (an entry naming a demand still makes it known)
	countFiling                // the demand's facts and its targets
	countDecision              // one target's decision
	countTransition            // a step of the demand's review
	countDisclosure            // a disclosure
	countNotice                // a user notified
)

// uses says what the report takes from each kind of event. Every kind is
// listed (TestEveryKindUsed), so that a new kind is counted or left out by
// decision; a kind not listed (say, an entry of a newer version) is
// uncounted.
var uses = map[sealpost.EventKind]use{
	sealpost.EventDemandFiled:          countFiling,
	sealpost.EventDemandDecided:        countDecision,
	sealpost.EventDemandTransition:     countTransition,
	sealpost.EventDemandApproval:       uncounted,
	sealpost.EventDemandDisclosure:     countDisclosure,
	sealpost.EventHoldPlaced:           uncounted,
	sealpost.EventHoldReleased:         uncounted,
	sealpost.EventNoticeQueued:         uncounted,
	sealpost.EventNoticeSent:           countNotice,
	sealpost.EventOfficerAdded:         uncounted,
	sealpost.EventMailboxMoveRequested: uncounted,
	sealpost.EventMailboxMoveCompleted: uncounted,
	sealpost.EventAccountReset:         uncounted,
	sealpost.EventAccountDeleted:       uncounted,
	sealpost.EventPolicyLoaded:         uncounted,
	sealpost.EventResidencyAudit:       uncounted,
	sealpost.EventCanarySigned:         uncounted,
}

// demand is what the log says of one demand.
type demand struct {
	id         string
	first      int  // index of its first entry
	filed      bool // facts below come from its demand.filed entry
	country    string
	instrument string
	received   string
	requesting string
	gagged     bool // carries nondisclosure_until
	targets    int

	decisions       []string // decision of each demand.decided entry
	contentEligible bool
	disclosed       bool
	lastTo          string // "to" of the latest transition
	challenged      bool
	noticesSent     int
}

// outcome names the exclusive outcomes.
type outcome int

const (
	contentDisclosed outcome = iota
	nonContentOnly
	noDataFound
	rejected
	pending
)

// outcome judges d's outcome (package documentation, "Rows").
func (d *demand) outcome() outcome {
	switch {
	case d.disclosed && d.contentEligible:
		return contentDisclosed
	case d.disclosed:
		return nonContentOnly
	case len(d.decisions) > 0 && allDecisions(d.decisions, func(s string) bool { return s == string(legal.NoSuchAccount) }):
		return noDataFound
	case slices.Contains([]legal.State{legal.Rejected, legal.Won, legal.Overturned, legal.Closed}, legal.State(d.lastTo)),
		len(d.decisions) > 0 && allDecisions(d.decisions, func(s string) bool { return strings.HasPrefix(s, "reject_") }):
		return rejected
	}
	return pending
}

func allDecisions(ds []string, f func(string) bool) bool {
	for _, d := range ds {
		if !f(d) {
			return false
		}
	}
	return true
}

// tally accumulates the log's entries for a period.
type tally struct {
	p        Period
	seen     map[string]bool // src + seq of the entries counted
	demands  map[string]*demand
	withheld int // withheld entries (and visible national-security ones) dated in p
}

func newTally(p Period) *tally {
	return &tally{p: p, seen: make(map[string]bool), demands: make(map[string]*demand)}
}

// add takes in the entry at index i.
func (t *tally) add(i int, e transparency.Entry) error {
	key := e.Src + "\x00" + strconv.FormatInt(e.Seq, 10)
	if t.seen[key] {
		return nil
	}
	t.seen[key] = true
	if e.Kind == transparency.KindWithheld {
		when, err := e.When()
		if err != nil {
			return err
		}
		if t.p.Contains(when) {
			t.withheld++
		}
		return nil
	}
	id := e.DemandOf()
	if id == "" {
		return nil
	}
	if e.Detail["instrument"] == string(legal.NationalSecurityRequest) {
		when, err := e.When()
		if err != nil {
			return err
		}
		if t.p.Contains(when) {
			t.withheld++
		}
	}
	d := t.demands[id]
	if d == nil {
		d = &demand{id: id, first: i}
		d.facts(e.Detail)
		t.demands[id] = d
	}
	if e.Detail["nondisclosure_until"] != "" {
		d.gagged = true
	}
	switch uses[e.Kind] {
	case countFiling:
		if !d.filed {
			d.filed = true
			d.facts(e.Detail)
			if s, ok := e.Detail["targets"]; ok {
				n, err := strconv.Atoi(s)
				if err != nil || n < 0 {
					return errors.Errorf("demand %s: targets %q is not a count", id, s)
				}
				d.targets = n
			}
		}
	case countDecision:
		d.decisions = append(d.decisions, e.Detail["decision"])
		if e.Detail["yields"] == legal.YieldsCiphertextOnly ||
			slices.Contains(strings.Split(e.Detail["category_decisions"], ","), string(legal.Content)+":"+string(legal.Eligible)) {
			d.contentEligible = true
		}
	case countTransition:
		d.lastTo = e.Detail["to"]
		if d.lastTo == string(legal.Challenged) {
			d.challenged = true
		}
	case countDisclosure:
		d.disclosed = true
	case countNotice:
		d.noticesSent++
	}
	return nil
}

// facts sets d's description from an entry's detail.
func (d *demand) facts(detail map[string]string) {
	d.country = detail["country"]
	d.instrument = detail["instrument"]
	d.received = detail["received"]
	d.requesting = detail["requesting_country"]
}

// report makes the report of the entries taken in.
func (t *tally) report() (*Report, error) {
	r := &Report{
		Period:       t.p,
		Rows:         []Row{},
		Preservation: []Preservation{},
		Totals:       Row{Period: t.p.Name, Country: TotalCountry, Instrument: TotalInstrument},
	}
	rows := make(map[[2]string]*Row)
	pres := make(map[string]*Preservation)
	for _, d := range t.demands {
		received, err := time.Parse(time.DateOnly, d.received)
		if err != nil {
			return nil, errors.Errorf("entry %d: demand %s: received %q is not a date", d.first, d.id, d.received)
		}
		if !t.p.Contains(received) {
			continue
		}
		switch legal.Instrument(d.instrument) {
		case legal.NationalSecurityRequest:
			continue // in the band only
		case legal.PreservationOrder:
			pr := pres[d.country]
			if pr == nil {
				pr = &Preservation{Country: d.country}
				pres[d.country] = pr
			}
			pr.Requests++
			pr.Accounts += d.targets
			continue
		}
		k := [2]string{d.country, d.instrument}
		row := rows[k]
		if row == nil {
			row = &Row{Period: t.p.Name, Country: d.country, Instrument: d.instrument}
			rows[k] = row
		}
		row.Requests++
		row.AccountsSpecified += d.targets
		switch d.outcome() {
		case contentDisclosed:
			row.ContentDisclosed++
		case nonContentOnly:
			row.NonContentOnly++
		case noDataFound:
			row.NoDataFound++
		case rejected:
			row.Rejected++
			if slices.Contains(d.decisions, string(legal.RejectOutOfJurisdiction)) {
				row.RejectedOutOfJurisdiction++
			}
		default:
			row.Pending++
		}
		if d.challenged {
			row.Challenged++
		}
		if legal.Instrument(d.instrument) == legal.MLATRequest || d.requesting != "" {
			row.ViaMLAT++
		}
		if legal.Instrument(d.instrument) == legal.EmergencyRequest {
			row.Emergency++
		}
		row.UsersNotified += d.noticesSent
		if d.gagged {
			row.NoticesDelayed += len(d.decisions)
		}
	}
	for _, row := range rows {
		r.Rows = append(r.Rows, *row)
	}
	slices.SortFunc(r.Rows, func(a, b Row) int {
		if c := strings.Compare(a.Country, b.Country); c != 0 {
			return c
		}
		return strings.Compare(a.Instrument, b.Instrument)
	})
	for i := range r.Rows {
		r.Totals.add(&r.Rows[i])
	}
	for _, pr := range pres {
		r.Preservation = append(r.Preservation, *pr)
	}
	slices.SortFunc(r.Preservation, func(a, b Preservation) int { return strings.Compare(a.Country, b.Country) })
	b := bandOf(t.withheld)
	r.NationalSecurity = NationalSecurity{Band: b.String(), WithheldEntriesBand: b}
	return r, nil
}
