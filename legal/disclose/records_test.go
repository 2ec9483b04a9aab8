package disclose

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// oddValues are values a CSV writer must quote or otherwise get right.
var oddValues = []string{
	"plain",
	"with,comma",
	`with "quotes"`,
	"\"starts with a quote",
	"line\nbreak",
	"carriage\r\nreturn",
	" leading space",
	"trailing space ",
	"=HYPERLINK(\"http://evil.example\")",
	"+1", "-1", "@SUM(A1)",
	"",
	`\.`,
	"tab\there",
	"ünïcödé ✉",
	"semi;colon",
}

func parseCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("reading back the CSV: %v\n%s", err, data)
	}
	return rows
}

func fileNamed(t *testing.T, files []File, name string) []byte {
	t.Helper()
	for _, f := range files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("no file %q in %d files", name, len(files))
	return nil
}

func TestSubscriberFiles(t *testing.T) {
	zone := time.FixedZone("EST", -5*3600)
	var recs []SubscriberRecord
	for i, v := range oddValues {
		recs = append(recs, SubscriberRecord{
			Address: v + "@demo.example",
			Region:  sealpost.RegionID("r" + v),
			Country: "IE",
			Entity:  v,
			Created: time.Date(2025, 1, 2, 3, 4, 5, i, zone),
			OwnKey:  i%2 == 0,
			Keys: []KeyRecord{
				{Generation: 1, Created: time.Date(2025, 1, 2, 3, 4, 5, 0, zone), Fingerprint: "AAAA" + v},
				{Generation: 2, Created: time.Date(2025, 6, 2, 3, 4, 5, 0, time.UTC), Fingerprint: "BBBB", Active: true},
			},
		})
	}
	recs = append(recs, SubscriberRecord{Address: "nokeys@demo.example"})
	input := slices.Clone(recs)
	for i := range input {
		input[i].Keys = slices.Clone(input[i].Keys)
	}
	files := SubscriberFiles(recs)
	if len(files) != 2 || files[0].Name != SubscriberJSON || files[1].Name != SubscriberCSV {
		t.Fatalf("files %v", files)
	}
	if !reflect.DeepEqual(recs, input) {
		t.Error("SubscriberFiles modified its input")
	}

	want := slices.Clone(input)
	slices.SortFunc(want, func(a, b SubscriberRecord) int { return strings.Compare(a.Address, b.Address) })

	// JSON: the records, sorted, read back exactly (times as instants).
	var got []SubscriberRecord
	if err := json.Unmarshal(files[0].Data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records in JSON, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Address != w.Address || g.Region != w.Region || g.Country != w.Country || g.Entity != w.Entity ||
			!g.Created.Equal(w.Created) || g.Created.Location() != time.UTC || g.OwnKey != w.OwnKey || len(g.Keys) != len(w.Keys) {
			t.Errorf("record %d: got %+v, want %+v", i, g, w)
			continue
		}
		for j := range w.Keys {
			if g.Keys[j].Fingerprint != w.Keys[j].Fingerprint || !g.Keys[j].Created.Equal(w.Keys[j].Created) ||
				g.Keys[j].Active != w.Keys[j].Active || g.Keys[j].Generation != w.Keys[j].Generation {
				t.Errorf("record %d key %d: got %+v, want %+v", i, j, g.Keys[j], w.Keys[j])
			}
		}
	}
	if !bytes.Contains(files[0].Data, []byte(`"keys": []`)) {
		t.Error("an account without keys should have an empty keys array, not null")
	}

	// CSV: RFC 4180 with CRLF; every odd value read back unchanged.
	if !bytes.HasSuffix(files[1].Data, []byte("\r\n")) {
		t.Error("CSV lines do not end in CRLF")
	}
	rows := parseCSV(t, files[1].Data)
	if want := []string{"address", "region", "country", "entity", "created", "own_key", "active_key_fingerprint", "key_fingerprints"}; !slices.Equal(rows[0], want) {
		t.Errorf("header %q, want %q", rows[0], want)
	}
	if len(rows) != len(want)+1 {
		t.Fatalf("%d CSV rows, want %d", len(rows), len(want)+1)
	}
	for i, w := range want {
		row := rows[i+1]
		var fps []string
		var active string
		for _, k := range w.Keys {
			fps = append(fps, k.Fingerprint)
			if k.Active {
				active = k.Fingerprint
			}
		}
		wantRow := []string{w.Address, string(w.Region), w.Country, w.Entity, w.Created.UTC().Format(time.RFC3339Nano),
			map[bool]string{true: "true", false: "false"}[w.OwnKey], active, strings.Join(fps, " ")}
		// encoding/csv reads a quoted CRLF as LF (its documented
		// normalization); the bytes hold the CRLF.
		for j := range wantRow {
			wantRow[j] = strings.ReplaceAll(wantRow[j], "\r\n", "\n")
		}
		if !slices.Equal(row, wantRow) {
			t.Errorf("row %d: %q, want %q", i+1, row, wantRow)
		}
	}
	if !bytes.Contains(files[1].Data, []byte("\"carriage\r\nreturn@demo.example\"")) {
		t.Error("a CRLF inside a value is not kept inside quotes")
	}
	if !bytes.Contains(files[1].Data, []byte(`"with ""quotes""@demo.example"`)) {
		t.Error("quotes are not doubled (RFC 4180 2.7)")
	}

	// Same records in another order: the same bytes.
	rev := slices.Clone(input)
	slices.Reverse(rev)
	again := SubscriberFiles(rev)
	if !bytes.Equal(again[0].Data, files[0].Data) || !bytes.Equal(again[1].Data, files[1].Data) {
		t.Error("the order of records changes the files")
	}
}

