package report

import (
	_ "embed"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// HTMLOptions shape the HTML page.
type HTMLOptions struct {
	// Stylesheet is the href of a stylesheet to link, "" for none. The
	// page has no inline styles (a Content-Security-Policy without
	// 'unsafe-inline' serves it as is).
	Stylesheet string
	// CSVHref and JSONHref link the same report as CSV and JSON, "" for
	// no link.
	CSVHref, JSONHref string
}

//go:embed report.html.tmpl
var pageText string

var page = template.Must(template.New("report").Parse(pageText))

// WriteHTML writes the report as a complete HTML5 page: the figures as
// tables, charts as inline SVG, the checkpoint they derive from and how
// they are computed. It has no script and no inline style.
func (r *Report) WriteHTML(w io.Writer, o HTMLOptions) error {
	if err := page.Execute(w, r.pageData(o)); err != nil {
		return errors.E("report.WriteHTML", errors.Internal, err)
	}
	return nil
}

// pageData is what the template shows.
type pageData struct {
	R          *Report
	O          HTMLOptions
	PeriodText string // e.g. "1 January 2026 to 30 June 2026"
	Rows       []htmlRow
	Columns    []column // the count columns, after country and instrument
	Totals     []int
	Charts     []chart
	PresTotal  Preservation
	Span       int // columns of the rows table
}

type htmlRow struct {
	Country, Instrument string
	Counts              []int
}

// A column describes one figure, for headings and the page's definitions.
type column struct {
	Name, Heading, Meaning string
}

// countColumns describe Columns[3:], in order; the package documentation
// says the same.
var countColumns = []column{
	{"requests", "Requests", "Demands whose received date falls in the period. A demand is identified by its log entries' “demand” field; its country, instrument, received date, targets and any nondisclosure order are read from its demand.filed entry."},
	{"accounts_specified", "Accounts specified", "The sum of the demands' targets (accounts named)."},
	{"content_disclosed_ciphertext_only", "Content disclosed (ciphertext only)", "A disclosure was logged and the policy found content eligible for some target. Sealpost holds content only sealed to its owner's key, so what was handed over was ciphertext that Sealpost cannot open."},
	{"non_content_only", "Non-content only", "A disclosure was logged, but of subscriber or traffic data only."},
	{"no_data_found", "No data found", "No disclosure, and every target named no account on this service."},
	{"rejected", "Rejected", "No disclosure, and either the demand's latest step went to rejected, won, overturned or closed, or the policy rejected every target."},
	{"rejected_out_of_jurisdiction", "of which out of jurisdiction", "Rejected demands where the policy found some target outside the issuing authority's jurisdiction (counted within Rejected)."},
	{"challenged", "Challenged", "Demands Sealpost challenged (a step to challenged), whatever their outcome."},
	{"pending", "Pending", "Demands with none of the outcomes above yet."},
	{"via_mlat", "Via MLAT", "Demands made under a mutual legal assistance treaty, or on behalf of another state."},
	{"emergency", "Emergency", "Emergency requests."},
	{"users_notified", "Users notified", "Notices sent to account owners about the demands."},
	{"notices_delayed_by_nondisclosure", "Notices delayed by a nondisclosure order", "Targets (policy decisions) of demands that came with a nondisclosure order, whose owners' notices were held back until it lapsed."},
}

// outcomeColors are the five exclusive outcomes' chart colors
// (Okabe–Ito, distinguishable with the common color-vision deficiencies).
var outcomeColors = map[string]string{
	"content_disclosed_ciphertext_only": "#0072B2",
	"non_content_only":                  "#56B4E9",
	"no_data_found":                     "#7A7A7A",
	"rejected":                          "#D55E00",
	"pending":                           "#E69F00",
}

var instrumentNames = map[legal.Instrument]string{
	legal.Subpoena:                "Subpoena",
	legal.RecordsOrder:            "Records order",
	legal.SearchWarrant:           "Search warrant",
	legal.MLATRequest:             "MLAT request",
	legal.EUProductionOrder:       "EU production order",
	legal.PreservationOrder:       "Preservation order",
	legal.EmergencyRequest:        "Emergency request",
	legal.InterceptionOrder:       "Interception order",
	legal.NationalSecurityRequest: "National-security request",
}

// instrumentName is an instrument as a reader would write it.
func instrumentName(s string) string {
	if n, ok := instrumentNames[legal.Instrument(s)]; ok {
		return n
	}
	return s
}

// countryName shows a country code, or says there is none.
func countryName(s string) string {
	if s == "" {
		return "(none given)"
	}
	return s
}

func (r *Report) pageData(o HTMLOptions) *pageData {
	d := &pageData{R: r, O: o, Columns: countColumns, Span: 2 + len(countColumns)}
	if !r.Period.From.IsZero() && r.Period.To.After(r.Period.From) {
		d.PeriodText = r.Period.From.Format("2 January 2006") + " to " + r.Period.To.Add(-time.Nanosecond).Format("2 January 2006") + " (UTC)"
	}
	for i := range r.Rows {
		row := &r.Rows[i]
		hr := htmlRow{Country: countryName(row.Country), Instrument: instrumentName(row.Instrument)}
		for _, c := range row.counts() {
			hr.Counts = append(hr.Counts, *c)
		}
		d.Rows = append(d.Rows, hr)
	}
	for _, c := range r.Totals.counts() {
		d.Totals = append(d.Totals, *c)
	}
	for _, p := range r.Preservation {
		d.PresTotal.Requests += p.Requests
		d.PresTotal.Accounts += p.Accounts
	}
	d.Charts = []chart{r.countryChart(), r.outcomeChart()}
	return d
}

// A chart is a horizontal bar chart drawn as inline SVG: each bar's label
// above it, its value after it.
type chart struct {
	ID, Heading, Title, Desc string
	Width, Height            int
	Bars                     []bar
	Empty                    string // shown instead of bars when there are none
}

type bar struct {
	Label        string
	Value        int
	Fill         string
	LabelY, BarY int
	W, H         int
	ValueX       int
	ValueY       int
}

// Chart geometry, in SVG user units.
const (
	// chartWidth is narrow so that, drawn at a phone's width, the
	// labels are as large as the text around them; a stylesheet may cap
	// svg.chart's width on wide screens.
	chartWidth = 360
	chartPad   = 8
	barRow     = 40 // label line and bar
	barHeight  = 16
	barMax     = chartWidth - 2*chartPad - 48 // room for the value
)

// newChart lays out bars (Label, Value, Fill set).
func newChart(id, heading, title string, bars []bar, empty string) chart {
	c := chart{ID: id, Heading: heading, Title: title, Width: chartWidth}
	max := 0
	for _, b := range bars {
		max = maxInt(max, b.Value)
	}
	if max == 0 {
		c.Empty = empty
		c.Height = 2*chartPad + 24
		c.Desc = empty
		return c
	}
	var desc []string
	for i, b := range bars {
		y := chartPad + i*barRow
		b.LabelY = y + 13
		b.BarY = y + 18
		b.H = barHeight
		b.W = b.Value * barMax / max
		if b.Value > 0 && b.W < 2 {
			b.W = 2
		}
		b.ValueX = chartPad + b.W + 6
		b.ValueY = b.BarY + barHeight - 4
		c.Bars = append(c.Bars, b)
		desc = append(desc, b.Label+": "+strconv.Itoa(b.Value))
	}
	c.Height = 2*chartPad + len(bars)*barRow
	c.Desc = strings.Join(desc, "; ") + "."
	return c
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// countryChart shows requests by country, most first.
func (r *Report) countryChart() chart {
	by := map[string]int{}
	for _, row := range r.Rows {
		by[row.Country] += row.Requests
	}
	var bars []bar
	for c, n := range by {
		bars = append(bars, bar{Label: countryName(c), Value: n, Fill: "#0072B2"})
	}
	slices.SortFunc(bars, func(a, b bar) int {
		if a.Value != b.Value {
			return b.Value - a.Value
		}
		return strings.Compare(a.Label, b.Label)
	})
	return newChart("chart-countries", "Requests by country",
		"Requests received in "+r.Period.Name+" by issuing country (preservation orders and national-security requests not included)",
		bars, "No requests in this period.")
}

// outcomeChart shows how many demands had each outcome.
func (r *Report) outcomeChart() chart {
	t := r.Totals
	var bars []bar
	for _, o := range []struct {
		name string
		n    int
	}{
		{"content_disclosed_ciphertext_only", t.ContentDisclosed},
		{"non_content_only", t.NonContentOnly},
		{"no_data_found", t.NoDataFound},
		{"rejected", t.Rejected},
		{"pending", t.Pending},
	} {
		i := slices.IndexFunc(countColumns, func(c column) bool { return c.Name == o.name })
		bars = append(bars, bar{Label: countColumns[i].Heading, Value: o.n, Fill: outcomeColors[o.name]})
	}
	return newChart("chart-outcomes", "Outcomes",
		"Outcomes of the requests received in "+r.Period.Name+", all countries",
		bars, "No requests in this period.")
}
