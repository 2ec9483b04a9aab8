package disclose

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// testKey is a fixed signing key, so that packages (and the fuzz seeds in
// testdata) are the same on every run. Test only.
var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func testPub() ed25519.PublicKey { return testKey.Public().(ed25519.PublicKey) }

func testManifest() Manifest {
	return Manifest{
		DemandID:      "D-2026-0001",
		Reference:     "2026-SW-0042",
		Authority:     "U.S. District Court, N.D. Cal.",
		Created:       time.Date(2026, 3, 1, 13, 4, 5, 987654321, time.FixedZone("CET", 3600)),
		Approvals:     []string{"Officer One", "Officer Two"},
		PolicyVersion: "2026-02-01.1",
		Scope: []Scope{
			{Target: "bob@demo.example", Categories: []legal.Category{legal.Content, legal.Subscriber, legal.Traffic}},
		},
	}
}

// pseudo returns n deterministic bytes.
func pseudo(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// testFiles is a package's content: records, and sealed messages of sizes
// around the 512-byte block, one with a long name (PAX) and one with a
// non-ASCII mailbox.
func testFiles() []File {
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	files := SubscriberFiles([]SubscriberRecord{{
		Address: "bob@demo.example", Region: "us", Country: "US", Entity: "Sealpost Inc.", Created: created,
		Keys: []KeyRecord{{Generation: 1, Created: created, Fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567", Active: true}},
	}})
	files = append(files, TrafficFiles([]TrafficRecord{
		{Address: "bob@demo.example", Mailbox: "INBOX", UIDValidity: 7, UID: 1, InternalDate: created, Size: 100, Flags: []sealpost.Flag{`\Seen`}},
		{Address: "bob@demo.example", Mailbox: "Entwürfe", UIDValidity: 9, UID: 3, InternalDate: created, Size: 511},
	})...)
	files = append(files,
		File{Name: ContentName("bob@demo.example", "INBOX", 1), Data: pseudo(1, 100)},
		File{Name: ContentName("bob@demo.example", "INBOX", 2), Data: pseudo(2, 512)},
		File{Name: ContentName("bob@demo.example", "Entwürfe", 3), Data: pseudo(3, 513)},
		File{Name: ContentName("bob@demo.example", strings.Repeat("Archive/", 16)+"2024", 4), Data: pseudo(4, 1500)},
	)
	return files
}

func buildPackage(t testing.TB, m Manifest, files []File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Build(&buf, m, files, testKey); err != nil {
		t.Fatalf("Build: %v", err)
	}
	return buf.Bytes()
}

// wantFileError checks that err is of kind and names the file name.
func wantFileError(t *testing.T, err error, kind errors.Kind, name string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %q", name)
	}
	if !errors.Is(kind, err) {
		t.Errorf("error %v: kind %v, want %v", err, errors.KindOf(err), kind)
	}
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v does not name a file", err)
	}
	if fe.Name != name {
		t.Errorf("error %v names %q, want %q", err, fe.Name, name)
	}
}

func TestRoundTrip(t *testing.T) {
	files := testFiles()
	pkg := buildPackage(t, testManifest(), files)
	m, err := Verify(bytes.NewReader(pkg), testPub())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	in := testManifest()
	if m.Format != Format || m.DemandID != in.DemandID || m.Reference != in.Reference || m.Authority != in.Authority ||
		m.PolicyVersion != in.PolicyVersion || !slices.Equal(m.Approvals, in.Approvals) {
		t.Errorf("manifest %+v does not carry the input's fields", m)
	}
	if want := time.Date(2026, 3, 1, 12, 4, 5, 0, time.UTC); !m.Created.Equal(want) || m.Created.Location() != time.UTC {
		t.Errorf("Created = %v, want %v in UTC", m.Created, want)
	}
	if m.Statement != SealedStatement {
		t.Errorf("Statement = %q, want the default", m.Statement)
	}
	if m.SigningKey != EncodePublicKey(testPub()) {
		t.Errorf("SigningKey = %q", m.SigningKey)
	}
	if want := []legal.Category{legal.Subscriber, legal.Traffic, legal.Content}; len(m.Scope) != 1 || !slices.Equal(m.Scope[0].Categories, want) {
		t.Errorf("Scope = %+v, want categories in order %v", m.Scope, want)
	}

	// The manifest lists every file with its real digest, sorted.
	byName := map[string][]byte{}
	for _, f := range files {
		byName[f.Name] = f.Data
	}
	if len(m.Files) != len(files) {
		t.Fatalf("manifest lists %d files, want %d", len(m.Files), len(files))
	}
	for i, mf := range m.Files {
		if i > 0 && m.Files[i-1].Name >= mf.Name {
			t.Errorf("manifest not sorted at %q", mf.Name)
		}
		sum := sha256.Sum256(byName[mf.Name])
		if mf.SHA256 != hex.EncodeToString(sum[:]) || mf.Size != int64(len(byName[mf.Name])) {
			t.Errorf("manifest entry %+v does not match the file", mf)
		}
	}

	// The archive: manifest.json, manifest.sig, then the files in order,
	// each as given, with fixed metadata.
	tr := tar.NewReader(bytes.NewReader(pkg))
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Mode != 0o644 || !hdr.ModTime.Equal(m.Created) || hdr.Uid != 0 || hdr.Typeflag != tar.TypeReg {
			t.Errorf("%s: header %+v", hdr.Name, hdr)
		}
		switch hdr.Name {
		case ManifestName:
			if !ed25519.Verify(testPub(), data, mustEntry(t, pkg, SignatureName)) {
				t.Error("manifest.sig is not a raw signature over manifest.json")
			}
			if !bytes.HasSuffix(data, []byte("}\n")) {
				t.Error("manifest.json does not end with a newline")
			}
		case SignatureName:
		default:
			if !bytes.Equal(data, byName[hdr.Name]) {
				t.Errorf("%s: content differs", hdr.Name)
			}
		}
	}
	want := []string{ManifestName, SignatureName}
	for _, f := range m.Files {
		want = append(want, f.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("entries %q, want %q", names, want)
	}
}

func mustEntry(t *testing.T, pkg []byte, name string) []byte {
	t.Helper()
	for _, e := range readEntries(t, pkg) {
		if e.hdr.Name == name {
			return e.data
		}
	}
	t.Fatalf("no entry %q", name)
	return nil
}

func TestEmptyPackage(t *testing.T) {
	pkg := buildPackage(t, testManifest(), nil)
	m, err := Verify(bytes.NewReader(pkg), testPub())
	if err != nil {
		t.Fatal(err)
	}
	if m.Files == nil || len(m.Files) != 0 {
		t.Errorf("Files = %#v, want empty", m.Files)
	}
	pkg = buildPackage(t, testManifest(), []File{{Name: "empty.txt"}, {Name: "block.bin", Data: make([]byte, 512)}})
	if _, err := Verify(bytes.NewReader(pkg), testPub()); err != nil {
		t.Fatal(err)
	}
}

func TestReproducible(t *testing.T) {
	files := testFiles()
	a := buildPackage(t, testManifest(), files)
	b := buildPackage(t, testManifest(), files)
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same input differ")
	}
	shuffled := slices.Clone(files)
	slices.Reverse(shuffled)
	shuffled[0], shuffled[3] = shuffled[3], shuffled[0]
	if c := buildPackage(t, testManifest(), shuffled); !bytes.Equal(a, c) {
		t.Error("the order of files changes the package")
	}
	m := testManifest()
	m.Created = m.Created.Add(-400 * time.Millisecond) // same second
	if c := buildPackage(t, m, files); !bytes.Equal(a, c) {
		t.Error("a sub-second difference in Created changes the package")
	}
	m.Files = []ManifestFile{{Name: "ignored", SHA256: "x"}}
	m.SigningKey = "ignored"
	if c := buildPackage(t, m, files); !bytes.Equal(a, c) {
		t.Error("caller's Files or SigningKey leaked into the package")
	}
	m = testManifest()
	m.Created = m.Created.Add(time.Second)
	if c := buildPackage(t, m, files); bytes.Equal(a, c) {
		t.Error("a different Created gives the same package")
	}
	changed := slices.Clone(files)
	changed[len(changed)-1].Data = append(slices.Clone(changed[len(changed)-1].Data), 0)
	if c := buildPackage(t, testManifest(), changed); bytes.Equal(a, c) {
		t.Error("different content gives the same package")
	}
}

