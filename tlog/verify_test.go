package tlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

// tamper returns a fetcher that passes path's data through f.
func tamper(base Fetcher, path string, f func([]byte) []byte) Fetcher {
	return func(ctx context.Context, p string) ([]byte, error) {
		data, err := base(ctx, p)
		if err != nil || p != path {
			return data, err
		}
		return f(bytes.Clone(data)), nil
	}
}

// editBundle splits a bundle, lets f edit the entries, and joins them.
func editBundle(f func([][]byte) [][]byte) func([]byte) []byte {
	return func(data []byte) []byte {
		es, err := splitBundle(data)
		if err != nil {
			panic(err)
		}
		var out []byte
		for _, e := range f(es) {
			out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
			out = append(out, e...)
		}
		return out
	}
}

// wantFault checks that err is a verification failure naming resource and
// entry (-1: none), with reason containing why.
func wantFault(t *testing.T, err error, kind errors.Kind, resource string, entry int64, why string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Verify = %v, want a VerifyError", err)
	}
	if !errors.Is(kind, err) || ve.Resource != resource || ve.Entry != entry || !strings.Contains(ve.Reason, why) {
		t.Fatalf("Verify = %v (kind %v, resource %q, entry %d), want kind %v, %q, entry %d, reason with %q",
			err, errors.KindOf(err), ve.Resource, ve.Entry, kind, resource, entry, why)
	}
}

func TestVerifyTamper(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t, "", Options{})
	appendN(t, l, 0, 500, 8)
	cp500 := l.Checkpoint()
	appendN(t, l, 500, 200, 8)
	cp700 := l.Checkpoint()
	good := HandlerFetcher(l.Handler())
	if _, err := Verify(ctx, good, testVKey, cp500); err != nil {
		t.Fatalf("untampered log: %v", err)
	}

	otherSKey, otherVKey := mustKey(testOrigin)
	_ = otherVKey
	tests := []struct {
		name     string
		fetch    Fetcher
		trusted  []byte
		kind     errors.Kind
		resource string
		entry    int64
		why      string
	}{
		{"flip a byte in an entry", tamper(good, "tile/entries/001", editBundle(func(es [][]byte) [][]byte {
			es[5][3] ^= 1
			return es
		})), nil, errors.Invalid, "tile/entries/001", 261, "does not match"},
		{"drop an entry", tamper(good, "tile/entries/001", editBundle(func(es [][]byte) [][]byte {
			return append(es[:10:10], es[11:]...)
		})), nil, errors.Invalid, "tile/entries/001", 266, "does not match"},
		{"drop the last entry", tamper(good, "tile/entries/002.p/188", editBundle(func(es [][]byte) [][]byte {
			return es[:187]
		})), nil, errors.Invalid, "tile/entries/002.p/188", 699, "missing"},
		{"reorder two entries", tamper(good, "tile/entries/001", editBundle(func(es [][]byte) [][]byte {
			es[20], es[21] = es[21], es[20]
			return es
		})), nil, errors.Invalid, "tile/entries/001", 276, "does not match"},
		{"add an entry", tamper(good, "tile/entries/002.p/188", editBundle(func(es [][]byte) [][]byte {
			return append(es, []byte("extra"))
		})), nil, errors.Invalid, "tile/entries/002.p/188", 700, "beyond"},
		{"torn bundle", tamper(good, "tile/entries/000", func(b []byte) []byte { return b[:len(b)-3] }),
			nil, errors.Invalid, "tile/entries/000", 255, "torn"},
		{"flip a byte in a leaf tile", tamper(good, "tile/0/000", func(b []byte) []byte { b[32*3+7] ^= 0x80; return b }),
			nil, errors.Invalid, "tile/entries/000", 3, "tile/0/000"},
		{"flip a byte in a level-1 tile", tamper(good, "tile/1/000.p/2", func(b []byte) []byte { b[40] ^= 1; return b }),
			nil, errors.Invalid, "tile/1/000.p/2", -1, "hash 1 (over entries 256..511)"},
		{"short tile", tamper(good, "tile/0/001", func(b []byte) []byte { return b[:len(b)-32] }),
			nil, errors.Invalid, "tile/0/001", -1, "holds"},
		{"altered checkpoint", tamper(good, "checkpoint", func(b []byte) []byte {
			return bytes.Replace(b, []byte("\n700\n"), []byte("\n701\n"), 1)
		}), nil, errors.Invalid, "checkpoint", -1, "signature"},
		{"checkpoint signed by another key", tamper(good, "checkpoint", func(b []byte) []byte {
			return resign(t, b, otherSKey)
		}), nil, errors.Invalid, "checkpoint", -1, "signature"},
		{"missing bundle", func(ctx context.Context, p string) ([]byte, error) {
			if p == "tile/entries/002.p/188" {
				return nil, errors.E(errors.NotExist)
			}
			return good(ctx, p)
		}, nil, errors.Invalid, "tile/entries/002.p/188", 512, "fetch"},
		{"server down", func(ctx context.Context, p string) ([]byte, error) {
			if p == "tile/0/001" {
				return nil, errors.E(errors.Unavailable, errors.Str("connection refused"))
			}
			return good(ctx, p)
		}, nil, errors.Unavailable, "tile/0/001", 256, "connection refused"},
		{"truncated: an older checkpoint served", tamper(good, "checkpoint", func([]byte) []byte { return cp500 }),
			cp700, errors.Invalid, "checkpoint", -1, "truncated"},
		{"bad trusted checkpoint", good, resign(t, cp700, otherSKey), errors.Invalid, "trusted checkpoint", -1, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(ctx, tt.fetch, testVKey, tt.trusted)
			wantFault(t, err, tt.kind, tt.resource, tt.entry, tt.why)
		})
	}
}

