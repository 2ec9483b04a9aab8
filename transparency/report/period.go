package report

import (
	"strconv"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// A Period is the span a report covers, [From, To) in UTC: a half-year
// ("2026-H1", "2026-H2") or a whole year ("2026").
type Period struct {
	Name string    `json:"name"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t falls in p.
func (p Period) Contains(t time.Time) bool {
	return !t.Before(p.From) && t.Before(p.To)
}

// ParsePeriod parses a period name: "2026-H1" (January to June),
// "2026-H2" (July to December) or "2026" (the whole year), for a year
// written with exactly four digits, 0001 to 9999. Anything else is
// errors.Invalid.
func ParsePeriod(s string) (Period, error) {
	const op = "report.ParsePeriod"
	bad := func() (Period, error) {
		return Period{}, errors.E(op, errors.Invalid, errors.Errorf("period %q: want YYYY, YYYY-H1 or YYYY-H2", s))
	}
	if len(s) != 4 && len(s) != 7 {
		return bad()
	}
	year := 0
	for _, c := range s[:4] {
		if c < '0' || c > '9' {
			return bad()
		}
		year = year*10 + int(c-'0')
	}
	if year == 0 {
		return bad()
	}
	from := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
	if len(s) == 4 {
		return Period{Name: s, From: from, To: from.AddDate(1, 0, 0)}, nil
	}
	switch s[4:] {
	case "-H1":
		return Period{Name: s, From: from, To: from.AddDate(0, 6, 0)}, nil
	case "-H2":
		from = from.AddDate(0, 6, 0)
		return Period{Name: s, From: from, To: from.AddDate(0, 6, 0)}, nil
	}
	return bad()
}

// CurrentPeriod returns the half-year that contains now (in UTC).
func CurrentPeriod(now time.Time) Period {
	now = now.UTC()
	half := "-H1"
	if now.Month() >= time.July {
		half = "-H2"
	}
	y := now.Year()
	name := strconv.Itoa(y)
	if y >= 1 && y <= 9999 {
		for len(name) < 4 {
			name = "0" + name
		}
		if p, err := ParsePeriod(name + half); err == nil {
			return p
		}
	}
	// A year ParsePeriod cannot name: the same half-year, named plainly.
	from := time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC)
	if half == "-H2" {
		from = from.AddDate(0, 6, 0)
	}
	return Period{Name: name + half, From: from, To: from.AddDate(0, 6, 0)}
}