func TestBuildRefusesNames(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		names []string
		bad   string
	}{
		{"empty", []string{""}, ""},
		{"absolute", []string{"/etc/passwd"}, "/etc/passwd"},
		{"parent", []string{"../x"}, "../x"},
		{"parent inside", []string{"content/../../x"}, "content/../../x"},
		{"dot segment", []string{"a/./b"}, "a/./b"},
		{"leading dot", []string{"./a"}, "./a"},
		{"lone dot", []string{"."}, "."},
		{"empty segment", []string{"a//b"}, "a//b"},
		{"trailing slash", []string{"a/"}, "a/"},
		{"backslash", []string{`..\..\x`}, `..\..\x`},
		{"drive", []string{"C:x"}, "C:x"},
		{"NUL", []string{"a\x00b"}, "a\x00b"},
		{"newline", []string{"a\nb"}, "a\nb"},
		{"DEL", []string{"a\x7fb"}, "a\x7fb"},
		{"C1 control", []string{"a\u0085b"}, "a\u0085b"},
		{"bidi override", []string{"gpj.\u202eexe"}, "gpj.\u202eexe"},
		{"invalid UTF-8", []string{"a\xffb"}, "a\xffb"},
		{"reserved manifest", []string{"manifest.json"}, "manifest.json"},
		{"reserved signature, other case", []string{"Manifest.SIG"}, "Manifest.SIG"},
		{"too long", []string{strings.Repeat("a", MaxNameLen+1)}, strings.Repeat("a", MaxNameLen+1)},
		{"duplicate", []string{"a.txt", "b.txt", "a.txt"}, "a.txt"},
		{"file and directory", []string{"a/b/c", "a/b"}, "a/b"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var files []File
			for _, n := range tc.names {
				files = append(files, File{Name: n, Data: []byte("x")})
			}
			var buf bytes.Buffer
			err := Build(&buf, testManifest(), files, testKey)
			wantFileError(t, err, errors.Invalid, tc.bad)
			if buf.Len() != 0 {
				t.Errorf("Build wrote %d bytes before refusing", buf.Len())
			}
			if err != nil && tc.bad != "" && checkName(tc.bad) != "" && strings.ContainsAny(err.Error(), "\x00\n\x7f\u0085\u202e") {
				t.Errorf("error %q carries the raw name", err)
			}
		})
	}
	// Allowed, if odd: spaces, non-ASCII, a name at the limit, a file
	// beside a longer name with the same prefix.
	ok := []File{{Name: "a b/ü €.txt"}, {Name: strings.Repeat("n", MaxNameLen)}, {Name: "a"}, {Name: "a.txt/b"}, {Name: ".hidden/..x"}}
	if _, err := Verify(bytes.NewReader(buildPackage(t, testManifest(), ok)), testPub()); err != nil {
		t.Fatal(err)
	}
}

