package report

import (
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
)

func TestParsePeriod(t *testing.T) {
	d := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		in       string
		from, to time.Time
	}{
		{"2026-H1", d(2026, time.January), d(2026, time.July)},
		{"2026-H2", d(2026, time.July), d(2027, time.January)},
		{"2026", d(2026, time.January), d(2027, time.January)},
		{"0001-H1", d(1, time.January), d(1, time.July)},
		{"9999-H2", d(9999, time.July), d(10000, time.January)},
	} {
		p, err := ParsePeriod(tc.in)
		if err != nil {
			t.Errorf("ParsePeriod(%q): %v", tc.in, err)
			continue
		}
		if p.Name != tc.in || !p.From.Equal(tc.from) || !p.To.Equal(tc.to) {
			t.Errorf("ParsePeriod(%q) = %+v, want [%v, %v)", tc.in, p, tc.from, tc.to)
		}
	}
	for _, in := range []string{"", "2026-H3", "2026-h1", "2026-H0", "26-H1", "0000", "0000-H1", " 2026", "2026-H1 ",
		"2026-1", "+026", "-026", "２０２６", "2026-H12", "2026-Q1", "20261", "2026H1", "12345"} {
		if p, err := ParsePeriod(in); !errors.Is(errors.Invalid, err) {
			t.Errorf("ParsePeriod(%q) = %+v, %v; want an Invalid error", in, p, err)
		}
	}
}

func TestCurrentPeriod(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "2026-H1"},
		{time.Date(2026, 6, 30, 23, 59, 59, 0, time.UTC), "2026-H1"},
		{time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "2026-H2"},
		{time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), "2026-H2"},
		{time.Date(2026, 7, 1, 1, 0, 0, 0, cest), "2026-H1"}, // 30 June, 23:00 UTC
		{time.Date(2027, 1, 1, 0, 30, 0, 0, cest), "2026-H2"},
	} {
		p := CurrentPeriod(tc.now)
		if p.Name != tc.want || !p.Contains(tc.now) {
			t.Errorf("CurrentPeriod(%v) = %+v, want %s containing it", tc.now, p, tc.want)
		}
		if q, err := ParsePeriod(p.Name); err != nil || q != p {
			t.Errorf("CurrentPeriod(%v) = %+v, but ParsePeriod gives %+v, %v", tc.now, p, q, err)
		}
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-H1", "2026-H2", "2026", "0001", "2026-H3", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			if !errors.Is(errors.Invalid, err) {
				t.Fatalf("ParsePeriod(%q): %v, not Invalid", s, err)
			}
			return
		}
		if p.Name != s || !p.From.Before(p.To) || p.From.Location() != time.UTC || p.To.Location() != time.UTC {
			t.Fatalf("ParsePeriod(%q) = %+v", s, p)
		}
		if p.From.Day() != 1 || (p.From.Month() != time.January && p.From.Month() != time.July) || p.From.Hour() != 0 {
			t.Fatalf("ParsePeriod(%q) starts %v, not on a half-year", s, p.From)
		}
		months := 6
		if len(s) == 4 {
			months = 12
		}
		if !p.From.AddDate(0, months, 0).Equal(p.To) {
			t.Fatalf("ParsePeriod(%q) = %+v, not %d months", s, p, months)
		}
		if len(s) == 7 && CurrentPeriod(p.From) != p || len(s) == 7 && CurrentPeriod(p.To.Add(-time.Second)) != p {
			t.Fatalf("CurrentPeriod disagrees with ParsePeriod(%q)", s)
		}
	})
}
