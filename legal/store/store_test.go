package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/legal"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newStore opens a store in a fresh folder with cheap Argon2 parameters.
func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "legal.db"), filepath.Join(dir, "documents"), WithArgon2(pwhash.TestParams))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func date(t *testing.T, s string) legal.Date {
	t.Helper()
	d, err := legal.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sample returns a demand with the given reference and one document per
// name (its content derived from the name), and the documents' bytes.
func sample(t *testing.T, ref string, docNames ...string) (legal.Demand, map[string][]byte) {
	t.Helper()
	from, to, gag := date(t, "2025-01-01"), date(t, "2025-12-31"), date(t, "2026-09-01")
	d := legal.Demand{
		Reference:          ref,
		Authority:          "US District Court, S.D.N.Y.",
		Country:            "US",
		Court:              "S.D.N.Y.",
		Instrument:         legal.SearchWarrant,
		LegalBasis:         "18 U.S.C. 2703(a)",
		Targets:            []string{"Alice@Demo.Example", "bob@demo.example"},
		Categories:         []legal.Category{legal.Subscriber, legal.Content},
		From:               &from,
		To:                 &to,
		NondisclosureUntil: &gag,
		Received:           date(t, "2026-02-27"),
	}
	docs := make(map[string][]byte)
	for _, n := range docNames {
		b := []byte("the signed order, file " + n)
		docs[n] = b
		d.Documents = append(d.Documents, legal.Document{Name: n, SHA256: hexSum(b), Size: int64(len(b))})
	}
	return d, docs
}

func decisions() []legal.Decision {
	return []legal.Decision{
		{Target: "alice@demo.example", Decision: legal.RejectOutOfJurisdiction, Reasons: []string{"home region ie"},
			Route: "MLAT request to Ireland", Preserve: true, PolicyVersion: "2026-1"},
		{Target: "BOB@demo.example", Decision: legal.Eligible, Reasons: []string{"home region us"},
			Yields: legal.YieldsCiphertextOnly, PolicyVersion: "2026-1",
			Categories: []legal.CategoryDecision{{Category: legal.Content, Decision: legal.Eligible, Reasons: []string{"warrant"}, Yields: legal.YieldsCiphertextOnly}}},
	}
}

// file files a sample demand and fails the test on error.
func file(t *testing.T, s *Store, ref string) legal.Demand {
	t.Helper()
	d, docs := sample(t, ref, "warrant.pdf")
	d, err := s.File(context.Background(), d, docs, decisions(), "clerk", t0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func wantKind(t *testing.T, err error, k errors.Kind) {
	t.Helper()
	if !errors.Is(k, err) {
		t.Fatalf("got error %v (kind %v), want kind %v", err, errors.KindOf(err), k)
	}
}

func TestFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	d, docs := sample(t, "SW-2026-17", "warrant.pdf", "affidavit.pdf")
	d.Documents[1].Size = 0 // not given: filled in
	got, err := s.File(ctx, d, docs, decisions(), "clerk", t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "D-2026-000001" {
		t.Errorf("ID = %q, want D-2026-000001", got.ID)
	}
	if want := []string{"alice@demo.example", "bob@demo.example"}; !reflect.DeepEqual(got.Targets, want) {
		t.Errorf("targets = %v, want %v", got.Targets, want)
	}
	if got.Documents[1].Size != int64(len(docs["affidavit.pdf"])) {
		t.Errorf("size not filled in: %+v", got.Documents[1])
	}
	if d.ID != "" || d.Targets[0] != "Alice@Demo.Example" {
		t.Errorf("File changed the caller's demand: %+v", d)
	}

	rec, err := s.Demand(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec.Demand, got) {
		t.Errorf("stored demand\n%+v\nwant\n%+v", rec.Demand, got)
	}
	if rec.State != legal.Received || rec.FiledBy != "clerk" || !rec.Filed.Equal(t0) {
		t.Errorf("state %s filed %v by %q", rec.State, rec.Filed, rec.FiledBy)
	}
	wantDec := decisions()
	wantDec[1].Target = "bob@demo.example"
	if !reflect.DeepEqual(rec.Decisions, wantDec) {
		t.Errorf("decisions\n%+v\nwant\n%+v", rec.Decisions, wantDec)
	}
	if len(rec.Transitions)+len(rec.Approvals)+len(rec.Holds)+len(rec.Notices)+len(rec.Disclosures) != 0 {
		t.Errorf("new record is not empty: %+v", rec)
	}
	for name, b := range docs {
		gotb, err := s.Document(ctx, got.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		if string(gotb) != string(b) {
			t.Errorf("document %s = %q, want %q", name, gotb, b)
		}
	}
	_, err = s.Document(ctx, got.ID, "nothing.pdf")
	wantKind(t, err, errors.NotExist)
	_, err = s.Demand(ctx, "D-2026-000099")
	wantKind(t, err, errors.NotExist)

	// A second demand gets the next number.
	d2, docs2 := sample(t, "SW-2026-18")
	got2, err := s.File(ctx, d2, docs2, nil, "clerk", t0.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got2.ID != "D-2027-000002" {
		t.Errorf("second ID = %q", got2.ID)
	}
	list, err := s.Demands(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != got.ID || list[1].ID != got2.ID || list[0].Targets != 2 ||
		list[0].Instrument != legal.SearchWarrant || list[0].State != legal.Received || list[0].NondisclosureUntil == nil {
		t.Errorf("Demands = %+v", list)
	}
}

func TestDocumentCorruption(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	d := file(t, s, "SW-1")
	sum := d.Documents[0].SHA256
	path := filepath.Join(dir, "documents", sum[:2], sum)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("document not stored by SHA-256: %v", err)
	}
	b[0] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Document(ctx, d.ID, "warrant.pdf")
	wantKind(t, err, errors.Internal)

	// Filing the same bytes again repairs the file.
	d2, docs := sample(t, "SW-2", "warrant.pdf")
	if _, err := s.File(ctx, d2, docs, nil, "clerk", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Document(ctx, d.ID, "warrant.pdf"); err != nil {
		t.Errorf("after refiling: %v", err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err = s.Document(ctx, d.ID, "warrant.pdf")
	wantKind(t, err, errors.Internal)
}

func TestDuplicate(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	first := file(t, s, "SW-2026-17")
	for _, tc := range []struct {
		authority, reference string
		dup                  bool
	}{
		{"US District Court, S.D.N.Y.", "SW-2026-17", true},
		{"us district court, s.d.n.y.", "sw-2026-17", true},
		{"  US  District Court,\tS.D.N.Y. ", " SW-2026-17\n", true},
		{"US District Court, S.D.N.Y.", "SW-2026-18", false},
		{"US District Court, E.D.N.Y.", "SW-2026-17", false},
	} {
		d, docs := sample(t, tc.reference)
		d.Authority = tc.authority
		_, err := s.File(ctx, d, docs, nil, "clerk", t0)
		if !tc.dup {
			if err != nil {
				t.Errorf("%q %q: %v", tc.authority, tc.reference, err)
			}
			continue
		}
		wantKind(t, err, errors.Exist)
		var dup *Duplicate
		if !errors.As(err, &dup) || dup.ID != first.ID {
			t.Errorf("%q %q: error %v does not name %s", tc.authority, tc.reference, err, first.ID)
		}
	}
}

// filing is the arguments of one File call.
type filing struct {
	d     legal.Demand
	docs  map[string][]byte
	dec   []legal.Decision
	filer string
	at    time.Time
}

// TestFileAtomic checks that a filing that fails stores nothing: no demand,
// no rows in any table, no events.
func TestFileAtomic(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	file(t, s, "SW-0")
	before := countRows(t, dir)

	for _, tc := range []struct {
		name   string
		mutate func(f *filing)
		want   errors.Kind
	}{
		{"bad bytes", func(f *filing) { f.docs["warrant.pdf"] = []byte("forged") }, errors.Invalid},
		{"bytes forged, same size", func(f *filing) {
			b := []byte(string(f.docs["warrant.pdf"]))
			b[0] ^= 1
			f.docs["warrant.pdf"] = b
		}, errors.Invalid},
		{"second document bad", func(f *filing) { f.docs["annex.pdf"] = []byte("forged") }, errors.Invalid},
		{"missing bytes", func(f *filing) { delete(f.docs, "annex.pdf") }, errors.Invalid},
		{"unlisted bytes", func(f *filing) { f.docs["extra"] = []byte("x") }, errors.Invalid},
		{"upper-case sha256", func(f *filing) { f.d.Documents[0].SHA256 = "AB" + f.d.Documents[0].SHA256[2:] }, errors.Invalid},
		{"wrong size", func(f *filing) { f.d.Documents[0].Size++ }, errors.Invalid},
		{"document named twice", func(f *filing) { f.d.Documents[1].Name = "warrant.pdf" }, errors.Invalid},
		{"no reference", func(f *filing) { f.d.Reference = " " }, errors.Invalid},
		{"no instrument", func(f *filing) { f.d.Instrument = "" }, errors.Invalid},
		{"no targets", func(f *filing) { f.d.Targets, f.dec = nil, nil }, errors.Invalid},
		{"target twice", func(f *filing) { f.d.Targets[1] = "ALICE@demo.example" }, errors.Invalid},
		{"decision for a stranger", func(f *filing) { f.dec[0].Target = "eve@demo.example" }, errors.Invalid},
		{"two decisions for a target", func(f *filing) { f.dec[1].Target = "alice@demo.example" }, errors.Invalid},
		{"empty decision", func(f *filing) { f.dec[1].Decision = "" }, errors.Invalid},
		{"control character in filer", func(f *filing) { f.filer = "clerk\n" }, errors.Invalid},
		{"zero time", func(f *filing) { f.at = time.Time{} }, errors.Invalid},
		{"duplicate", func(f *filing) { f.d.Reference = "sw-0" }, errors.Exist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, docs := sample(t, "SW-1", "warrant.pdf", "annex.pdf")
			f := filing{d, docs, decisions(), "clerk", t0}
			tc.mutate(&f)
			_, err := s.File(ctx, f.d, f.docs, f.dec, f.filer, f.at)
			wantKind(t, err, tc.want)
			if got := countRows(t, dir); !reflect.DeepEqual(got, before) {
				t.Errorf("rows after a failed filing %v, want %v", got, before)
			}
		})
	}
	// The same filing unchanged succeeds: the failures were the mutations.
	d, docs := sample(t, "SW-1", "warrant.pdf", "annex.pdf")
	if _, err := s.File(ctx, d, docs, decisions(), "clerk", t0); err != nil {
		t.Fatal(err)
	}
}

// countRows counts the rows of every table, through a separate connection.
func countRows(t *testing.T, dir string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "legal.db")+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := make(map[string]int)
	for _, tab := range []string{"demands", "targets", "documents", "decisions", "transitions", "officers",
		"approvals", "holds", "notices", "disclosures", "disclosure_officers", "events"} {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM ` + tab).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tab] = n
	}
	return out
}

func TestReopenAndSchema(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, docs := filepath.Join(dir, "legal.db"), filepath.Join(dir, "documents")
	s, err := Open(path, docs, WithArgon2(pwhash.TestParams))
	if err != nil {
		t.Fatal(err)
	}
	d := file(t, s, "SW-1")
	s.Close()

	s, err = Open(path, docs, WithArgon2(pwhash.TestParams))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Document(ctx, d.ID, "warrant.pdf"); err != nil {
		t.Errorf("after reopening: %v", err)
	}
	s.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRow(`SELECT value FROM meta WHERE name = 'schema_version'`).Scan(&v); err != nil || v != "1" {
		t.Errorf("schema_version %q, %v", v, err)
	}
	if _, err := db.Exec(`UPDATE meta SET value = '99' WHERE name = 'schema_version'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(path, docs)
	wantKind(t, err, errors.Invalid)

	for _, bad := range []string{"", "x.db?mode=ro", ":memory:", "file:x.db"} {
		_, err := Open(bad, docs)
		wantKind(t, err, errors.Invalid)
	}
	_, err = Open(filepath.Join(dir, "other.db"), docs, WithArgon2(pwhash.Params{}))
	wantKind(t, err, errors.Invalid)
}