func TestBuildRefusesManifest(t *testing.T) {
	for _, tc := range []struct {
		desc string
		edit func(*Manifest)
		kind errors.Kind
	}{
		{"no demand ID", func(m *Manifest) { m.DemandID = " " }, errors.Invalid},
		{"no creation time", func(m *Manifest) { m.Created = time.Time{} }, errors.Invalid},
		{"before 1970", func(m *Manifest) { m.Created = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, errors.Invalid},
		{"other format", func(m *Manifest) { m.Format = "sealpost-disclosure/2" }, errors.Invalid},
		{"one approval", func(m *Manifest) { m.Approvals = []string{"Officer One"} }, errors.Permission},
		{"no approval", func(m *Manifest) { m.Approvals = nil }, errors.Permission},
		{"same officer twice", func(m *Manifest) { m.Approvals = []string{"Officer One", " officer one"} }, errors.Permission},
		{"empty approver", func(m *Manifest) { m.Approvals = []string{"Officer One", "Officer Two", ""} }, errors.Invalid},
		{"scope without target", func(m *Manifest) { m.Scope = []Scope{{Categories: []legal.Category{legal.Content}}} }, errors.Invalid},
		{"scope unknown category", func(m *Manifest) {
			m.Scope = []Scope{{Target: "a@b.example", Categories: []legal.Category{"everything"}}}
		}, errors.Invalid},
		{"scope category twice", func(m *Manifest) {
			m.Scope = []Scope{{Target: "a@b.example", Categories: []legal.Category{legal.Content, legal.Content}}}
		}, errors.Invalid},
		{"scope target twice", func(m *Manifest) {
			m.Scope = []Scope{{Target: "a@b.example"}, {Target: "a@b.example"}}
		}, errors.Invalid},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			m := testManifest()
			tc.edit(&m)
			var buf bytes.Buffer
			err := Build(&buf, m, testFiles(), testKey)
			if !errors.Is(tc.kind, err) {
				t.Fatalf("Build: %v, want kind %v", err, tc.kind)
			}
			if buf.Len() != 0 {
				t.Errorf("Build wrote %d bytes before refusing", buf.Len())
			}
		})
	}
	if err := Build(io.Discard, testManifest(), nil, testKey[:10]); !errors.Is(errors.Invalid, err) {
		t.Errorf("Build with a short key: %v", err)
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, io.ErrShortWrite
	}
	w.n -= len(p)
	return len(p), nil
}

func TestBuildWriteError(t *testing.T) {
	for _, n := range []int{0, 700, 3000} {
		if err := Build(&failWriter{n: n}, testManifest(), testFiles(), testKey); !errors.Is(errors.Internal, err) {
			t.Errorf("after %d bytes: %v, want an Internal error", n, err)
		}
	}
}
