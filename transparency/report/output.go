package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"

	"github.com/sealpost/sealpost/errors"
)

// CSV returns the report's rows as CSV (RFC 4180 fields, LF line ends):
// the header Columns, one line per row in order, then the totals row.
// Preservation orders and the national-security band are not rows; they
// are in JSON and the HTML page.
func (r *Report) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(Columns)
	for i := range r.Rows {
		w.Write(r.Rows[i].record())
	}
	w.Write(r.Totals.record())
	w.Flush() // a bytes.Buffer cannot fail
	return b.Bytes()
}

// record returns the row's fields in the order of Columns.
func (r *Row) record() []string {
	rec := []string{r.Period, r.Country, r.Instrument}
	for _, c := range r.counts() {
		rec = append(rec, strconv.Itoa(*c))
	}
	return rec
}

// JSON returns the report as indented JSON, with the same names as the
// CSV's columns:
//
//	{"period": {"name", "from", "to"},
//	 "checkpoint": {"origin", "size", "root_hash"},
//	 "rows": [{"period", "country", "instrument", "requests", …}],
//	 "totals": {…},
//	 "preservation": [{"country", "requests", "accounts"}],
//	 "national_security": {"band": "0–249", "withheld_entries_band": {"low": 0, "high": 249}}}
//
// The same report always gives the same bytes.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, errors.E("report.JSON", errors.Internal, err)
	}
	return append(b, '\n'), nil
}
