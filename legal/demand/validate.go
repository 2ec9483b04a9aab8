package demand

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/legal"
)

// Limits on a demand's fields.
const (
	MaxReference  = 200  // characters
	MaxText       = 300  // characters of authority and court
	MaxLegalBasis = 1000 // characters
	MaxTargets    = 1000
	MaxDocuments  = 100
	MaxDocName    = 255 // bytes, as most file systems allow
)

// courtInstruments are the instruments only a court issues: a demand made
// under one must name the court.
var courtInstruments = map[legal.Instrument]bool{
	legal.SearchWarrant:     true,
	legal.RecordsOrder:      true,
	legal.InterceptionOrder: true,
}

// Normalize puts d in its canonical form, in place: text fields trimmed;
// country codes, instrument and categories in their canonical case;
// targets as Sealpost stores addresses (sealpost.NormalizeAddress: trimmed,
// lower case); categories sorted in the order of legal.Categories (unknown
// ones last, in their order); document names trimmed and digests lower
// case. It removes nothing: duplicates and invalid values are left for
// Validate to report.
func Normalize(d *legal.Demand) {
	d.ID = strings.TrimSpace(d.ID)
	d.Reference = strings.TrimSpace(d.Reference)
	d.Authority = strings.TrimSpace(d.Authority)
	d.Country = strings.ToUpper(strings.TrimSpace(d.Country))
	d.Court = strings.TrimSpace(d.Court)
	d.Instrument = legal.Instrument(strings.ToLower(strings.TrimSpace(string(d.Instrument))))
	d.RequestingCountry = strings.ToUpper(strings.TrimSpace(d.RequestingCountry))
	d.LegalBasis = strings.TrimSpace(d.LegalBasis)
	for i, t := range d.Targets {
		d.Targets[i] = sealpost.NormalizeAddress(t)
	}
	for i, c := range d.Categories {
		d.Categories[i] = legal.Category(strings.ToLower(strings.TrimSpace(string(c))))
	}
	slices.SortStableFunc(d.Categories, func(a, b legal.Category) int {
		return categoryRank(a) - categoryRank(b)
	})
	for i := range d.Documents {
		doc := &d.Documents[i]
		doc.Name = strings.TrimSpace(doc.Name)
		doc.SHA256 = strings.ToLower(strings.TrimSpace(doc.SHA256))
	}
}

func categoryRank(c legal.Category) int {
	if i := slices.Index(legal.Categories, c); i >= 0 {
		return i
	}
	return len(legal.Categories)
}

// Validate checks a normalized demand (Normalize) and returns every
// problem, in the order of the fields; nil if there is none. The rules:
//
//   - id: optional (the store assigns it); printable, at most 128 characters.
//   - reference: required, at most MaxReference characters, printable (one
//     line, no control characters, no leading or trailing space).
//   - authority: required, printable, at most MaxText characters.
//   - country: required, an ISO 3166-1 alpha-2 code assigned to a country
//     (Country), in upper case.
//   - court: required for the instruments only a court issues
//     (search_warrant, records_order, interception_order), optional
//     otherwise; printable, at most MaxText characters.
//   - instrument: one of legal.Instruments.
//   - requesting_country: for an mlat_request, required, an assigned code
//     and not the executing country; for any other instrument, absent.
//   - legal_basis: required, printable, at most MaxLegalBasis characters.
//   - targets: 1 to MaxTargets addresses of the shape RFC 5321 4.1.2
//     allows (a dot-string local part, a domain name of at least two
//     labels), ASCII, lower case, within the lengths of RFC 5321 4.5.3.1,
//     no two the same.
//   - categories: 1 to 3, each of legal.Categories, no two the same. Any
//     instrument may name any category; whether it may compel it is the
//     policy's decision, not a matter of form.
//   - from, to: optional; from not after to; neither in the future, except
//     for an interception_order, whose period lies ahead.
//   - nondisclosure_until: optional; after received (it may have passed).
//   - received: required, not in the future.
//   - documents: at most MaxDocuments, each with a file name (no path
//     separator, no "..", no control character, at most MaxDocName bytes,
//     no two the same), a SHA-256 in 64 lower-case hex digits, and a size
//     not negative.
//
// "In the future" is judged against the calendar date of now in the
// time zone furthest ahead (UTC+14), so that a date valid where the
// authority signed is never refused. A zero now skips the clock checks
// (for a demand read back from storage).
func Validate(d legal.Demand, now time.Time) Errors {
	var es Errors
	if d.ID != "" {
		checkText(&es, "id", d.ID, 128)
	}
	if required(&es, "reference", d.Reference) {
		checkText(&es, "reference", d.Reference, MaxReference)
	}
	if required(&es, "authority", d.Authority) {
		checkText(&es, "authority", d.Authority, MaxText)
	}
	if required(&es, "country", d.Country) {
		checkCountry(&es, "country", d.Country)
	}
	if d.Court != "" {
		checkText(&es, "court", d.Court, MaxText)
	} else if courtInstruments[d.Instrument] {
		es.add("court", "required for a %s", d.Instrument)
	}
	if required(&es, "instrument", string(d.Instrument)) && !slices.Contains(legal.Instruments, d.Instrument) {
		es.add("instrument", "%q is not an instrument (%s)", d.Instrument, instrumentList())
	}
	switch {
	case d.Instrument == legal.MLATRequest:
		if required(&es, "requesting_country", d.RequestingCountry) && checkCountry(&es, "requesting_country", d.RequestingCountry) &&
			d.RequestingCountry == d.Country {
			es.add("requesting_country", "must differ from country: an MLAT request is executed by one state for another")
		}
	case d.RequestingCountry != "":
		es.add("requesting_country", "only an mlat_request has a requesting country")
	}
	if required(&es, "legal_basis", d.LegalBasis) {
		checkText(&es, "legal_basis", d.LegalBasis, MaxLegalBasis)
	}
	checkTargets(&es, d.Targets)
	checkCategories(&es, d.Categories)
	checkDates(&es, d, now)
	checkDocuments(&es, d.Documents)
	return es
}

