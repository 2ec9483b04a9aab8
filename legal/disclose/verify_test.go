package disclose

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

// entry is one tar entry, for rewriting packages.
type entry struct {
	hdr  *tar.Header
	data []byte
	off  int64 // offset of the data in the archive
}

// offsetReader counts bytes read, to find where entries' data starts.
type offsetReader struct {
	r io.Reader
	n int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.n += int64(n)
	return n, err
}

func readEntries(t testing.TB, pkg []byte) []entry {
	t.Helper()
	or := &offsetReader{r: bytes.NewReader(pkg)}
	tr := tar.NewReader(or)
	var es []entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return es
		}
		if err != nil {
			t.Fatal(err)
		}
		off := or.n
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, entry{hdr: hdr, data: data, off: off})
	}
}

func writeEntries(t testing.TB, es []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		hdr := *e.hdr
		hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// resign replaces manifest.json with mjson and signs it with testKey.
func resign(t testing.TB, es []entry, mjson []byte) []entry {
	t.Helper()
	es = slices.Clone(es)
	es[0].data = mjson
	es[1].data = ed25519.Sign(testKey, mjson)
	return es
}

func verifyBytes(pkg []byte) error {
	_, err := Verify(bytes.NewReader(pkg), testPub())
	return err
}

func TestRewriteIsIdentity(t *testing.T) {
	pkg := buildPackage(t, testManifest(), testFiles())
	if !bytes.Equal(writeEntries(t, readEntries(t, pkg)), pkg) {
		t.Fatal("rewriting the entries unchanged changes the package: the tamper tests would test the rewriter")
	}
}

// TestFlipEachFile flips the first, a middle and the last byte of each
// entry's data in turn: the error names the entry (manifest.json for a
// change to the manifest or its signature, which the error also names).
func TestFlipEachFile(t *testing.T) {
	pkg := buildPackage(t, testManifest(), testFiles())
	for _, e := range readEntries(t, pkg) {
		for _, at := range []int64{0, int64(len(e.data)) / 2, int64(len(e.data)) - 1} {
			bad := slices.Clone(pkg)
			bad[e.off+at] ^= 0x01
			err := verifyBytes(bad)
			want := e.hdr.Name
			if want == SignatureName {
				want = ManifestName
			}
			wantFileError(t, err, errors.Invalid, want)
			if err != nil && !strings.Contains(err.Error(), e.hdr.Name) {
				t.Errorf("flip in %s at %d: error %q does not mention it", e.hdr.Name, at, err)
			}
		}
	}
}

// TestFlipEveryByte flips every byte of a package, headers, padding and
// end-of-archive marker included: no change goes unnoticed.
func TestFlipEveryByte(t *testing.T) {
	files := []File{
		{Name: "subscriber.json", Data: []byte(`[{"address":"bob@demo.example"}]` + "\n")},
		{Name: ContentName("bob@demo.example", "INBOX", 1), Data: pseudo(9, 700)},
	}
	pkg := buildPackage(t, testManifest(), files)
	for i := range pkg {
		for _, x := range []byte{0x01, 0xff} {
			bad := slices.Clone(pkg)
			bad[i] ^= x
			if err := verifyBytes(bad); err == nil {
				t.Fatalf("byte %d of %d xor %#x: package still verifies", i, len(pkg), x)
			}
		}
	}
}

func TestTamper(t *testing.T) {
	pkg := buildPackage(t, testManifest(), testFiles())
	es := readEntries(t, pkg)
	content := ContentName("bob@demo.example", "INBOX", 2)
	ci := slices.IndexFunc(es, func(e entry) bool { return e.hdr.Name == content })
	if ci < 0 {
		t.Fatal("fixture lacks", content)
	}
	extra := func(name string, typ byte) entry {
		e := entry{hdr: &tar.Header{Typeflag: typ, Name: name, Mode: 0o644, ModTime: es[2].hdr.ModTime, Format: tar.FormatUSTAR}}
		if typ == tar.TypeReg {
			e.data = []byte("extra")
		}
		return e
	}
	modify := func(i int, f func(h *tar.Header)) []entry {
		es := slices.Clone(es)
		h := *es[i].hdr
		f(&h)
		es[i].hdr = &h
		return es
	}
	mjson := es[0].data
	var m map[string]any
	if err := json.Unmarshal(mjson, &m); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		desc string
		es   []entry
		name string // the file the error must name
		kind errors.Kind
	}{
		{"file removed", slices.Delete(slices.Clone(es), ci, ci+1), content, errors.Invalid},
		{"last file removed", es[:len(es)-1], es[len(es)-1].hdr.Name, errors.Invalid},
		{"manifest removed", es[1:], ManifestName, errors.Invalid},
		{"signature removed", slices.Delete(slices.Clone(es), 1, 2), SignatureName, errors.Invalid},
		{"unlisted file added", append(slices.Clone(es), extra("content/extra.pgp", tar.TypeReg)), "content/extra.pgp", errors.Invalid},
		{"unlisted file added first", slices.Insert(slices.Clone(es), 2, extra("aaa", tar.TypeReg)), "aaa", errors.Invalid},
		{"entry duplicated", slices.Insert(slices.Clone(es), ci+1, es[ci]), content, errors.Invalid},
		{"entry duplicated at the end", append(slices.Clone(es), es[2]), es[2].hdr.Name, errors.Invalid},
		{"manifest duplicated", append(slices.Clone(es), es[0]), ManifestName, errors.Invalid},
		{"signature duplicated", append(slices.Clone(es), es[1]), SignatureName, errors.Invalid},
		{"file renamed", modify(ci, func(h *tar.Header) { h.Name = "content/renamed.pgp" }), "content/renamed.pgp", errors.Invalid},
		{"file renamed to a listed name", modify(ci, func(h *tar.Header) { h.Name = es[ci+1].hdr.Name }), es[ci+1].hdr.Name, errors.Invalid},
		{"signature first", append([]entry{es[1], es[0]}, es[2:]...), ManifestName, errors.Invalid},
		{"file moved before the manifest", append([]entry{es[ci]}, slices.Delete(slices.Clone(es), ci, ci+1)...), ManifestName, errors.Invalid},
		{"path trick added", append(slices.Clone(es), extra("../../etc/cron.d/x", tar.TypeReg)), "../../etc/cron.d/x", errors.Invalid},
		{"absolute path added", append(slices.Clone(es), extra("/etc/passwd", tar.TypeReg)), "/etc/passwd", errors.Invalid},
		{"symlink added", append(slices.Clone(es), extra("link", tar.TypeSymlink)), "link", errors.Invalid},
		{"directory added", append(slices.Clone(es), extra("content/", tar.TypeDir)), "content/", errors.Invalid},
		{"file turned into a link", func() []entry {
			es := modify(ci, func(h *tar.Header) { h.Typeflag = tar.TypeSymlink; h.Linkname = "/etc/passwd" })
			es[ci].data = nil
			return es
		}(), content, errors.Invalid},
		{"mode changed", modify(ci, func(h *tar.Header) { h.Mode = 0o4755 }), content, errors.Invalid},
		{"owner changed", modify(ci, func(h *tar.Header) { h.Uid = 1000 }), content, errors.Invalid},
		{"owner name set", modify(ci, func(h *tar.Header) { h.Uname = "root" }), content, errors.Invalid},
		{"time changed", modify(ci, func(h *tar.Header) { h.ModTime = h.ModTime.Add(1e9) }), content, errors.Invalid},
		{"manifest time changed", modify(0, func(h *tar.Header) { h.ModTime = h.ModTime.Add(1e9) }), ManifestName, errors.Invalid},
		{"extended attribute", modify(ci, func(h *tar.Header) {
			h.Format = tar.FormatPAX
			h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": "x"}
		}), content, errors.Invalid},
		{"content grown", func() []entry {
			es := slices.Clone(es)
			es[ci].data = append(slices.Clone(es[ci].data), 0)
			return es
		}(), content, errors.Invalid},
		{"content replaced, same size", func() []entry {
			es := slices.Clone(es)
			es[ci].data = make([]byte, len(es[ci].data))
			return es
		}(), content, errors.Invalid},
		{"signature short", func() []entry {
			es := slices.Clone(es)
			es[1].data = es[1].data[:63]
			return es
		}(), SignatureName, errors.Invalid},
		{"manifest not canonical", resign(t, es, append(slices.Clone(mjson), ' ')), ManifestName, errors.Invalid},
		{"manifest compacted", func() []entry {
			var b bytes.Buffer
			json.Compact(&b, mjson)
			return resign(t, es, b.Bytes())
		}(), ManifestName, errors.Invalid},
		{"manifest with an unknown field", resign(t, es, bytes.Replace(mjson, []byte("{\n"), []byte("{\n  \"extra\": true,\n"), 1)), ManifestName, errors.Invalid},
		{"manifest of another format", resign(t, es, withField(t, m, "format", "sealpost-disclosure/9")), ManifestName, errors.Invalid},
		{"manifest naming another key", resign(t, es, withField(t, m, "signing_key", EncodePublicKey(make([]byte, 32)))), ManifestName, errors.Invalid},
		{"manifest with one approver", resign(t, es, withField(t, m, "approvals", []string{"Officer One"})), ManifestName, errors.Invalid},
		{"manifest listing a path trick", resign(t, es, withFiles(t, m, func(fs []any) []any {
			fs[0].(map[string]any)["name"] = "../x"
			return fs
		})), "../x", errors.Invalid},
		{"manifest listing a file twice", resign(t, es, withFiles(t, m, func(fs []any) []any {
			return slices.Insert(fs, 1, fs[0])
		})), es[2].hdr.Name, errors.Invalid},
		{"manifest listing a bad digest", resign(t, es, withFiles(t, m, func(fs []any) []any {
			fs[0].(map[string]any)["sha256"] = strings.Repeat("A", 64)
			return fs
		})), es[2].hdr.Name, errors.Invalid},
		{"manifest listing a file with another size", resign(t, es, withFiles(t, m, func(fs []any) []any {
			fs[0].(map[string]any)["size"] = 1
			return fs
		})), es[2].hdr.Name, errors.Invalid},
		{"manifest listing one more file", resign(t, es, withFiles(t, m, func(fs []any) []any {
			return append(fs, map[string]any{"name": "zzz", "sha256": strings.Repeat("0", 64), "size": 0})
		})), "zzz", errors.Invalid},
		{"manifest listing too many files", resign(t, es, withFiles(t, m, func(fs []any) []any {
			for i := range 20 {
				fs = append(fs, map[string]any{"name": "zz" + string(rune('a'+i)), "sha256": strings.Repeat("0", 64), "size": 0})
			}
			return fs
		})), ManifestName, errors.TooLarge},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			pkg := writeEntries(t, tc.es)
			lim := DefaultLimits
			lim.MaxFiles = 20
			_, err := VerifyLimits(bytes.NewReader(pkg), testPub(), lim)
			t.Log(err)
			wantFileError(t, err, tc.kind, tc.name)
		})
	}
}

