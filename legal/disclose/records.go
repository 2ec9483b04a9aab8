package disclose

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sealpost/sealpost"
)

// The names of the files SubscriberFiles and TrafficFiles return.
const (
	SubscriberJSON = "subscriber.json"
	SubscriberCSV  = "subscriber.csv"
	TrafficJSON    = "traffic.json"
	TrafficCSV     = "traffic.csv"
)

// SubscriberRecord is the subscriber information Sealpost holds about one
// account: what docs/SECURITY.md lists as kept in the clear about an
// account, and where it lives. Nothing here comes from a message.
type SubscriberRecord struct {
	Address string            `json:"address"`
	Region  sealpost.RegionID `json:"region"`           // home region
	Country string            `json:"country"`          // the region's country, ISO 3166-1 alpha-2
	Entity  string            `json:"entity,omitempty"` // the region's operating entity
	Created time.Time         `json:"created"`
	// OwnKey is true when the holder registered their own OpenPGP key and
	// the provider never had its private part.
	OwnKey bool        `json:"own_key"`
	Keys   []KeyRecord `json:"keys"` // key generations, oldest first
}

// KeyRecord is one generation of an account's public key.
type KeyRecord struct {
	Generation  sealpost.KeyID `json:"generation"`
	Created     time.Time      `json:"created"`
	Fingerprint string         `json:"fingerprint"` // OpenPGP fingerprint, hex (RFC 4880 12.2)
	Active      bool           `json:"active"`      // new mail is sealed to it
}

// TrafficRecord is the metadata of one stored message: what IMAP needs for
// every client and Sealpost therefore keeps in the clear. Correspondents,
// subjects and every other header are sealed with the content and are not
// here.
type TrafficRecord struct {
	Address      string          `json:"address"`
	Mailbox      string          `json:"mailbox"`
	UIDValidity  uint32          `json:"uid_validity"` // with UID, names the message (RFC 9051 2.3.1.1)
	UID          sealpost.UID    `json:"uid"`
	InternalDate time.Time       `json:"internal_date"` // when it arrived
	Size         int64           `json:"size"`          // bytes, as served over IMAP
	Flags        []sealpost.Flag `json:"flags"`
}

// SubscriberFiles renders subscriber records as subscriber.json (the
// authoritative form: an array of SubscriberRecord) and subscriber.csv (one
// row per account; key generations as space-separated fingerprints, oldest
// first). Records are sorted by address and times given in UTC; the input
// is not modified.
func SubscriberFiles(recs []SubscriberRecord) []File {
	recs = slices.Clone(recs)
	for i := range recs {
		r := &recs[i]
		r.Created = r.Created.UTC()
		r.Keys = slices.Clone(r.Keys)
		if r.Keys == nil {
			r.Keys = []KeyRecord{}
		}
		for j := range r.Keys {
			r.Keys[j].Created = r.Keys[j].Created.UTC()
		}
	}
	slices.SortStableFunc(recs, func(a, b SubscriberRecord) int { return strings.Compare(a.Address, b.Address) })

	rows := [][]string{{"address", "region", "country", "entity", "created", "own_key", "active_key_fingerprint", "key_fingerprints"}}
	for _, r := range recs {
		var active string
		fps := make([]string, len(r.Keys))
		for j, k := range r.Keys {
			fps[j] = k.Fingerprint
			if k.Active {
				active = k.Fingerprint
			}
		}
		rows = append(rows, []string{r.Address, string(r.Region), r.Country, r.Entity,
			formatTime(r.Created), strconv.FormatBool(r.OwnKey), active, strings.Join(fps, " ")})
	}
	return []File{
		{Name: SubscriberJSON, Data: encodeJSON(subscriberJSON(recs))},
		{Name: SubscriberCSV, Data: encodeCSV(rows)},
	}
}

// TrafficFiles renders traffic records as traffic.json (the authoritative
// form: an array of TrafficRecord) and traffic.csv (one row per message;
// flags space-separated, which no IMAP flag contains, RFC 9051 9
// flag-keyword). Records are sorted by address, mailbox and UID, flags
// sorted, times given in UTC; the input is not modified.
func TrafficFiles(recs []TrafficRecord) []File {
	recs = slices.Clone(recs)
	for i := range recs {
		r := &recs[i]
		r.InternalDate = r.InternalDate.UTC()
		r.Flags = slices.Clone(r.Flags)
		if r.Flags == nil {
			r.Flags = []sealpost.Flag{}
		}
		slices.SortFunc(r.Flags, func(a, b sealpost.Flag) int {
			return cmp.Or(strings.Compare(strings.ToLower(string(a)), strings.ToLower(string(b))), strings.Compare(string(a), string(b)))
		})
	}
	slices.SortStableFunc(recs, func(a, b TrafficRecord) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), strings.Compare(a.Mailbox, b.Mailbox),
			cmp.Compare(a.UIDValidity, b.UIDValidity), cmp.Compare(a.UID, b.UID))
	})

	rows := [][]string{{"address", "mailbox", "uid_validity", "uid", "internal_date", "size", "flags"}}
	for _, r := range recs {
		flags := make([]string, len(r.Flags))
		for j, f := range r.Flags {
			flags[j] = string(f)
		}
		rows = append(rows, []string{r.Address, r.Mailbox, strconv.FormatUint(uint64(r.UIDValidity), 10),
			strconv.FormatUint(uint64(r.UID), 10), formatTime(r.InternalDate), strconv.FormatInt(r.Size, 10),
			strings.Join(flags, " ")})
	}
	return []File{
		{Name: TrafficJSON, Data: encodeJSON(trafficJSON(recs))},
		{Name: TrafficCSV, Data: encodeCSV(rows)},
	}
}