func required(es *Errors, field, s string) bool {
	if s == "" {
		es.add(field, "required")
		return false
	}
	return true
}

// checkText checks a one-line text field: valid UTF-8, printable
// characters only (unicode.IsPrint: the ASCII space is the only space),
// no space at either end, at most max characters.
func checkText(es *Errors, field, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		es.add(field, "is not valid UTF-8")
	case strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		es.add(field, "may hold only printable characters on one line")
	case strings.TrimSpace(s) != s:
		es.add(field, "has space at its start or end")
	case utf8.RuneCountInString(s) > max:
		es.add(field, "is longer than %d characters", max)
	}
}

func checkCountry(es *Errors, field, code string) bool {
	if _, ok := Country(code); !ok {
		es.add(field, "%q is not an assigned ISO 3166-1 alpha-2 country code (e.g. US, IE)", code)
		return false
	}
	return true
}

func instrumentList() string {
	names := make([]string, len(legal.Instruments))
	for i, in := range legal.Instruments {
		names[i] = string(in)
	}
	return strings.Join(names, ", ")
}

func checkTargets(es *Errors, targets []string) {
	switch {
	case len(targets) == 0:
		es.add("targets", "at least one target is required")
		return
	case len(targets) > MaxTargets:
		es.add("targets", "at most %d targets per demand", MaxTargets)
		return
	}
	first := make(map[string]int, len(targets))
	for i, t := range targets {
		field := "targets[" + strconv.Itoa(i) + "]"
		if msg := checkAddress(t); msg != "" {
			es.add(field, "%s", msg)
			continue
		}
		if j, dup := first[t]; dup {
			es.add(field, "%s is already targets[%d]", t, j)
			continue
		}
		first[t] = i
	}
}

// checkAddress checks the shape of a mailbox (RFC 5321 4.1.2: Mailbox =
// Local-part "@" Domain) and returns what is wrong, or "". It accepts a
// Dot-string local part (not a Quoted-string) and a domain name (not an
// address literal), in ASCII and lower case: the addresses Sealpost hosts.
func checkAddress(a string) string {
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return "not an address (local-part@domain)"
	}
	local, domain := a[:at], a[at+1:]
	switch {
	case a != strings.ToLower(a):
		return "not in lower case"
	case len(a) > 254:
		return "longer than 254 octets (RFC 5321 4.5.3.1.3)"
	case local == "":
		return "the local part is empty"
	case len(local) > 64:
		return "the local part is longer than 64 octets (RFC 5321 4.5.3.1.1)"
	case !dotString(local):
		return "the local part is not a dot-string of RFC 5321 4.1.2"
	case domain == "":
		return "the domain is empty"
	case len(domain) > 253:
		return "the domain is longer than 253 octets (RFC 5321 4.5.3.1.2)"
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "the domain needs at least two labels (example.org)"
	}
	for _, l := range labels {
		if !subDomain(l) {
			return "the domain is not a domain name of RFC 5321 4.1.2"
		}
	}
	return ""
}