// withField returns the manifest m with one field set, canonically encoded
// (as Build would, so only the change is wrong).
func withField(t testing.TB, m map[string]any, key string, v any) []byte {
	t.Helper()
	c := map[string]any{}
	for k, x := range m {
		c[k] = x
	}
	c[key] = v
	return canonical(t, c)
}

func withFiles(t testing.TB, m map[string]any, f func([]any) []any) []byte {
	t.Helper()
	var fs []any
	for _, x := range m["files"].([]any) {
		c := map[string]any{}
		for k, v := range x.(map[string]any) {
			c[k] = v
		}
		fs = append(fs, c)
	}
	return withField(t, m, "files", f(fs))
}

// canonical encodes a generic manifest in the field order of Manifest, so
// that a well-formed one passes the canonical check.
func canonical(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var mf Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&mf); err != nil {
		t.Fatal(err)
	}
	out, err := encodeManifest(mf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTruncated(t *testing.T) {
	pkg := buildPackage(t, testManifest(), testFiles())
	es := readEntries(t, pkg)
	// Every block boundary and a point inside every block, down to
	// nothing; then cutting only the end-of-archive marker.
	var cuts []int
	for n := 0; n < len(pkg); n += 512 {
		cuts = append(cuts, n, n+100)
	}
	cuts = append(cuts, len(pkg)-1024, len(pkg)-512, len(pkg)-1)
	for _, n := range cuts {
		err := verifyBytes(pkg[:n])
		if err == nil {
			t.Fatalf("package cut to %d of %d bytes verifies", n, len(pkg))
		}
		var fe *FileError
		if !errors.Is(errors.Invalid, err) || !errors.As(err, &fe) {
			t.Errorf("cut to %d: %v, want an Invalid error naming a file", n, err)
			continue
		}
		// A cut inside an entry's data names that entry.
		for _, e := range es {
			if int64(n) > e.off && int64(n) < e.off+int64(len(e.data)) && fe.Name != e.hdr.Name {
				t.Errorf("cut to %d, inside %s: error names %q", n, e.hdr.Name, fe.Name)
			}
		}
	}
}

func TestTrailingData(t *testing.T) {
	pkg := buildPackage(t, testManifest(), testFiles())
	// Zeros after the marker (a tape's block padding) are harmless.
	if err := verifyBytes(append(slices.Clone(pkg), make([]byte, 10240)...)); err != nil {
		t.Errorf("zero padding after the archive: %v", err)
	}
	// Anything else could be an entry some tar reads.
	if err := verifyBytes(append(slices.Clone(pkg), 'x')); !errors.Is(errors.Invalid, err) {
		t.Errorf("data after the archive: %v", err)
	}
	hidden := writeEntries(t, []entry{{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: "hidden", Mode: 0o644}, data: []byte("x")}})
	if err := verifyBytes(append(slices.Clone(pkg), hidden...)); !errors.Is(errors.Invalid, err) {
		t.Errorf("an entry after the end-of-archive marker: %v", err)
	}
}