func TestTrafficFiles(t *testing.T) {
	day := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 7200))
	var recs []TrafficRecord
	for i, v := range oddValues {
		recs = append(recs, TrafficRecord{
			Address: "alice@demo.example", Mailbox: v, UIDValidity: 42, UID: sealpost.UID(len(oddValues) - i),
			InternalDate: day.Add(time.Duration(i) * time.Hour), Size: int64(i * 1000),
			Flags: []sealpost.Flag{`\Seen`, "$Label" + sealpost.Flag(strings.ReplaceAll(v, " ", "_")), `\answered`},
		})
	}
	recs = append(recs, TrafficRecord{Address: "alice@demo.example", Mailbox: "INBOX", UIDValidity: 1, UID: 9, InternalDate: day})
	input := slices.Clone(recs)
	for i := range input {
		input[i].Flags = slices.Clone(input[i].Flags)
	}
	files := TrafficFiles(recs)
	if len(files) != 2 || files[0].Name != TrafficJSON || files[1].Name != TrafficCSV {
		t.Fatalf("files %v", files)
	}
	if !reflect.DeepEqual(recs, input) {
		t.Error("TrafficFiles modified its input")
	}

	var got []TrafficRecord
	if err := json.Unmarshal(files[0].Data, &got); err != nil {
		t.Fatal(err)
	}
	rows := parseCSV(t, files[1].Data)
	if want := []string{"address", "mailbox", "uid_validity", "uid", "internal_date", "size", "flags"}; !slices.Equal(rows[0], want) {
		t.Errorf("header %q, want %q", rows[0], want)
	}
	if len(got) != len(recs) || len(rows) != len(recs)+1 {
		t.Fatalf("%d JSON records and %d CSV rows for %d records", len(got), len(rows)-1, len(recs))
	}
	for i, g := range got {
		if i > 0 && (got[i-1].Mailbox > g.Mailbox || got[i-1].Mailbox == g.Mailbox && got[i-1].UID >= g.UID) {
			t.Errorf("records not sorted at %d", i)
		}
		if g.Flags == nil {
			t.Errorf("record %d: flags null, want an array", i)
		}
		if !slices.IsSortedFunc(g.Flags, func(a, b sealpost.Flag) int {
			return strings.Compare(strings.ToLower(string(a)), strings.ToLower(string(b)))
		}) {
			t.Errorf("record %d: flags %q not sorted", i, g.Flags)
		}
		if g.InternalDate.Location() != time.UTC {
			t.Errorf("record %d: date %v not in UTC", i, g.InternalDate)
		}
		// The CSV row carries the same values.
		flags := make([]string, len(g.Flags))
		for j, f := range g.Flags {
			flags[j] = string(f)
		}
		wantRow := []string{g.Address, strings.ReplaceAll(g.Mailbox, "\r\n", "\n"), "", "", g.InternalDate.Format(time.RFC3339Nano), "", strings.ReplaceAll(strings.Join(flags, " "), "\r\n", "\n")}
		row := rows[i+1]
		wantRow[2], wantRow[3], wantRow[5] = strconv.Itoa(int(g.UIDValidity)), strconv.Itoa(int(g.UID)), strconv.FormatInt(g.Size, 10)
		if !slices.Equal(row, wantRow) {
			t.Errorf("row %d: %q, want %q", i+1, row, wantRow)
		}
	}
	// Every input record is there once.
	for _, r := range recs {
		n := 0
		for _, g := range got {
			if g.Mailbox == r.Mailbox && g.UID == r.UID && g.UIDValidity == r.UIDValidity && g.Size == r.Size && g.InternalDate.Equal(r.InternalDate) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("record %q/%d appears %d times", r.Mailbox, r.UID, n)
		}
	}
}

