package demand

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// now is the clock the tests validate against: after every date in
// testdata, before the gag of us-warrant-alice-gag.json lapses.
var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

var examples = []string{
	"us-warrant-alice.json",
	"us-warrant-alice.yaml",
	"us-warrant-bob.json",
	"us-subpoena-bob.yaml",
	"us-warrant-alice-gag.json",
	"preservation-alice.json",
	"mlat-ie-alice.json",
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fieldErrors returns the Errors inside err, failing the test if err is
// not Invalid wrapping Errors.
func fieldErrors(t *testing.T, err error) Errors {
	t.Helper()
	if !errors.Is(errors.Invalid, err) {
		t.Fatalf("error %v: kind %v, want invalid", err, errors.KindOf(err))
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v does not wrap Errors", err)
	}
	return es
}

func hasField(es Errors, field string) bool {
	for _, e := range es {
		if e.Field == field {
			return true
		}
	}
	return false
}

func TestExamples(t *testing.T) {
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			d, err := ParseAndValidate(readFile(t, name), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Documents) == 0 {
				t.Fatal("no documents")
			}
			// The documents the demand lists are in testdata/documents,
			// with the digest and size it gives.
			for _, doc := range d.Documents {
				b := readFile(t, filepath.Join("documents", doc.Name))
				sum := sha256.Sum256(b)
				if got := hex.EncodeToString(sum[:]); got != doc.SHA256 || int64(len(b)) != doc.Size {
					t.Errorf("%s: file has sha256 %s size %d, demand says %s %d", doc.Name, got, len(b), doc.SHA256, doc.Size)
				}
			}
		})
	}
}

