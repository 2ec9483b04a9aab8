package demand

import (
	_ "embed"
	"sort"
	"strings"
)

// countries.txt lists the 249 codes ISO 3166-1 assigns to countries and
// territories, one "CODE<TAB>Name" a line, as Debian's iso-codes ships
// them. Reserved and user-assigned codes (EU, UK, XK) are not there: an
// authority is a state's, and a demand names the state.
//
//go:embed countries.txt
var countriesTxt string

var countries = func() map[string]string {
	m := make(map[string]string, 250)
	for _, line := range strings.Split(countriesTxt, "\n") {
		code, name, ok := strings.Cut(line, "\t")
		if ok && !strings.HasPrefix(line, "#") {
			m[code] = name
		}
	}
	return m
}()

// Country returns the short English name of the country with the ISO
// 3166-1 alpha-2 code ("IE" → "Ireland"), and whether the code is
// assigned. The code must be in upper case.
func Country(code string) (name string, ok bool) {
	name, ok = countries[code]
	return name, ok
}

// CountryCodes returns every assigned code, sorted.
func CountryCodes() []string {
	codes := make([]string, 0, len(countries))
	for c := range countries {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}
