package demand

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/legal"
)

func date(s string) legal.Date {
	d, err := legal.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func datep(s string) *legal.Date {
	d := date(s)
	return &d
}

const digest = "48fb0e815a672d462cc7ddfc01fa51abc4132a7d0e5dde7b0594c4d8494810b8"

// valid returns a demand that passes Validate at now.
func valid() legal.Demand {
	return legal.Demand{
		Reference:  "26 Mag. 2143",
		Authority:  "U.S. Department of Justice",
		Country:    "US",
		Court:      "U.S. District Court for the Southern District of New York",
		Instrument: legal.SearchWarrant,
		LegalBasis: "18 U.S.C. 2703(a)",
		Targets:    []string{"alice@demo.example", "bob@demo.example"},
		Categories: []legal.Category{legal.Subscriber, legal.Content},
		From:       datep("2026-01-01"),
		To:         datep("2026-09-30"),
		Received:   date("2026-10-05"),
		Documents:  []legal.Document{{Name: "warrant.pdf", SHA256: digest, Size: 715}},
	}
}

func TestValidateValid(t *testing.T) {
	if es := Validate(valid(), now); es != nil {
		t.Fatalf("valid demand: %v", es)
	}
	// Variants that are valid too.
	tests := []struct {
		name string
		edit func(d *legal.Demand)
	}{
		{"no court for a subpoena", func(d *legal.Demand) { d.Instrument, d.Court = legal.Subpoena, "" }},
		{"court for a subpoena", func(d *legal.Demand) { d.Instrument = legal.Subpoena }},
		{"no court for a preservation order", func(d *legal.Demand) { d.Instrument, d.Court = legal.PreservationOrder, "" }},
		{"mlat request", func(d *legal.Demand) { d.Instrument, d.Country, d.RequestingCountry = legal.MLATRequest, "IE", "US" }},
		{"no dates", func(d *legal.Demand) { d.From, d.To = nil, nil }},
		{"from only", func(d *legal.Demand) { d.To = nil }},
		{"from equals to", func(d *legal.Demand) { d.From = datep("2026-09-30") }},
		{"to is today", func(d *legal.Demand) { d.To = datep("2026-11-22") }},
		{"received today", func(d *legal.Demand) { d.Received = date("2026-11-22") }},
		// Tomorrow in UTC is already today in Kiribati.
		{"received today somewhere", func(d *legal.Demand) { d.Received = date("2026-11-23") }},
		{"interception period ahead", func(d *legal.Demand) {
			d.Instrument, d.From, d.To = legal.InterceptionOrder, datep("2026-12-01"), datep("2027-02-28")
		}},
		{"gag", func(d *legal.Demand) { d.NondisclosureUntil = datep("2027-10-05") }},
		{"gag lapsed", func(d *legal.Demand) { d.NondisclosureUntil = datep("2026-10-06") }},
		{"all categories", func(d *legal.Demand) { d.Categories = legal.Categories }},
		{"any instrument any category", func(d *legal.Demand) {
			d.Instrument, d.Categories = legal.EmergencyRequest, []legal.Category{legal.Content}
		}},
		{"no documents", func(d *legal.Demand) { d.Documents = nil }},
		{"empty document", func(d *legal.Demand) { d.Documents[0].Size = 0 }},
		{"id", func(d *legal.Demand) { d.ID = "d-0001" }},
		{"reference at its limit", func(d *legal.Demand) { d.Reference = strings.Repeat("é", MaxReference) }},
		{"unicode authority", func(d *legal.Demand) { d.Authority = "Ministère de la Justice" }},
		{"plus address", func(d *legal.Demand) { d.Targets = []string{"alice+tag@demo.example", "o'brien.x@mail.demo-1.example"} }},
		{"1000 targets", func(d *legal.Demand) {
			d.Targets = nil
			for i := range MaxTargets {
				d.Targets = append(d.Targets, "u"+strconv.Itoa(i)+"@demo.example")
			}
		}},
		{"longest local part", func(d *legal.Demand) { d.Targets = []string{strings.Repeat("a", 64) + "@demo.example"} }},
		{"zero now skips the clock", func(d *legal.Demand) { d.Received = date("2099-01-01") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			tt.edit(&d)
			at := now
			if tt.name == "zero now skips the clock" {
				at = time.Time{}
			}
			if es := Validate(d, at); es != nil {
				t.Errorf("%v", es)
			}
		})
	}
}

// TestValidateRules changes one field of a valid demand at a time and
// checks that exactly that field's error is reported.
func TestValidateRules(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(d *legal.Demand)
		field string
	}{
		{"id not printable", func(d *legal.Demand) { d.ID = "a\nb" }, "id"},
		{"reference missing", func(d *legal.Demand) { d.Reference = "" }, "reference"},
		{"reference too long", func(d *legal.Demand) { d.Reference = strings.Repeat("x", MaxReference+1) }, "reference"},
		{"reference control", func(d *legal.Demand) { d.Reference = "26\x00Mag" }, "reference"},
		{"reference tab", func(d *legal.Demand) { d.Reference = "26\tMag" }, "reference"},
		{"reference two lines", func(d *legal.Demand) { d.Reference = "26\nMag" }, "reference"},
		{"reference not normalized", func(d *legal.Demand) { d.Reference = " 26 Mag. 2143" }, "reference"},
		{"reference bad utf-8", func(d *legal.Demand) { d.Reference = "26 \xff" }, "reference"},
		{"authority missing", func(d *legal.Demand) { d.Authority = "" }, "authority"},
		{"authority too long", func(d *legal.Demand) { d.Authority = strings.Repeat("x", MaxText+1) }, "authority"},
		{"country missing", func(d *legal.Demand) { d.Country = "" }, "country"},
		{"country unassigned", func(d *legal.Demand) { d.Country = "XX" }, "country"},
		{"country lower case", func(d *legal.Demand) { d.Country = "us" }, "country"},
		{"country alpha-3", func(d *legal.Demand) { d.Country = "USA" }, "country"},
		{"country EU", func(d *legal.Demand) { d.Country = "EU" }, "country"},
		{"court missing for a warrant", func(d *legal.Demand) { d.Court = "" }, "court"},
		{"court missing for a records order", func(d *legal.Demand) { d.Instrument, d.Court = legal.RecordsOrder, "" }, "court"},
		{"court missing for an interception order", func(d *legal.Demand) { d.Instrument, d.Court = legal.InterceptionOrder, "" }, "court"},
		{"court not printable", func(d *legal.Demand) { d.Instrument, d.Court = legal.Subpoena, "x\x7f" }, "court"},
		{"instrument missing", func(d *legal.Demand) { d.Instrument = "" }, "instrument"},
		{"instrument unknown", func(d *legal.Demand) { d.Instrument = "letter" }, "instrument"},
		{"instrument wrong case", func(d *legal.Demand) { d.Instrument = "Search_Warrant" }, "instrument"},
		{"mlat without requesting country", func(d *legal.Demand) { d.Instrument, d.Country = legal.MLATRequest, "IE" }, "requesting_country"},
		{"mlat requesting itself", func(d *legal.Demand) { d.Instrument, d.RequestingCountry = legal.MLATRequest, "US" }, "requesting_country"},
		{"mlat requesting country unassigned", func(d *legal.Demand) { d.Instrument, d.RequestingCountry = legal.MLATRequest, "QQ" }, "requesting_country"},
		{"requesting country on a warrant", func(d *legal.Demand) { d.RequestingCountry = "IE" }, "requesting_country"},
		{"legal basis missing", func(d *legal.Demand) { d.LegalBasis = "" }, "legal_basis"},
		{"legal basis too long", func(d *legal.Demand) { d.LegalBasis = strings.Repeat("x", MaxLegalBasis+1) }, "legal_basis"},
		{"no targets", func(d *legal.Demand) { d.Targets = nil }, "targets"},
		{"empty targets", func(d *legal.Demand) { d.Targets = []string{} }, "targets"},
		{"too many targets", func(d *legal.Demand) {
			d.Targets = nil
			for i := range MaxTargets + 1 {
				d.Targets = append(d.Targets, "u"+strconv.Itoa(i)+"@demo.example")
			}
		}, "targets"},
		{"target no at", func(d *legal.Demand) { d.Targets[1] = "bob.demo.example" }, "targets[1]"},
		{"target upper case", func(d *legal.Demand) { d.Targets[1] = "Bob@demo.example" }, "targets[1]"},
		{"target empty local", func(d *legal.Demand) { d.Targets[1] = "@demo.example" }, "targets[1]"},
		{"target empty domain", func(d *legal.Demand) { d.Targets[1] = "bob@" }, "targets[1]"},
		{"target one label", func(d *legal.Demand) { d.Targets[1] = "bob@localhost" }, "targets[1]"},
		{"target two ats", func(d *legal.Demand) { d.Targets[1] = "bob@x@demo.example" }, "targets[1]"},
		{"target space", func(d *legal.Demand) { d.Targets[1] = "bob smith@demo.example" }, "targets[1]"},
		{"target leading dot", func(d *legal.Demand) { d.Targets[1] = ".bob@demo.example" }, "targets[1]"},
		{"target double dot", func(d *legal.Demand) { d.Targets[1] = "bo..b@demo.example" }, "targets[1]"},
		{"target quoted", func(d *legal.Demand) { d.Targets[1] = `"bob"@demo.example` }, "targets[1]"},
		{"target literal", func(d *legal.Demand) { d.Targets[1] = "bob@[192.0.2.1]" }, "targets[1]"},
		{"target label hyphen", func(d *legal.Demand) { d.Targets[1] = "bob@-demo.example" }, "targets[1]"},
		{"target empty label", func(d *legal.Demand) { d.Targets[1] = "bob@demo..example" }, "targets[1]"},
		{"target label too long", func(d *legal.Demand) { d.Targets[1] = "bob@" + strings.Repeat("a", 64) + ".example" }, "targets[1]"},
		{"target local too long", func(d *legal.Demand) { d.Targets[1] = strings.Repeat("a", 65) + "@demo.example" }, "targets[1]"},
		{"target too long", func(d *legal.Demand) {
			d.Targets[1] = "bob@" + strings.Repeat(strings.Repeat("a", 60)+".", 4) + "example"
		}, "targets[1]"},
		{"target not ascii", func(d *legal.Demand) { d.Targets[1] = "zoë@demo.example" }, "targets[1]"},
		{"target duplicate", func(d *legal.Demand) { d.Targets[1] = "alice@demo.example" }, "targets[1]"},
		{"no categories", func(d *legal.Demand) { d.Categories = nil }, "categories"},
		{"category unknown", func(d *legal.Demand) { d.Categories[1] = "location" }, "categories[1]"},
		{"category duplicate", func(d *legal.Demand) { d.Categories[1] = legal.Subscriber }, "categories[1]"},
		{"from after to", func(d *legal.Demand) { d.From = datep("2026-10-01") }, "to"},
		{"from in the future", func(d *legal.Demand) { d.From, d.To = datep("2026-11-24"), nil }, "from"},
		{"to in the future", func(d *legal.Demand) { d.To = datep("2026-11-24") }, "to"},
		{"future period on a warrant", func(d *legal.Demand) { d.From, d.To = nil, datep("2027-01-01") }, "to"},
		{"gag before received", func(d *legal.Demand) { d.NondisclosureUntil = datep("2026-10-04") }, "nondisclosure_until"},
		{"gag on received", func(d *legal.Demand) { d.NondisclosureUntil = datep("2026-10-05") }, "nondisclosure_until"},
		{"received missing", func(d *legal.Demand) { d.Received = legal.Date{} }, "received"},
		{"received in the future", func(d *legal.Demand) { d.Received = date("2026-11-24") }, "received"},
		{"too many documents", func(d *legal.Demand) {
			for i := range MaxDocuments {
				d.Documents = append(d.Documents, legal.Document{Name: "d" + strconv.Itoa(i), SHA256: digest})
			}
		}, "documents"},
		{"document name missing", func(d *legal.Demand) { d.Documents[0].Name = "" }, "documents[0].name"},
		{"document name path", func(d *legal.Demand) { d.Documents[0].Name = "orders/warrant.pdf" }, "documents[0].name"},
		{"document name absolute", func(d *legal.Demand) { d.Documents[0].Name = "/etc/passwd" }, "documents[0].name"},
		{"document name backslash", func(d *legal.Demand) { d.Documents[0].Name = `..\warrant.pdf` }, "documents[0].name"},
		{"document name windows drive", func(d *legal.Demand) { d.Documents[0].Name = "C:warrant.pdf" }, "documents[0].name"},
		{"document name dot dot", func(d *legal.Demand) { d.Documents[0].Name = ".." }, "documents[0].name"},
		{"document name dot", func(d *legal.Demand) { d.Documents[0].Name = "." }, "documents[0].name"},
		{"document name holding dot dot", func(d *legal.Demand) { d.Documents[0].Name = "warrant..pdf" }, "documents[0].name"},
		{"document name control", func(d *legal.Demand) { d.Documents[0].Name = "warrant\n.pdf" }, "documents[0].name"},
		{"document name too long", func(d *legal.Demand) { d.Documents[0].Name = strings.Repeat("a", MaxDocName+1) }, "documents[0].name"},
		{"document name duplicate", func(d *legal.Demand) {
			d.Documents = append(d.Documents, legal.Document{Name: "warrant.pdf", SHA256: digest})
		}, "documents[1].name"},
		{"document digest missing", func(d *legal.Demand) { d.Documents[0].SHA256 = "" }, "documents[0].sha256"},
		{"document digest short", func(d *legal.Demand) { d.Documents[0].SHA256 = digest[:63] }, "documents[0].sha256"},
		{"document digest upper case", func(d *legal.Demand) { d.Documents[0].SHA256 = strings.ToUpper(digest) }, "documents[0].sha256"},
		{"document digest not hex", func(d *legal.Demand) { d.Documents[0].SHA256 = "g" + digest[1:] }, "documents[0].sha256"},
		{"document size negative", func(d *legal.Demand) { d.Documents[0].Size = -1 }, "documents[0].size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			d.Targets = append([]string(nil), d.Targets...)
			d.Categories = append([]legal.Category(nil), d.Categories...)
			d.Documents = append([]legal.Document(nil), d.Documents...)
			tt.edit(&d)
			es := Validate(d, now)
			if len(es) != 1 || es[0].Field != tt.field || es[0].Message == "" {
				t.Errorf("errors %q, want exactly one for %s", es, tt.field)
			}
		})
	}
}