// dotString reports whether s is a Dot-string (RFC 5321 4.1.2):
// Atom *("." Atom), Atom = 1*atext (RFC 5322 3.2.3).
func dotString(s string) bool {
	for _, atom := range strings.Split(s, ".") {
		if atom == "" {
			return false
		}
		for i := 0; i < len(atom); i++ {
			if !atext(atom[i]) {
				return false
			}
		}
	}
	return true
}

func atext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// subDomain reports whether l is a sub-domain (RFC 5321 4.1.2: Let-dig
// [Ldh-str]) of at most 63 octets (RFC 1035 2.3.4).
func subDomain(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func checkCategories(es *Errors, cats []legal.Category) {
	if len(cats) == 0 {
		es.add("categories", "at least one category is required (subscriber, traffic, content)")
		return
	}
	first := make(map[legal.Category]int, len(cats))
	for i, c := range cats {
		field := "categories[" + strconv.Itoa(i) + "]"
		if !slices.Contains(legal.Categories, c) {
			es.add(field, "%q is not a category (subscriber, traffic, content)", c)
			continue
		}
		if j, dup := first[c]; dup {
			es.add(field, "%s is already categories[%d]", c, j)
			continue
		}
		first[c] = i
	}
}

// latestToday returns the latest calendar date anywhere on Earth at now:
// its date in UTC+14 (Kiribati's Line Islands).
func latestToday(now time.Time) time.Time {
	t := now.UTC().Add(14 * time.Hour)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func checkDates(es *Errors, d legal.Demand, now time.Time) {
	var today time.Time
	future := func(date legal.Date) bool { return !now.IsZero() && date.Time.After(today) }
	if !now.IsZero() {
		today = latestToday(now)
	}
	ahead := d.Instrument == legal.InterceptionOrder
	if d.From != nil && future(*d.From) && !ahead {
		es.add("from", "%s is in the future", d.From)
	}
	if d.To != nil {
		switch {
		case d.From != nil && d.To.Before(d.From.Time):
			es.add("to", "%s is before from (%s)", d.To, d.From)
		case future(*d.To) && !ahead:
			es.add("to", "%s is in the future", d.To)
		}
	}
	if d.NondisclosureUntil != nil && !d.Received.IsZero() && !d.NondisclosureUntil.After(d.Received.Time) {
		es.add("nondisclosure_until", "%s is not after received (%s)", d.NondisclosureUntil, d.Received)
	}
	switch {
	case d.Received.IsZero():
		es.add("received", "required")
	case future(d.Received):
		es.add("received", "%s is in the future", d.Received)
	}
}

func checkDocuments(es *Errors, docs []legal.Document) {
	if len(docs) > MaxDocuments {
		es.add("documents", "at most %d documents per demand", MaxDocuments)
		return
	}
	first := make(map[string]int, len(docs))
	for i, doc := range docs {
		prefix := "documents[" + strconv.Itoa(i) + "]"
		if msg := checkDocName(doc.Name); msg != "" {
			es.add(prefix+".name", "%s", msg)
		} else if j, dup := first[doc.Name]; dup {
			es.add(prefix+".name", "%q is already documents[%d]", doc.Name, j)
		} else {
			first[doc.Name] = i
		}
		if !isSHA256(doc.SHA256) {
			es.add(prefix+".sha256", "must be a SHA-256 in 64 lower-case hex digits")
		}
		if doc.Size < 0 {
			es.add(prefix+".size", "must not be negative")
		}
	}
}

// checkDocName checks that a document's name is a plain file name, safe
// to use as one in a folder or a disclosure package: no path separator of
// any system, no "..", nothing that is not printable.
func checkDocName(name string) string {
	switch {
	case name == "":
		return "required"
	case len(name) > MaxDocName:
		return "longer than " + strconv.Itoa(MaxDocName) + " bytes"
	case !utf8.ValidString(name):
		return "not valid UTF-8"
	case strings.ContainsAny(name, `/\:`):
		return "must be a file name, without a path separator"
	case name == "." || strings.Contains(name, ".."):
		return `must not be "." or hold ".."`
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "may hold only printable characters"
	case strings.TrimSpace(name) != name:
		return "has space at its start or end"
	}
	return ""
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
