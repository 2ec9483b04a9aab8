package demand

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// FuzzParse checks that Parse never panics, fails only with Invalid
// wrapping Errors, accepts as JSON only what is valid JSON, and that what
// it accepts survives Marshal and Parse unchanged. Seeds: the examples in
// testdata and testdata/fuzz/FuzzParse (valid and broken JSON and YAML).
func FuzzParse(f *testing.F) {
	for _, name := range examples {
		f.Add(readFile(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			var es Errors
			if !errors.Is(errors.Invalid, err) || !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v: kind %v, want invalid with field errors", err, errors.KindOf(err))
			}
			return
		}
		if isJSON(data) && !json.Valid(bytes.TrimPrefix(data, bom)) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		b, err := Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := Parse(b)
		if err != nil {
			t.Fatalf("Marshal's output does not parse: %v\n%s", err, b)
		}
		b2, err := Marshal(d2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the demand:\n%s\n%s", b, b2)
		}
		// Normalize and Validate take anything Parse returns.
		Normalize(&d)
		Validate(d, now)
		Key(d)
	})
}

// TestWireFields checks that Marshal's mirror of legal.Demand writes the
// same fields, under the same names, in the same order.
func TestWireFields(t *testing.T) {
	dt, wt := reflect.TypeFor[legal.Demand](), reflect.TypeFor[wire]()
	if dt.NumField() != wt.NumField() {
		t.Fatalf("legal.Demand has %d fields, wire %d", dt.NumField(), wt.NumField())
	}
	for i := range dt.NumField() {
		if a, b := dt.Field(i), wt.Field(i); a.Name != b.Name || a.Tag.Get("json") != b.Tag.Get("json") {
			t.Errorf("field %d: legal.Demand %s %q, wire %s %q", i, a.Name, a.Tag.Get("json"), b.Name, b.Tag.Get("json"))
		}
	}
}