func TestValidateSeveral(t *testing.T) {
	d := valid()
	d.Reference = ""
	d.Country = "XX"
	d.Court = ""
	d.Targets = []string{"alice@demo.example", "not an address", "alice@demo.example"}
	d.Categories = []legal.Category{"content", "content", "location"}
	d.Received = date("2027-01-01")
	d.Documents = []legal.Document{{Name: "../x", SHA256: "00", Size: -5}}
	var got []string
	for _, e := range Validate(d, now) {
		got = append(got, e.Field)
	}
	want := []string{"reference", "country", "court", "targets[1]", "targets[2]", "categories[1]", "categories[2]",
		"received", "documents[0].name", "documents[0].sha256", "documents[0].size"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields\n%q\nwant\n%q", got, want)
	}
	// An empty demand names every required field.
	got = nil
	for _, e := range Validate(legal.Demand{}, now) {
		got = append(got, e.Field)
	}
	want = []string{"reference", "authority", "country", "instrument", "legal_basis", "targets", "categories", "received"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("empty demand: fields\n%q\nwant\n%q", got, want)
	}
}

func TestNormalize(t *testing.T) {
	d := legal.Demand{
		ID:                " d1 ",
		Reference:         "  26 Mag. 2143\n",
		Authority:         "\tU.S. Department of Justice ",
		Country:           " us",
		Court:             " SDNY ",
		Instrument:        " Search_Warrant ",
		RequestingCountry: "ie ",
		LegalBasis:        " 18 U.S.C. 2703(a) ",
		Targets:           []string{" Alice@Demo.Example", "BOB@demo.example "},
		Categories:        []legal.Category{"Content", "location", " traffic", "subscriber"},
		Documents:         []legal.Document{{Name: " warrant.pdf ", SHA256: " " + strings.ToUpper(digest), Size: 1}},
	}
	Normalize(&d)
	want := legal.Demand{
		ID:                "d1",
		Reference:         "26 Mag. 2143",
		Authority:         "U.S. Department of Justice",
		Country:           "US",
		Court:             "SDNY",
		Instrument:        legal.SearchWarrant,
		RequestingCountry: "IE",
		LegalBasis:        "18 U.S.C. 2703(a)",
		Targets:           []string{"alice@demo.example", "bob@demo.example"},
		Categories:        []legal.Category{legal.Subscriber, legal.Traffic, legal.Content, "location"},
		Documents:         []legal.Document{{Name: "warrant.pdf", SHA256: digest, Size: 1}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}
	// Normalizing twice changes nothing.
	again := d
	again.Targets = append([]string(nil), d.Targets...)
	again.Categories = append([]legal.Category(nil), d.Categories...)
	again.Documents = append([]legal.Document(nil), d.Documents...)
	Normalize(&again)
	if !reflect.DeepEqual(again, d) {
		t.Errorf("not idempotent: %+v", again)
	}
	// Duplicates are left for Validate.
	d = legal.Demand{Targets: []string{"a@b.example", "A@B.example"}}
	Normalize(&d)
	if len(d.Targets) != 2 {
		t.Errorf("Normalize removed a duplicate: %q", d.Targets)
	}
}

func TestLatestToday(t *testing.T) {
	tests := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), "2026-11-22"},
		{time.Date(2026, 11, 22, 9, 59, 0, 0, time.UTC), "2026-11-22"},
		{time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), "2026-11-23"},
		{time.Date(2026, 11, 22, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)), "2026-11-23"},
	}
	for _, tt := range tests {
		if got := latestToday(tt.now).Format(legal.DateLayout); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.now, got, tt.want)
		}
	}
}