// ContentName returns the name under which a package holds one sealed
// message: "content/ADDRESS/MAILBOX/UID.pgp", where ADDRESS and MAILBOX are
// escaped so that any address and mailbox name (hierarchy delimiter
// included) makes one safe path segment: '%', '/', '\', ':', control and
// bidirectional formatting characters and invalid UTF-8 become %XX (of
// each byte), "." and ".." become %2E and %2E%2E, and the empty string
// becomes "%". The escaping is one-to-one, so different messages never
// share a name. A mailbox name of several hundred bytes can still make
// the name longer than MaxNameLen, which Build refuses.
func ContentName(address, mailbox string, uid sealpost.UID) string {
	return "content/" + escapeSegment(address) + "/" + escapeSegment(mailbox) + "/" + strconv.FormatUint(uint64(uid), 10) + ".pgp"
}

func escapeSegment(s string) string {
	switch s {
	case "":
		return "%" // never otherwise produced: '%' itself is escaped
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		bad := (r == utf8.RuneError && n == 1) || r == '%' || r == '/' || r == '\\' || r == ':' ||
			unicode.Is(unicode.Cc, r) || isBidiControl(r)
		if bad {
			for _, c := range []byte(s[i : i+n]) {
				b.WriteByte('%')
				b.WriteByte("0123456789ABCDEF"[c>>4])
				b.WriteByte("0123456789ABCDEF"[c&15])
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// The JSON files are written from these mirrors of the record types, with
// times already formatted: time.Time's MarshalJSON fails outside years
// 0-9999, and a disclosure must not fail on one odd date. For every other
// time the output is what the record types' own encoding would be.
type (
	subscriberOut struct {
		Address string            `json:"address"`
		Region  sealpost.RegionID `json:"region"`
		Country string            `json:"country"`
		Entity  string            `json:"entity,omitempty"`
		Created string            `json:"created"`
		OwnKey  bool              `json:"own_key"`
		Keys    []keyOut          `json:"keys"`
	}
	keyOut struct {
		Generation  sealpost.KeyID `json:"generation"`
		Created     string         `json:"created"`
		Fingerprint string         `json:"fingerprint"`
		Active      bool           `json:"active"`
	}
	trafficOut struct {
		Address      string          `json:"address"`
		Mailbox      string          `json:"mailbox"`
		UIDValidity  uint32          `json:"uid_validity"`
		UID          sealpost.UID    `json:"uid"`
		InternalDate string          `json:"internal_date"`
		Size         int64           `json:"size"`
		Flags        []sealpost.Flag `json:"flags"`
	}
)

func subscriberJSON(recs []SubscriberRecord) []subscriberOut {
	out := make([]subscriberOut, len(recs))
	for i, r := range recs {
		keys := make([]keyOut, len(r.Keys))
		for j, k := range r.Keys {
			keys[j] = keyOut{k.Generation, formatTime(k.Created), k.Fingerprint, k.Active}
		}
		out[i] = subscriberOut{r.Address, r.Region, r.Country, r.Entity, formatTime(r.Created), r.OwnKey, keys}
	}
	return out
}

func trafficJSON(recs []TrafficRecord) []trafficOut {
	out := make([]trafficOut, len(recs))
	for i, r := range recs {
		out[i] = trafficOut{r.Address, r.Mailbox, r.UIDValidity, r.UID, formatTime(r.InternalDate), r.Size, r.Flags}
	}
	return out
}

func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // strings, numbers and booleans only: cannot fail
	return buf.Bytes()
}

// encodeCSV writes rows as RFC 4180 CSV: CRLF line ends (2.1), fields with
// a comma, quote or line break quoted and quotes doubled (2.6, 2.7). Values
// are written as they are, never altered: a spreadsheet opening the file
// may interpret a field starting with '=', '+', '-' or '@' as a formula,
// and the JSON file is the authoritative form.
func encodeCSV(rows [][]string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	_ = w.WriteAll(rows) // a bytes.Buffer does not fail
	return buf.Bytes()
}