func TestWrongKey(t *testing.T) {
	pkg := buildPackage(t, testManifest(), testFiles())
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
	_, err := Verify(bytes.NewReader(pkg), other)
	wantFileError(t, err, errors.Invalid, ManifestName)
	if err != nil && (!strings.Contains(err.Error(), EncodePublicKey(other)) || !strings.Contains(err.Error(), EncodePublicKey(testPub()))) {
		t.Errorf("error %q should name the key given and the key the manifest claims", err)
	}
	if _, err := Verify(bytes.NewReader(pkg), other[:31]); !errors.Is(errors.Invalid, err) {
		t.Errorf("short key: %v", err)
	}
}

func TestLimits(t *testing.T) {
	pkg := buildPackage(t, testManifest(), testFiles())
	es := readEntries(t, pkg)
	for _, tc := range []struct {
		desc string
		lim  Limits
	}{
		{"total", Limits{MaxFiles: 100, MaxManifest: 1 << 20, MaxTotal: int64(len(pkg)) - 1}},
		{"total, before the files", Limits{MaxFiles: 100, MaxManifest: 1 << 20, MaxTotal: 1000}},
		{"manifest", Limits{MaxFiles: 100, MaxManifest: int64(len(es[0].data)) - 1, MaxTotal: 1 << 30}},
		{"files", Limits{MaxFiles: len(es) - 3, MaxManifest: 1 << 20, MaxTotal: 1 << 30}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if _, err := VerifyLimits(bytes.NewReader(pkg), testPub(), tc.lim); !errors.Is(errors.TooLarge, err) {
				t.Errorf("VerifyLimits: %v, want TooLarge", err)
			}
		})
	}
	exact := Limits{MaxFiles: len(es) - 2, MaxManifest: int64(len(es[0].data)), MaxTotal: int64(len(pkg))}
	if _, err := VerifyLimits(bytes.NewReader(pkg), testPub(), exact); err != nil {
		t.Errorf("a package exactly at the limits: %v", err)
	}
}

// errReader fails after its data.
type errReader struct{ r io.Reader }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, io.ErrClosedPipe
	}
	return n, err
}

func TestReadError(t *testing.T) {
	pkg := buildPackage(t, testManifest(), testFiles())
	_, err := Verify(errReader{bytes.NewReader(pkg[:3000])}, testPub())
	if !errors.Is(errors.Internal, err) {
		t.Errorf("Verify over a failing reader: %v, want Internal", err)
	}
}
