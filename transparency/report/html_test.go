package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// packageDoc returns the package documentation's text, from report.go.
func packageDoc(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("report.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, _, ok := strings.Cut(string(src), "\npackage report")
	if !ok {
		t.Fatal("no package clause in report.go")
	}
	return doc
}

func TestHTML(t *testing.T) {
	r := computeH1(t)
	for _, o := range []HTMLOptions{
		{Stylesheet: "/static/site.css", CSVHref: "/transparency/2026-H1.csv", JSONHref: "/transparency/2026-H1.json"},
		{},
		{CSVHref: "report.csv?a=1&b=2"},
	} {
		var b bytes.Buffer
		if err := r.WriteHTML(&b, o); err != nil {
			t.Fatal(err)
		}
		checkHTML(t, b.Bytes(), r, o)
	}
}

// checkHTML checks page, r's HTML page written with o.
func checkHTML(t *testing.T, page []byte, r *Report, o HTMLOptions) {
	t.Helper()
	for _, bad := range []string{"<script", "<style", "style="} {
		if bytes.Contains(bytes.ToLower(page), []byte(bad)) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) {
		t.Errorf("page does not start with the HTML5 doctype")
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var (
		lang, viewport, stylesheet, h1, charts, captions string
		links                                            = map[string]string{}
		text                                             strings.Builder
		thScope, thTotal                                 int
		svgs                                             []*html.Node
	)
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
		}
		if n.Type == html.ElementNode {
			a := map[string]string{}
			for _, at := range n.Attr {
				a[at.Key] = at.Val
				if at.Key == "style" || strings.HasPrefix(at.Key, "on") {
					t.Errorf("<%s> has attribute %s", n.Data, at.Key)
				}
			}
			switch n.Data {
			case "html":
				lang = a["lang"]
			case "meta":
				if a["name"] == "viewport" {
					viewport = a["content"]
				}
			case "link":
				if a["rel"] == "stylesheet" {
					stylesheet = a["href"]
				}
			case "a":
				links[a["type"]] = a["href"]
			case "h1":
				h1 = "yes"
			case "caption":
				captions += "|"
			case "th":
				thTotal++
				if a["scope"] == "col" || a["scope"] == "row" {
					thScope++
				}
			case "script", "style":
				t.Errorf("page has a <%s> element", n.Data)
			case "svg":
				svgs = append(svgs, n)
				if a["class"] != "chart" || a["role"] != "img" {
					t.Errorf("<svg> without class chart and role img: %v", n.Attr)
				}
				charts += "|"
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if lang != "en" || !strings.Contains(viewport, "width=device-width") || h1 == "" {
		t.Errorf("lang %q, viewport %q, h1 %q", lang, viewport, h1)
	}
	if stylesheet != o.Stylesheet {
		t.Errorf("stylesheet link %q, want %q", stylesheet, o.Stylesheet)
	}
	if links["text/csv"] != o.CSVHref || links["application/json"] != o.JSONHref {
		t.Errorf("download links %v, want %q and %q", links, o.CSVHref, o.JSONHref)
	}
	if len(captions) < 2 || thTotal == 0 || thScope != thTotal {
		t.Errorf("%d tables' captions, %d of %d th with scope", len(captions), thScope, thTotal)
	}
	if len(svgs) < 2 {
		t.Fatalf("%d charts, want at least 2", len(svgs))
	}
	for _, svg := range svgs {
		var title *html.Node
		for c := svg.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == "title" {
				title = c
			}
		}
		if title == nil || title.FirstChild == nil || strings.TrimSpace(title.FirstChild.Data) == "" {
			t.Errorf("chart without a <title>")
		}
		// Each chart is well-formed XML (it could be saved as an .svg).
		var b bytes.Buffer
		if err := html.Render(&b, svg); err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(&b)
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Errorf("chart is not well-formed XML: %v\n%s", err, b.String())
				break
			}
		}
	}
	txt := text.String()
	for _, want := range []string{
		r.Period.Name, r.Checkpoint.Origin, r.Checkpoint.RootHash, r.NationalSecurity.Band,
		"How these figures are computed", "Preservation orders", "at least one withheld entry",
		"Requests by country",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	for _, c := range countColumns {
		if !strings.Contains(txt, c.Name) || !strings.Contains(txt, c.Meaning) {
			t.Errorf("page does not define %s", c.Name)
		}
	}
	for _, row := range r.Rows {
		if !strings.Contains(txt, row.Country) || !strings.Contains(txt, instrumentName(row.Instrument)) {
			t.Errorf("page lacks row %s %s", row.Country, row.Instrument)
		}
	}
}

// The charts' bars are as long as their figures, in order.
func TestCharts(t *testing.T) {
	r := computeH1(t)
	c := r.countryChart()
	var got []string
	for _, b := range c.Bars {
		got = append(got, b.Label)
	}
	// US 3, FR 2, IE 2, DE 1: most first, then by name.
	if strings.Join(got, " ") != "US FR IE DE" {
		t.Errorf("country bars %v", got)
	}
	if c.Bars[0].W != barMax || c.Bars[1].W != barMax*2/3 || c.Bars[3].W != barMax/3 {
		t.Errorf("bar widths %d %d %d, max %d", c.Bars[0].W, c.Bars[1].W, c.Bars[3].W, barMax)
	}
	o := r.outcomeChart()
	sum := 0
	for _, b := range o.Bars {
		sum += b.Value
	}
	if len(o.Bars) != 5 || sum != r.Totals.Requests {
		t.Errorf("outcome bars %+v do not add up to %d requests", o.Bars, r.Totals.Requests)
	}
	if e := (&Report{Period: r.Period}).countryChart(); e.Empty == "" || len(e.Bars) != 0 {
		t.Errorf("empty chart = %+v", e)
	}
}
