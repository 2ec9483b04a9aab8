// Package demand reads, checks and writes the lawful demands filed with
// the gateway: a JSON or YAML document (so that tools outside Sealpost can
// produce one) parsed strictly into a legal.Demand, normalized, and
// validated field by field.
//
// Every problem is reported against the field it concerns, named as in the
// document ("targets[2]", "documents[0].sha256", "nondisclosure_until"), and
// all of them at once: an authority's tool gets the whole list in one
// answer. Nothing here does I/O; filing and storage belong to legal/store.
//
// The usual entry point is ParseAndValidate. Parse alone reads a document
// (rejecting unknown and repeated fields, values of the wrong type, and
// documents larger than MaxSize); Normalize puts a demand in its canonical
// form; Validate checks a normalized demand; Key names it for duplicate
// detection; Marshal writes it back as canonical JSON.
package demand

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// MaxSize is the largest demand document Parse reads, in bytes. A demand
// is a few kilobytes; its documents are filed separately.
const MaxSize = 1 << 20

// FieldError is one problem with one field of a demand.
type FieldError struct {
	// Field names the field as it is written in the document:
	// "reference", "targets[2]", "documents[0].sha256". It is "" for a
	// problem with the document as a whole (a syntax error).
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Errors is every problem found in a demand, in the order of its fields.
// Parse and ParseAndValidate return it wrapped by errors.E with kind
// errors.Invalid; errors.As recovers it.
type Errors []FieldError

func (es Errors) Error() string {
	if len(es) == 0 {
		return "no errors"
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (es *Errors) add(field, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = errors.Errorf(format, args...).Error()
	}
	*es = append(*es, FieldError{Field: field, Message: msg})
}

// Parse reads a demand from a JSON or YAML document: JSON if its first
// byte other than white space (and a UTF-8 byte-order mark) is '{',
// YAML otherwise. Parsing is strict: an unknown field, a field given
// twice, a value of the wrong type, a YAML anchor, alias or unusual tag,
// or a second YAML document is an error. In YAML a string field also
// takes an unquoted number as written (reference: 12345).
//
// Errors: TooLarge if data exceeds MaxSize; otherwise Invalid, wrapping
// Errors (a syntax error is reported with Field ""). Parse does not
// normalize or validate the values it reads.
func Parse(data []byte) (legal.Demand, error) {
	const op = "demand.Parse"
	if len(data) > MaxSize {
		return legal.Demand{}, errors.E(op, errors.TooLarge, errors.Errorf("a demand is limited to %d bytes", MaxSize))
	}
	var (
		v   value
		err error
	)
	if isJSON(data) {
		v, err = readJSON(bytes.TrimPrefix(data, bom))
	} else {
		v, err = readYAML(data)
	}
	if err != nil {
		return legal.Demand{}, errors.E(op, errors.Invalid, Errors{{Message: err.Error()}})
	}
	var p parser
	d := p.demand(v)
	if len(p.errs) > 0 {
		return legal.Demand{}, errors.E(op, errors.Invalid, p.errs)
	}
	return d, nil
}

var bom = []byte("\xef\xbb\xbf")

// isJSON reports whether data is to be read as JSON: its first byte other
// than white space or a byte-order mark is '{'.
func isJSON(data []byte) bool {
	data = bytes.TrimLeft(bytes.TrimPrefix(data, bom), " \t\r\n")
	return len(data) > 0 && data[0] == '{'
}

// ParseAndValidate parses data (Parse), normalizes the demand (Normalize)
// and validates it against the clock now (Validate). It returns the
// normalized demand, or an error: TooLarge, or Invalid wrapping Errors
// with every problem found.
func ParseAndValidate(data []byte, now time.Time) (legal.Demand, error) {
	const op = "demand.ParseAndValidate"
	d, err := Parse(data)
	if err != nil {
		return legal.Demand{}, errors.E(op, err)
	}
	Normalize(&d)
	if errs := Validate(d, now); len(errs) > 0 {
		return legal.Demand{}, errors.E(op, errors.Invalid, errs)
	}
	return d, nil
}

// Marshal writes d as JSON, indented by two spaces, fields in the order
// of legal.Demand, with no HTML escaping and a final newline. The JSON of a
// normalized demand is canonical: equal demands give equal bytes, and Parse
// reads it back to the same demand.
func Marshal(d legal.Demand) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(toWire(d)); err != nil {
		return nil, errors.E("demand.Marshal", errors.Internal, err)
	}
	return buf.Bytes(), nil
}

// Key returns the key under which duplicates are detected: the same
// authority and the same reference make the same demand, whatever the case
// and spacing they are written in. It is the authority and the reference,
// each trimmed, with runs of white space made one space and lower-cased,
// joined by a NUL.
func Key(d legal.Demand) string {
	return fold(d.Authority) + "\x00" + fold(d.Reference)
}

func fold(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// fieldName returns a document key as a field name: as it is when it is a
// plain name, quoted otherwise (an empty key, a key with spaces or dots).
func fieldName(prefix, key string) string {
	plain := key != ""
	for _, c := range key {
		if !(c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			plain = false
			break
		}
	}
	if !plain {
		key = strconv.Quote(key)
	}
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// wire is legal.Demand as Marshal writes it. It exists for the dates:
// legal.Date embeds time.Time, whose MarshalJSON is promoted and wins over
// Date's MarshalText, so encoding/json would write a date as an RFC 3339
// time; here every date is written YYYY-MM-DD, as Parse reads it.
type wire struct {
	ID                 string           `json:"id,omitempty"`
	Reference          string           `json:"reference"`
	Authority          string           `json:"authority"`
	Country            string           `json:"country"`
	Court              string           `json:"court,omitempty"`
	Instrument         legal.Instrument `json:"instrument"`
	RequestingCountry  string           `json:"requesting_country,omitempty"`
	LegalBasis         string           `json:"legal_basis"`
	Targets            []string         `json:"targets"`
	Categories         []legal.Category `json:"categories"`
	From               string           `json:"from,omitempty"`
	To                 string           `json:"to,omitempty"`
	NondisclosureUntil string           `json:"nondisclosure_until,omitempty"`
	Received           string           `json:"received"`
	Documents          []legal.Document `json:"documents,omitempty"`
}

func toWire(d legal.Demand) wire {
	opt := func(d *legal.Date) string {
		if d == nil {
			return ""
		}
		return d.String()
	}
	return wire{
		ID:                 d.ID,
		Reference:          d.Reference,
		Authority:          d.Authority,
		Country:            d.Country,
		Court:              d.Court,
		Instrument:         d.Instrument,
		RequestingCountry:  d.RequestingCountry,
		LegalBasis:         d.LegalBasis,
		Targets:            d.Targets,
		Categories:         d.Categories,
		From:               opt(d.From),
		To:                 opt(d.To),
		NondisclosureUntil: opt(d.NondisclosureUntil),
		Received:           d.Received.String(),
		Documents:          d.Documents,
	}
}
