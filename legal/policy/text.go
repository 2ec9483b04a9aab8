package policy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sealpost/sealpost/legal"
)

// placeholder is a {name} in a reason or route.
type placeholder int

const (
	phNone placeholder = iota
	phCountry
	phOrigin
	phRequestingCountry
	phRegionCountry
	phEntityCountry
	phInstrument
	phRegion
	phEntity
	phCategory
	phSufficient
	phAgreement
	phRoute
)

var placeholders = map[string]placeholder{
	"country":            phCountry,
	"origin":             phOrigin,
	"requesting_country": phRequestingCountry,
	"region_country":     phRegionCountry,
	"entity_country":     phEntityCountry,
	"instrument":         phInstrument,
	"region":             phRegion,
	"entity":             phEntity,
	"category":           phCategory,
	"sufficient":         phSufficient,
	"agreement":          phAgreement,
	"route":              phRoute,
}

// template is a reason or route: literal text and placeholders.
type template []segment

type segment struct {
	lit string
	ph  placeholder
}

// parseTemplate compiles a reason or route, refusing placeholders the rule
// cannot fill: {category} and {sufficient} in screening, {agreement}
// without an agreement condition, {route} without a route.
func parseTemplate(s string, st stage, hasAgreement, hasRoute bool) (template, error) {
	s = strings.Join(strings.Fields(s), " ") // YAML folding aside, one line
	var t template
	for s != "" {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			t = append(t, segment{lit: s})
			break
		}
		if s[i] == '}' {
			return nil, fmt.Errorf("a } without its {")
		}
		if i > 0 {
			t = append(t, segment{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("a { without its }")
		}
		name := s[i+1 : i+j]
		ph, ok := placeholders[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("unknown placeholder {%s}", name)
		case st == screening && (ph == phCategory || ph == phSufficient):
			return nil, fmt.Errorf("{%s} is not known in screening, which decides for all categories at once", name)
		case ph == phAgreement && !hasAgreement:
			return nil, fmt.Errorf("{agreement} needs an agreement condition")
		case ph == phRoute && !hasRoute:
			return nil, fmt.Errorf("{route} needs a route (and cannot appear in the route itself)")
		}
		t = append(t, segment{ph: ph})
		s = s[i+j+1:]
	}
	return t, nil
}

// textFacts are what placeholders say.
type textFacts struct {
	e         *Engine
	demand    *legal.Demand
	origin    string
	region    *Region
	category  legal.Category
	agreement string
	route     string
}

func (t template) render(f *textFacts) string {
	var b strings.Builder
	start := true // at the start of a sentence
	for _, s := range t {
		if s.ph == phNone {
			b.WriteString(s.lit)
			start = endsSentence(s.lit)
			continue
		}
		v := f.value(s.ph)
		if start {
			v = capitalize(v)
		}
		b.WriteString(v)
		start = false
	}
	return capitalize(b.String())
}

// endsSentence reports whether a placeholder after s starts a sentence.
func endsSentence(s string) bool {
	s = strings.TrimRight(s, " ")
	return s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "!")
}

func (f *textFacts) value(ph placeholder) string {
	e := f.e
	switch ph {
	case phCountry:
		return e.countryName(f.demand.Country)
	case phOrigin:
		return e.countryName(f.origin)
	case phRequestingCountry:
		return e.countryName(f.demand.RequestingCountry)
	case phRegionCountry:
		return e.countryName(f.region.Country)
	case phEntityCountry:
		return e.countryName(f.region.EntityCountry)
	case phInstrument:
		return e.instruments[f.demand.Instrument].Name
	case phRegion:
		if f.region.Name != "" {
			return f.region.Name
		}
		return "region " + f.region.ID
	case phEntity:
		if f.region.Entity != "" {
			return f.region.Entity
		}
		return "the region's operator"
	case phCategory:
		return categoryName(f.category)
	case phSufficient:
		return e.sufficient[f.category]
	case phAgreement:
		return f.agreement
	case phRoute:
		return f.route
	}
	return ""
}

// countryName is the policy's name for a country code, or the code.
func (e *Engine) countryName(code string) string {
	if code == "" {
		return "an unnamed country"
	}
	if n, ok := e.countries[code]; ok {
		return n
	}
	return code
}

func categoryName(c legal.Category) string {
	switch c {
	case legal.Subscriber:
		return "subscriber information"
	case legal.Traffic:
		return "traffic data"
	case legal.Content:
		return "content"
	}
	return string(c)
}

// capitalize makes a sentence start with a capital letter, whatever
// placeholder it starts with ("the United States ..." → "The United ...").
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || unicode.IsUpper(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// sentence ends s with a full stop unless it ends with punctuation.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsRune(".!?", rune(s[len(s)-1])) {
		return s
	}
	return s + "."
}

// categoryList writes categories as "subscriber information and content".
func categoryList(cs []legal.Category) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = categoryName(c)
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