func TestExampleContents(t *testing.T) {
	parse := func(name string) legal.Demand {
		d, err := ParseAndValidate(readFile(t, name), now)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	alice := parse("us-warrant-alice.json")
	if alice.Instrument != legal.SearchWarrant || alice.Country != "US" || alice.Court == "" ||
		!reflect.DeepEqual(alice.Targets, []string{"alice@demo.example"}) ||
		!reflect.DeepEqual(alice.Categories, []legal.Category{legal.Content}) || alice.NondisclosureUntil != nil {
		t.Errorf("us-warrant-alice.json: %+v", alice)
	}
	gag := parse("us-warrant-alice-gag.json")
	if gag.NondisclosureUntil == nil || !gag.NondisclosureUntil.After(now) {
		t.Errorf("us-warrant-alice-gag.json: the gag should still be in force at %v: %v", now, gag.NondisclosureUntil)
	}
	sub := parse("us-subpoena-bob.yaml")
	if sub.Instrument != legal.Subpoena || !reflect.DeepEqual(sub.Categories, []legal.Category{legal.Subscriber, legal.Content}) {
		t.Errorf("us-subpoena-bob.yaml: %+v", sub)
	}
	mlat := parse("mlat-ie-alice.json")
	if mlat.Instrument != legal.MLATRequest || mlat.Country != "IE" || mlat.RequestingCountry != "US" {
		t.Errorf("mlat-ie-alice.json: %+v", mlat)
	}
	pres := parse("preservation-alice.json")
	if pres.Instrument != legal.PreservationOrder || len(pres.Categories) != 3 {
		t.Errorf("preservation-alice.json: %+v", pres)
	}
	// Six different demands: no two share a key.
	keys := map[string]string{}
	for _, name := range examples {
		if name == "us-warrant-alice.yaml" {
			continue // the twin of us-warrant-alice.json
		}
		k := Key(parse(name))
		if other, dup := keys[k]; dup {
			t.Errorf("%s and %s have the same key", name, other)
		}
		keys[k] = name
	}
}

// TestJSONYAMLEquivalent checks that JSON and YAML read to the same
// demand: the YAML twin of us-warrant-alice.json, and every JSON example
// read as YAML (a YAML document may be written in JSON's syntax; the
// leading "---" sends it to the YAML reader).
func TestJSONYAMLEquivalent(t *testing.T) {
	j, err := Parse(readFile(t, "us-warrant-alice.json"))
	if err != nil {
		t.Fatal(err)
	}
	y, err := Parse(readFile(t, "us-warrant-alice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(j, y) {
		t.Errorf("JSON %+v\nYAML %+v", j, y)
	}
	for _, name := range examples {
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		data := readFile(t, name)
		if !isJSON(data) || isJSON(append([]byte("---\n"), data...)) {
			t.Fatalf("%s: format detection", name)
		}
		j, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		y, err := Parse(append([]byte("---\n"), data...))
		if err != nil {
			t.Fatalf("%s as YAML: %v", name, err)
		}
		if !reflect.DeepEqual(j, y) {
			t.Errorf("%s: JSON %+v\nYAML %+v", name, j, y)
		}
	}
}

func TestParseStrict(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		fields []string // the fields reported, in order
	}{
		{"json unknown field", `{"reference":"r","warrant_no":"7"}`, []string{"warrant_no"}},
		{"yaml unknown field", "reference: r\nwarrant_no: 7\n", []string{"warrant_no"}},
		{"json field names are case-sensitive", `{"Reference":"r"}`, []string{"Reference"}},
		{"json unknown document field", `{"documents":[{"name":"a","sha256":"b","size":1,"path":"/x"}]}`, []string{"documents[0].path"}},
		{"yaml unknown document field", "documents:\n  - name: a\n    path: /x\n", []string{"documents[0].path"}},
		{"odd field name quoted", `{"a b":1,"":2}`, []string{`"a b"`, `""`}},
		{"json duplicate field", `{"reference":"a","reference":"b"}`, []string{"reference"}},
		{"yaml duplicate field", "reference: a\nreference: b\n", []string{"reference"}},
		{"duplicate document field", `{"documents":[{"size":1,"size":2}]}`, []string{"documents[0].size"}},
		{"json number for a string", `{"reference":12345}`, []string{"reference"}},
		{"json bool for a string", `{"court":true}`, []string{"court"}},
		{"yaml bool for a string", "court: true\n", []string{"court"}},
		{"object for a string", `{"authority":{"name":"x"}}`, []string{"authority"}},
		{"string for a list", `{"targets":"alice@demo.example"}`, []string{"targets"}},
		{"number in a list of strings", `{"targets":["a@b.example",7]}`, []string{"targets[1]"}},
		{"string for a size", `{"documents":[{"size":"10"}]}`, []string{"documents[0].size"}},
		{"fraction for a size", `{"documents":[{"size":1.5}]}`, []string{"documents[0].size"}},
		{"string for a document", `{"documents":["warrant.pdf"]}`, []string{"documents[0]"}},
		{"date with a time", `{"received":"2026-10-05T10:00:00Z"}`, []string{"received"}},
		{"yaml timestamp with a time", "received: 2026-10-05T10:00:00Z\n", []string{"received"}},
		{"date not a date", `{"from":"2026-02-30"}`, []string{"from"}},
		{"date as a number", `{"to":20260930}`, []string{"to"}},
		{"several at once", `{"x":1,"reference":2,"targets":{},"to":"soon"}`, []string{"x", "reference", "targets", "to"}},
		{"json top level list", `["reference"]`, []string{""}},
		{"yaml top level scalar", "just a string\n", []string{""}},
		{"yaml top level list", "- reference\n", []string{""}},
		{"json syntax", `{"reference": "r",}`, []string{""}},
		{"json trailing data", `{"reference": "r"} {}`, []string{""}},
		{"json unterminated", `{"reference": "r"`, []string{""}},
		{"yaml syntax", "reference: [r\n", []string{""}},
		{"yaml two documents", "reference: a\n---\nreference: b\n", []string{""}},
		{"yaml anchor", "reference: &r a\nauthority: *r\n", []string{""}},
		{"yaml merge", "documents:\n  - <<: {name: a}\n", []string{""}},
		{"yaml binary tag", "reference: !!binary aGVsbG8=\n", []string{""}},
		{"yaml custom tag", "reference: !secret r\n", []string{""}},
		{"empty", "", []string{""}},
		{"white space", " \n\t\n", []string{""}},
		{"deep nesting", `{"documents":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			if err == nil {
				t.Fatal("no error")
			}
			es := fieldErrors(t, err)
			var got []string
			for _, e := range es {
				got = append(got, e.Field)
				if e.Message == "" {
					t.Errorf("field %q: empty message", e.Field)
				}
			}
			if !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("fields %q, want %q (%v)", got, tt.fields, es)
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	// What Parse accepts that a strict reading might not: YAML numbers
	// for strings, null for absent fields, YAML integer forms, a BOM.
	tests := []struct {
		name string
		data string
		want legal.Demand
	}{
		{"yaml number for a string", "reference: 12345\n", legal.Demand{Reference: "12345"}},
		{"yaml digest of digits", "documents:\n  - sha256: 0123\n", legal.Demand{Documents: []legal.Document{{SHA256: "0123"}}}},
		{"yaml size forms", "documents:\n  - size: 0x10\n  - size: 1_000\n", legal.Demand{Documents: []legal.Document{{Size: 16}, {Size: 1000}}}},
		{"json null", `{"court":null,"from":null,"targets":null}`, legal.Demand{}},
		{"yaml null", "court: ~\nfrom:\ntargets: null\n", legal.Demand{}},
		{"empty list stays empty", `{"targets":[]}`, legal.Demand{Targets: []string{}}},
		{"json bom", "\xef\xbb\xbf{\"reference\":\"r\"}", legal.Demand{Reference: "r"}},
		{"yaml bom", "\xef\xbb\xbfreference: r\n", legal.Demand{Reference: "r"}},
		{"yaml Norway", "country: NO\n", legal.Demand{Country: "NO"}},
		{"yaml flow after comment", "# a demand\n{reference: r}\n", legal.Demand{Reference: "r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	data := readFile(t, "us-warrant-alice.json")
	big := append(bytes.Repeat([]byte(" "), MaxSize+1-len(data)), data...)
	if _, err := Parse(big); !errors.Is(errors.TooLarge, err) {
		t.Errorf("%d bytes: %v, want too large", len(big), err)
	}
	if _, err := ParseAndValidate(big, now); !errors.Is(errors.TooLarge, err) {
		t.Errorf("ParseAndValidate %d bytes: %v, want too large", len(big), err)
	}
	if _, err := Parse(big[1:]); err != nil {
		t.Errorf("%d bytes: %v", len(big)-1, err)
	}
}

func TestParseAndValidateErrors(t *testing.T) {
	data := bytes.Replace(readFile(t, "us-warrant-alice.json"), []byte(`"US"`), []byte(`"XX"`), 1)
	_, err := ParseAndValidate(data, now)
	es := fieldErrors(t, err)
	if len(es) != 1 || es[0].Field != "country" {
		t.Errorf("errors %v, want one for country", es)
	}
	if !strings.Contains(err.Error(), "country") {
		t.Errorf("error text %q does not name the field", err)
	}
	// Normalization comes before validation: case and space are fixed.
	data = bytes.Replace(readFile(t, "us-warrant-alice.json"), []byte(`"alice@demo.example"`), []byte(`" Alice@Demo.Example "`), 1)
	d, err := ParseAndValidate(data, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Targets[0] != "alice@demo.example" {
		t.Errorf("target %q", d.Targets[0])
	}
}

func TestMarshal(t *testing.T) {
	for _, name := range examples {
		d, err := ParseAndValidate(readFile(t, name), now)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ParseAndValidate(b, now)
		if err != nil {
			t.Fatalf("%s: reading back: %v\n%s", name, err, b)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Errorf("%s: round trip\n%+v\n%+v", name, d, d2)
		}
		b2, _ := Marshal(d2)
		if !bytes.Equal(b, b2) {
			t.Errorf("%s: not canonical\n%s\n%s", name, b, b2)
		}
		if !bytes.HasPrefix(b, []byte("{\n  \"reference\": ")) || !bytes.HasSuffix(b, []byte("}\n")) {
			t.Errorf("%s: layout\n%s", name, b)
		}
	}
	// The JSON examples are written canonically.
	for _, name := range []string{"us-warrant-alice.json", "mlat-ie-alice.json"} {
		d, _ := Parse(readFile(t, name))
		b, _ := Marshal(d)
		if !bytes.Equal(b, readFile(t, name)) {
			t.Errorf("%s is not in canonical form:\n%s", name, b)
		}
	}
	b, _ := Marshal(legal.Demand{Authority: "A&B <court>"})
	if !bytes.Contains(b, []byte(`"A&B <court>"`)) {
		t.Errorf("HTML escaped: %s", b)
	}
}

func TestKey(t *testing.T) {
	base := legal.Demand{Authority: "U.S. Department of Justice", Reference: "26 Mag. 2143"}
	same := []legal.Demand{
		{Authority: "u.s. department of justice", Reference: "26 mag. 2143"},
		{Authority: "  U.S.  Department\tof Justice ", Reference: "26  Mag. 2143 "},
	}
	for _, d := range same {
		if Key(d) != Key(base) {
			t.Errorf("%q/%q: key differs from %q/%q", d.Authority, d.Reference, base.Authority, base.Reference)
		}
	}
	different := []legal.Demand{
		{Authority: "U.S. Department of Justice", Reference: "26 Mag. 2144"},
		{Authority: "Department of Justice (Ireland)", Reference: "26 Mag. 2143"},
		// The separator keeps the two fields apart.
		{Authority: "U.S. Department of Justice 26", Reference: "Mag. 2143"},
	}
	for _, d := range different {
		if Key(d) == Key(base) {
			t.Errorf("%q/%q: same key as %q/%q", d.Authority, d.Reference, base.Authority, base.Reference)
		}
	}
}

func TestCountry(t *testing.T) {
	if n, ok := Country("IE"); !ok || n != "Ireland" {
		t.Errorf("IE: %q %v", n, ok)
	}
	if n, ok := Country("US"); !ok || n != "United States" {
		t.Errorf("US: %q %v", n, ok)
	}
	for _, c := range []string{"EU", "UK", "XK", "ie", "", "USA", "AA", "ZZ"} {
		if _, ok := Country(c); ok {
			t.Errorf("%q is not an assigned code", c)
		}
	}
	codes := CountryCodes()
	if len(codes) != 249 {
		t.Errorf("%d codes, ISO 3166-1 assigns 249", len(codes))
	}
	for _, c := range codes {
		if len(c) != 2 || c != strings.ToUpper(c) {
			t.Errorf("code %q", c)
		}
	}
}

func TestErrorsText(t *testing.T) {
	es := Errors{{Field: "targets[2]", Message: "not in lower case"}, {Message: "JSON: bad"}}
	if got, want := es.Error(), "targets[2]: not in lower case; JSON: bad"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