// resign re-signs a checkpoint's text with skey (same origin, another key).
func resign(t *testing.T, cp []byte, skey string) []byte {
	t.Helper()
	text, _, _ := bytes.Cut(cp, []byte("\n\n"))
	other, err := Open(t.TempDir(), skey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Sign arbitrary text with the other key through the same code path.
	lines := strings.Split(string(text), "\n")
	var size uint64
	for _, c := range lines[1] {
		size = size*10 + uint64(c-'0')
	}
	root := mustHash(t, lines[2])
	out, err := other.sign(size, root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A fork: a second tree signed by the same key. Without a trusted
// checkpoint each tree is self-consistent; with one from the other tree,
// Verify fails whether the sizes are equal or not.
func TestVerifyFork(t *testing.T) {
	ctx := context.Background()
	a, _ := openTest(t, "", Options{})
	b, _ := openTest(t, "", Options{})
	var cp500 []byte
	for i := range 700 {
		e := testEntry(i)
		if _, err := a.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		if i == 300 {
			e = []byte(`{"kind":"access","note":"history rewritten"}`)
		}
		if _, err := b.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		if i == 499 {
			cp500 = a.Checkpoint()
		}
	}
	fb := HandlerFetcher(b.Handler())
	if _, err := Verify(ctx, fb, testVKey, nil); err != nil {
		t.Fatalf("the forked tree alone is self-consistent, but: %v", err)
	}
	_, err := Verify(ctx, fb, testVKey, a.Checkpoint())
	wantFault(t, err, errors.Invalid, "checkpoint", -1, "forked")
	_, err = Verify(ctx, fb, testVKey, cp500)
	wantFault(t, err, errors.Invalid, "trusted checkpoint", -1, "first 500 entries do not hash to the trusted root")
}

// Tampering with the files on disk: an operator edits the entries file, or
// rolls the whole log back.
func TestVerifyTamperOnDisk(t *testing.T) {
	ctx := context.Background()
	l, dir := openTest(t, "", Options{})
	appendN(t, l, 0, 500, 8)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	backup := t.TempDir()
	copyDir(t, dir, backup)
	l, _ = openTest(t, dir, Options{})
	appendN(t, l, 500, 200, 8)
	cp700 := l.Checkpoint()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Flip one byte of entry 400 in the entries file.
	rewritten := t.TempDir()
	copyDir(t, dir, rewritten)
	l, _ = openTest(t, rewritten, Options{})
	e400 := mustEntry(t, l, 400)
	l.Close()
	p := filepath.Join(rewritten, fileEntries)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, e400)
	if i < 0 || bytes.Count(data, e400) != 1 {
		t.Fatal("entry 400 not found once in the entries file")
	}
	data[i+len(e400)-2] ^= 1
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	l, _ = openTest(t, rewritten, Options{})
	_, err = Verify(ctx, HandlerFetcher(l.Handler()), testVKey, cp700)
	wantFault(t, err, errors.Invalid, "tile/entries/001", 400, "does not match")
	l.Close()

	// Cutting the entries file short is refused at Open.
	truncated := t.TempDir()
	copyDir(t, dir, truncated)
	if err := os.Truncate(filepath.Join(truncated, fileEntries), int64(len(data)-100)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(truncated, testSKey, Options{}); !errors.Is(errors.Internal, err) {
		t.Fatalf("Open of a log whose entries were cut = %v", err)
	}

	// Rolling back the whole directory is seen against a trusted checkpoint.
	l, _ = openTest(t, backup, Options{})
	if l.Size() != 500 {
		t.Fatalf("backup size %d", l.Size())
	}
	_, err = Verify(ctx, HandlerFetcher(l.Handler()), testVKey, cp700)
	wantFault(t, err, errors.Invalid, "checkpoint", -1, "truncated")
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if de.Name() == fileLock {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, de.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
