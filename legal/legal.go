// Package legal holds the types of the lawful-demand gateway, shared by
// its parts: a government's demand for account data, the decisions the
// jurisdiction policy makes about it, and the states of its review.
//
// The gateway's packages (legal/demand, legal/policy, legal/workflow,
// legal/store, legal/disclose) import this one and never package seal:
// nothing in the legal workflow can open sealed mail, so nothing in it can
// be made to.
package legal

import (
	"encoding/json"
	"time"
)

// Instrument is the kind of legal instrument a demand is made under.
type Instrument string

// The instruments a demand may name.
const (
	Subpoena                Instrument = "subpoena"
	RecordsOrder            Instrument = "records_order" // e.g. an SCA 2703(d) order
	SearchWarrant           Instrument = "search_warrant"
	MLATRequest             Instrument = "mlat_request" // executed by Country for RequestingCountry
	EUProductionOrder       Instrument = "eu_production_order"
	PreservationOrder       Instrument = "preservation_order"
	EmergencyRequest        Instrument = "emergency_request"
	InterceptionOrder       Instrument = "interception_order"
	NationalSecurityRequest Instrument = "national_security_request"
)

// Instruments lists every instrument, in a stable order.
var Instruments = []Instrument{Subpoena, RecordsOrder, SearchWarrant, MLATRequest, EUProductionOrder,
	PreservationOrder, EmergencyRequest, InterceptionOrder, NationalSecurityRequest}

// Category is a category of account data a demand asks for.
type Category string

// The data categories.
const (
	Subscriber Category = "subscriber" // who holds the account: address, creation date, region
	Traffic    Category = "traffic"    // metadata of messages: dates, sizes, mailboxes
	Content    Category = "content"    // the messages themselves (sealed)
)

// Categories lists every category, in a stable order.
var Categories = []Category{Subscriber, Traffic, Content}

// Date is a calendar date (no time of day, no zone), written YYYY-MM-DD.
type Date struct{ time.Time }

// Document is a file filed with a demand (the order, a warrant), kept with
// its SHA-256.
type Document struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"` // lower-case hex
	Size   int64  `json:"size"`
}

// Demand is a government's demand for account data, as filed. Tools outside
// Sealpost produce it as JSON or YAML (legal/demand parses and validates).
type Demand struct {
	ID                 string     `json:"id,omitempty"` // assigned when filed
	Reference          string     `json:"reference"`    // the authority's own reference
	Authority          string     `json:"authority"`
	Country            string     `json:"country"` // ISO 3166-1 alpha-2 of the issuing (for MLAT: executing) authority
	Court              string     `json:"court,omitempty"`
	Instrument         Instrument `json:"instrument"`
	RequestingCountry  string     `json:"requesting_country,omitempty"` // mlat_request: the foreign state that asked
	LegalBasis         string     `json:"legal_basis"`
	Targets            []string   `json:"targets"` // addresses
	Categories         []Category `json:"categories"`
	From               *Date      `json:"from,omitempty"`
	To                 *Date      `json:"to,omitempty"`
	NondisclosureUntil *Date      `json:"nondisclosure_until,omitempty"`
	Received           Date       `json:"received"`
	Documents          []Document `json:"documents,omitempty"`
}

// DecisionKind is what the jurisdiction policy decided for one target.
type DecisionKind string

// The decisions.
const (
	Eligible                     DecisionKind = "eligible"
	RejectOutOfJurisdiction      DecisionKind = "reject_out_of_jurisdiction"
	RejectInsufficientInstrument DecisionKind = "reject_insufficient_instrument"
	NoSuchAccount                DecisionKind = "no_such_account"
	NeedsReview                  DecisionKind = "needs_review"
)

// Yields says what an eligible decision for content can hand over at all.
const YieldsCiphertextOnly = "ciphertext_only"

// CategoryDecision is the decision for one data category of one target.
type CategoryDecision struct {
	Category Category     `json:"category"`
	Decision DecisionKind `json:"decision"`
	Reasons  []string     `json:"reasons"`
	Yields   string       `json:"yields,omitempty"` // "ciphertext_only" for eligible content
}

// Decision is the policy's decision for one target of a demand.
type Decision struct {
	Target   string       `json:"target"`
	Decision DecisionKind `json:"decision"`
	Reasons  []string     `json:"reasons"`
	// Route names the lawful route to use instead, where a rejection names
	// one (e.g. "MLAT request to Ireland").
	Route string `json:"route,omitempty"`
	// Yields is "ciphertext_only" when content is eligible: plaintext is
	// never available to the gateway.
	Yields     string             `json:"yields,omitempty"`
	Categories []CategoryDecision `json:"categories,omitempty"`
	// Preserve is true when the data may be preserved (held) even though
	// it may not be disclosed on this demand.
	Preserve      bool   `json:"preserve,omitempty"`
	PolicyVersion string `json:"policy_version"`
}

// State is a demand's state in its review (legal/workflow).
type State string

// The states of a demand.
const (
	Received       State = "received"
	InReview       State = "in_review"
	Rejected       State = "rejected"
	Challenged     State = "challenged"
	Approved       State = "approved" // wholly or partly
	Stayed         State = "stayed"
	Upheld         State = "upheld"
	Overturned     State = "overturned"
	Appealed       State = "appealed"
	Complied       State = "complied"
	HeldInContempt State = "held_in_contempt"
	Won            State = "won"
	Lost           State = "lost"
	Closed         State = "closed"
)

// Transition is one step of a demand's review.
type Transition struct {
	From  State     `json:"from"`
	To    State     `json:"to"`
	Actor string    `json:"actor"` // the legal officer
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
}

// DateLayout is how a Date is written.
const DateLayout = "2006-01-02"

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	return Date{t}, err
}

// String returns YYYY-MM-DD.
func (d Date) String() string { return d.Format(DateLayout) }

// MarshalText writes YYYY-MM-DD (for JSON and YAML).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalJSON writes "YYYY-MM-DD": Date embeds time.Time, whose own JSON
// methods would otherwise win over MarshalText.
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON reads "YYYY-MM-DD" (null leaves d unchanged).
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	return d.UnmarshalText([]byte(s))
}

// UnmarshalText reads YYYY-MM-DD (for JSON and YAML).
func (d *Date) UnmarshalText(b []byte) error {
	t, err := time.Parse(DateLayout, string(b))
	if err != nil {
		return err
	}
	d.Time = t
	return nil
}