func TestEmptyRecords(t *testing.T) {
	for _, files := range [][]File{SubscriberFiles(nil), TrafficFiles(nil)} {
		if string(files[0].Data) != "[]\n" {
			t.Errorf("%s = %q, want an empty array", files[0].Name, files[0].Data)
		}
		if rows := parseCSV(t, files[1].Data); len(rows) != 1 {
			t.Errorf("%s has %d rows, want only the header", files[1].Name, len(rows))
		}
	}
}

func TestOddTimes(t *testing.T) {
	// Years time.Time's JSON encoding refuses must not break a disclosure.
	far := time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)
	files := TrafficFiles([]TrafficRecord{{Address: "a@b.example", Mailbox: "INBOX", InternalDate: far}})
	if !bytes.Contains(files[0].Data, []byte("12000-01-01T00:00:00Z")) {
		t.Errorf("traffic.json = %s", files[0].Data)
	}
	files = SubscriberFiles([]SubscriberRecord{{Address: "a@b.example"}})
	if !bytes.Contains(files[0].Data, []byte(`"created": "0001-01-01T00:00:00Z"`)) {
		t.Errorf("subscriber.json = %s", files[0].Data)
	}
}

func TestContentName(t *testing.T) {
	for _, tc := range []struct {
		addr, mailbox string
		uid           sealpost.UID
		want          string
	}{
		{"alice@demo.example", "INBOX", 1, "content/alice@demo.example/INBOX/1.pgp"},
		{"alice@demo.example", "Archive/2024", 7, "content/alice@demo.example/Archive%2F2024/7.pgp"},
		{"alice@demo.example", "..", 2, "content/alice@demo.example/%2E%2E/2.pgp"},
		{"alice@demo.example", ".", 2, "content/alice@demo.example/%2E/2.pgp"},
		{"alice@demo.example", "", 2, "content/alice@demo.example/%/2.pgp"},
		{"alice@demo.example", "100%", 3, "content/alice@demo.example/100%25/3.pgp"},
		{"alice@demo.example", `a\b:c`, 4, "content/alice@demo.example/a%5Cb%3Ac/4.pgp"},
		{"alice@demo.example", "tab\there\x00", 5, "content/alice@demo.example/tab%09here%00/5.pgp"},
		{"alice@demo.example", "Entwürfe", 6, "content/alice@demo.example/Entwürfe/6.pgp"},
		{"alice@demo.example", "bad\xffutf8", 8, "content/alice@demo.example/bad%FFutf8/8.pgp"},
		{"alice@demo.example", "rlo\u202e", 9, "content/alice@demo.example/rlo%E2%80%AE/9.pgp"},
		{"a/b@demo.example", "INBOX", 4294967295, "content/a%2Fb@demo.example/INBOX/4294967295.pgp"},
	} {
		got := ContentName(tc.addr, tc.mailbox, tc.uid)
		if got != tc.want {
			t.Errorf("ContentName(%q, %q, %d) = %q, want %q", tc.addr, tc.mailbox, tc.uid, got, tc.want)
		}
		if reason := checkName(got); reason != "" {
			t.Errorf("ContentName(%q, %q) = %q, which Build refuses: %s", tc.addr, tc.mailbox, got, reason)
		}
	}
	// One-to-one over names that differ only in what is escaped, and
	// Build takes them all in one package.
	mailboxes := []string{"", "%", "%25", ".", "%2E", "..", "a/b", "a%2Fb", "a", "a/", "/a", "\x00", "%00", "\xff", "ÿ"}
	seen := map[string]string{}
	var files []File
	for _, mb := range mailboxes {
		n := ContentName("x@y.example", mb, 1)
		if prev, dup := seen[n]; dup {
			t.Errorf("mailboxes %q and %q both give %q", prev, mb, n)
		}
		seen[n] = mb
		files = append(files, File{Name: n, Data: []byte(mb)})
	}
	if _, err := Verify(bytes.NewReader(buildPackage(t, testManifest(), files)), testPub()); err != nil {
		t.Fatal(err)
	}
}

func FuzzContentName(f *testing.F) {
	for _, s := range []string{"INBOX", "a/b", "..", "", "%", "\xff\x00", "\u202e"} {
		f.Add("alice@demo.example", s)
	}
	f.Fuzz(func(t *testing.T, addr, mailbox string) {
		n := ContentName(addr, mailbox, 1)
		if len(n) > MaxNameLen {
			return // Build refuses it, safely
		}
		if reason := checkName(n); reason != "" {
			t.Fatalf("ContentName(%q, %q) = %q: %s", addr, mailbox, n, reason)
		}
		if strings.Count(n, "/") != 3 {
			t.Fatalf("ContentName(%q, %q) = %q: not four segments", addr, mailbox, n)
		}
	})
}
