package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sealpost/sealpost/errors"
)

const testOrigin = "example.org/sealpost/test-log"

// A fixed test key, so fuzz seeds in testdata can carry real signatures.
const (
	testSKey = "PRIVATE+KEY+example.org/sealpost/test-log+a529e1da+AcCRKr4K8QoU62EtApb/XaM31WmFYfHbJe3ZF0E+aBSC"
	testVKey = "example.org/sealpost/test-log+a529e1da+AVpSaVJ0rJ0WOdUfLG8ak4GtZJtZUulTrYCWMrYrn5Gj"
)

func mustKey(origin string) (string, string) {
	skey, vkey, err := NewKey(origin)
	if err != nil {
		panic(err)
	}
	return skey, vkey
}

// openTest opens a log in a new temporary directory (or dir, if given).
func openTest(t testing.TB, dir string, opts Options) (*Log, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	l, err := Open(dir, testSKey, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

func testEntry(i int) []byte {
	return []byte(fmt.Sprintf(`{"kind":"access","n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%37)))
}

// appendN appends entries first..first+n-1 from g goroutines, each entry
// testEntry(i), and checks that each lands at its own index.
func appendN(t testing.TB, l *Log, first, n, g int) {
	t.Helper()
	ctx := context.Background()
	got := make([]uint64, n)
	var wg sync.WaitGroup
	errs := make(chan error, g)
	for w := range g {
		wg.Go(func() {
			for i := w; i < n; i += g {
				idx, err := l.Append(ctx, testEntry(first+i))
				if err != nil {
					errs <- err
					return
				}
				got[i] = idx
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	seen := make(map[uint64]bool)
	for _, idx := range got {
		if seen[idx] || idx < uint64(first) || idx >= uint64(first+n) {
			t.Fatalf("index %d duplicated or out of [%d,%d)", idx, first, first+n)
		}
		seen[idx] = true
	}
	// Map back: entries are placed in commit order, so check by content.
	for i, idx := range got {
		e, err := l.Entry(ctx, idx)
		if err != nil {
			t.Fatalf("Entry(%d): %v", idx, err)
		}
		if want := testEntry(first + i); !bytes.Equal(e, want) {
			t.Fatalf("Entry(%d) = %q, want %q", idx, e, want)
		}
	}
}

func parseCP(t testing.TB, cp []byte) *log.Checkpoint {
	t.Helper()
	v, err := note.NewVerifier(testVKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _, _, err := log.ParseCheckpoint(cp, testOrigin, v)
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v\n%s", err, cp)
	}
	return c
}

func TestKeys(t *testing.T) {
	vkey, err := VerifierKey(testSKey)
	if err != nil || vkey != testVKey {
		t.Fatalf("VerifierKey = %q, %v; want %q", vkey, err, testVKey)
	}
	for _, bad := range []string{"", "a b", "a+b", "a\nb"} {
		if _, _, err := NewKey(bad); !errors.Is(errors.Invalid, err) {
			t.Errorf("NewKey(%q) = %v, want invalid", bad, err)
		}
	}
	if _, err := VerifierKey(testVKey); !errors.Is(errors.Invalid, err) {
		t.Errorf("VerifierKey(verifier key) = %v, want invalid", err)
	}
}

func TestEmptyLog(t *testing.T) {
	l, _ := openTest(t, "", Options{})
	c := parseCP(t, l.Checkpoint())
	if empty := sha256.Sum256(nil); c.Size != 0 || !bytes.Equal(c.Hash, empty[:]) {
		t.Fatalf("empty checkpoint = %d %x", c.Size, c.Hash)
	}
	if _, err := Verify(context.Background(), HandlerFetcher(l.Handler()), testVKey, nil); err != nil {
		t.Fatalf("Verify empty: %v", err)
	}
	if _, err := l.Entry(context.Background(), 0); !errors.Is(errors.NotExist, err) {
		t.Fatalf("Entry(0) of empty log = %v", err)
	}
}

func TestAppendReadBackReopen(t *testing.T) {
	ctx := context.Background()
	l, dir := openTest(t, "", Options{})
	appendN(t, l, 0, 600, 1)   // one at a time
	appendN(t, l, 600, 900, 8) // concurrently
	if l.Size() != 1500 {
		t.Fatalf("Size = %d", l.Size())
	}
	cp := l.Checkpoint()
	if c := parseCP(t, cp); c.Size != 1500 {
		t.Fatalf("checkpoint size %d", c.Size)
	}
	if _, err := l.Append(ctx, make([]byte, MaxEntrySize+1)); !errors.Is(errors.TooLarge, err) {
		t.Fatalf("oversized Append = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, []byte("late")); !errors.Is(errors.Unavailable, err) {
		t.Fatalf("Append after Close = %v", err)
	}

	// Another key name cannot open it.
	other, _ := mustKey("example.org/other")
	if _, err := Open(dir, other, Options{}); !errors.Is(errors.Invalid, err) {
		t.Fatalf("Open with another origin = %v", err)
	}

	l2, _ := openTest(t, dir, Options{})
	if got := l2.Checkpoint(); !bytes.Equal(got, cp) {
		t.Fatalf("reopened checkpoint differs:\n%s\nwant\n%s", got, cp)
	}
	// A second Open of the same directory is refused while it is open.
	if _, err := Open(dir, testSKey, Options{}); err == nil {
		t.Fatal("second Open of an open log succeeded")
	}
	for _, i := range []uint64{0, 255, 256, 1499} {
		e, err := l2.Entry(ctx, i)
		if err != nil || len(e) == 0 {
			t.Fatalf("Entry(%d) after reopen = %q, %v", i, e, err)
		}
	}
	appendN(t, l2, 1500, 100, 4)
	if _, err := Verify(ctx, HandlerFetcher(l2.Handler()), testVKey, cp); err != nil {
		t.Fatalf("Verify after reopen: %v", err)
	}
	// The largest entry fits.
	big := bytes.Repeat([]byte{0xa5}, MaxEntrySize)
	if i, err := l2.Append(ctx, big); err != nil || i != 1600 {
		t.Fatalf("Append(max size) = %d, %v", i, err)
	}
	if e := mustEntry(t, l2, 1600); !bytes.Equal(e, big) {
		t.Fatal("largest entry read back differently")
	}
	// Empty entries are entries too.
	if _, err := l2.Append(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if e, err := l2.Entry(ctx, 1601); err != nil || len(e) != 0 {
		t.Fatalf("empty entry = %q, %v", e, err)
	}
}

func TestHandler(t *testing.T) {
	l, _ := openTest(t, "", Options{})
	appendN(t, l, 0, 700, 16)
	h := http.StripPrefix("/log", l.Handler())
	tests := []struct {
		method, path string
		code         int
		size         int // expected body length, or -1
		ctype        string
	}{
		{"GET", "/log/checkpoint", 200, len(l.Checkpoint()), "text/plain; charset=utf-8"},
		{"GET", "/log/key", 200, len(testVKey) + 1, "text/plain; charset=utf-8"},
		{"GET", "/log/tile/0/000", 200, 256 * 32, "application/octet-stream"},
		{"GET", "/log/tile/0/001", 200, 256 * 32, "application/octet-stream"},
		{"GET", "/log/tile/0/002", 404, -1, ""}, // only 188 of 256
		{"GET", "/log/tile/0/002.p/188", 200, 188 * 32, "application/octet-stream"},
		{"GET", "/log/tile/0/002.p/189", 404, -1, ""},
		{"GET", "/log/tile/0/001.p/5", 200, 5 * 32, "application/octet-stream"}, // partial of a full tile
		{"GET", "/log/tile/1/000.p/2", 200, 2 * 32, "application/octet-stream"},
		{"GET", "/log/tile/1/000", 404, -1, ""},
		{"GET", "/log/tile/2/000.p/1", 404, -1, ""},
		{"GET", "/log/tile/63/000.p/1", 404, -1, ""},
		{"GET", "/log/tile/entries/000", 200, -1, "application/octet-stream"},
		{"GET", "/log/tile/entries/002.p/188", 200, -1, "application/octet-stream"},
		{"GET", "/log/tile/entries/002", 404, -1, ""},
		{"GET", "/log/tile/entries/x000/002", 404, -1, ""}, // non-canonical
		{"GET", "/log/tile/0/2", 404, -1, ""},
		{"GET", "/log/nothing", 404, -1, ""},
		{"POST", "/log/checkpoint", 405, -1, ""},
		{"HEAD", "/log/tile/0/000", 200, 0, "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.code {
				t.Fatalf("code %d, want %d", rec.Code, tt.code)
			}
			if tt.size >= 0 && rec.Body.Len() != tt.size && tt.method != "HEAD" {
				t.Errorf("body %d bytes, want %d", rec.Body.Len(), tt.size)
			}
			if tt.ctype != "" && rec.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tt.ctype)
			}
		})
	}
	// A partial bundle is a prefix of the full one.
	full, _ := l.Tile(context.Background(), EntriesResource(1, 0))
	part, _ := l.Tile(context.Background(), EntriesResource(1, 10))
	if !bytes.HasPrefix(full, part) || len(part) == 0 {
		t.Fatal("partial bundle is not a prefix of the full bundle")
	}
	if es, err := splitBundle(part); err != nil || len(es) != 10 || !bytes.Equal(es[0], mustEntry(t, l, 256)) {
		t.Fatalf("partial bundle: %d entries, %v", len(es), err)
	}
}

func mustEntry(t testing.TB, l *Log, i uint64) []byte {
	t.Helper()
	e, err := l.Entry(context.Background(), i)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConcurrentAppends(t *testing.T) {
	l, _ := openTest(t, "", Options{MaxBatch: 64, MaxPending: 128})
	appendN(t, l, 0, 4000, 32)
	if l.Size() != 4000 {
		t.Fatalf("Size = %d", l.Size())
	}
	if _, err := Verify(context.Background(), HandlerFetcher(l.Handler()), testVKey, nil); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestProofBundle(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t, "", Options{})
	appendN(t, l, 0, 300, 4)
	for _, i := range []uint64{0, 1, 255, 256, 299} {
		pb, err := l.ProofBundle(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(pb, []byte("c2sp.org/tlog-proof@v1\nextra ")) {
			t.Fatalf("proof bundle does not look like a tlog-proof:\n%s", pb)
		}
		pe, err := VerifyProofBundle(pb, testVKey)
		if err != nil {
			t.Fatalf("VerifyProofBundle(%d): %v\n%s", i, err, pb)
		}
		if pe.Index != i || !bytes.Equal(pe.Entry, mustEntry(t, l, i)) || pe.Checkpoint.Size != 300 {
			t.Fatalf("proof of %d shows %d %q size %d", i, pe.Index, pe.Entry, pe.Checkpoint.Size)
		}
		// Another entry, index or key does not verify.
		bad := bytes.Replace(pb, []byte(fmt.Sprintf("index %d\n", i)), []byte(fmt.Sprintf("index %d\n", (i+1)%300)), 1)
		if _, err := VerifyProofBundle(bad, testVKey); !errors.Is(errors.Invalid, err) {
			t.Errorf("proof with changed index verified: %v", err)
		}
		_, otherV := mustKey(testOrigin)
		if _, err := VerifyProofBundle(pb, otherV); !errors.Is(errors.Invalid, err) {
			t.Errorf("proof verified under another key: %v", err)
		}
	}
	pb, _ := l.ProofBundle(ctx, 7)
	lines := strings.Split(string(pb), "\n")
	lines[1] = "extra " + "eyJraW5kIjoiZm9yZ2VkIn0=" // {"kind":"forged"}
	if _, err := VerifyProofBundle([]byte(strings.Join(lines, "\n")), testVKey); !errors.Is(errors.Invalid, err) {
		t.Errorf("proof with a changed entry verified: %v", err)
	}
	if _, err := l.ProofBundle(ctx, 300); !errors.Is(errors.NotExist, err) {
		t.Errorf("ProofBundle beyond size = %v", err)
	}
}

func mustHash(t testing.TB, b64 string) tlog.Hash {
	t.Helper()
	h, err := tlog.ParseHash(b64)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "tlog-fuzz-") }

func TestMain(m *testing.M) {
	code := m.Run()
	if fuzzLog.l != nil {
		fuzzLog.l.Close()
		os.RemoveAll(fuzzLog.l.f.dir)
	}
	if benchLog.dir != "" {
		os.RemoveAll(benchLog.dir)
	}
	os.Exit(code)
}

// TestAppendAllConsecutive checks that AppendAll's entries land at
// consecutive indexes, in order, while single Appends run beside it, across
// batches (MaxBatch smaller than the call) and a queue limit smaller than
// the call.
func TestAppendAllConsecutive(t *testing.T) {
	l, _ := openTest(t, "", Options{MaxBatch: 7, MaxPending: 20})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := l.Append(ctx, []byte(fmt.Sprintf("single %d/%d", g, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	type call struct {
		first   uint64
		entries [][]byte
	}
	calls := make([]call, 6)
	for c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 5 + 9*c // up to 50: more than MaxPending
			for i := 0; i < n; i++ {
				calls[c].entries = append(calls[c].entries, []byte(fmt.Sprintf("all %d/%d", c, i)))
			}
			first, err := l.AppendAll(ctx, calls[c].entries)
			if err != nil {
				t.Error(err)
			}
			calls[c].first = first
		}()
	}
	wg.Wait()
	for c, cl := range calls {
		for i, want := range cl.entries {
			got, err := l.Entry(ctx, cl.first+uint64(i))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("call %d entry %d at %d: %q, %v; want %q", c, i, cl.first+uint64(i), got, err, want)
			}
		}
	}
	if _, err := l.AppendAll(ctx, nil); !errors.Is(errors.Invalid, err) {
		t.Errorf("AppendAll(nil) = %v", err)
	}
}

// TestEntriesRanges checks Entries against Entry over ranges within, across
// and at the edges of bundles, and refuses ranges beyond the tree.
func TestEntriesRanges(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t, "", Options{})
	var all [][]byte
	for i := range 700 {
		all = append(all, testEntry(i))
	}
	if _, err := l.AppendAll(ctx, all); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]uint64{{0, 0}, {0, 1}, {0, 256}, {255, 257}, {3, 700}, {512, 700}, {699, 700}, {100, 600}} {
		got, err := l.Entries(ctx, r[0], r[1])
		if err != nil || uint64(len(got)) != r[1]-r[0] {
			t.Fatalf("Entries(%d, %d): %d entries, %v", r[0], r[1], len(got), err)
		}
		for i, e := range got {
			want, _ := l.Entry(ctx, r[0]+uint64(i))
			if !bytes.Equal(e, want) || !bytes.Equal(e, testEntry(int(r[0])+i)) {
				t.Fatalf("Entries(%d, %d)[%d] = %q, want %q", r[0], r[1], i, e, want)
			}
		}
	}
	for _, r := range [][2]uint64{{0, 701}, {5, 4}} {
		if _, err := l.Entries(ctx, r[0], r[1]); !errors.Is(errors.NotExist, err) {
			t.Errorf("Entries(%d, %d): %v", r[0], r[1], err)
		}
	}
}
