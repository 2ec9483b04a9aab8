package tlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
)

func FuzzParseResource(f *testing.F) {
	f.Add("tile/0/x001/x234/067.p/8") // seeds also in testdata/fuzz
	f.Fuzz(func(t *testing.T, path string) {
		r, err := ParseResource(path)
		if err != nil {
			return
		}
		if r.Level > 63 || r.Width < 0 || r.Width >= TileWidth {
			t.Fatalf("%q parsed to out-of-range %+v", path, r)
		}
		// Only canonical paths parse, so formatting gives the path back.
		if got := r.String(); got != strings.TrimPrefix(path, "/") {
			t.Fatalf("%q parsed to %+v, which formats as %q", path, r, got)
		}
		if r2, err := ParseResource(r.String()); err != nil || r2 != r {
			t.Fatalf("round trip of %q: %+v, %v", path, r2, err)
		}
	})
}

func TestResourceTable(t *testing.T) {
	tests := []struct {
		path string
		want Resource
		ok   bool
	}{
		{"checkpoint", Resource{Kind: KindCheckpoint}, true},
		{"/key", Resource{Kind: KindKey}, true},
		{"tile/0/000", TileResource(0, 0, 0), true},
		{"tile/0/x001/x234/067", TileResource(0, 1234067, 0), true},
		{"tile/63/x001/234.p/255", TileResource(63, 1234, 255), true},
		{"tile/entries/x018/x446/x744/x073/x709/x551/615", EntriesResource(1<<64-1, 0), true},
		{"tile/entries/x018/x446/x744/x073/x709/x551/616", Resource{}, false}, // overflows
		{"tile/entries/000.p/1", EntriesResource(0, 1), true},
		{"tile/64/000", Resource{}, false},
		{"tile/01/000", Resource{}, false},
		{"tile/0/1", Resource{}, false},
		{"tile/0/0001", Resource{}, false},
		{"tile/0/x000/001", Resource{}, false},
		{"tile/0/001/002", Resource{}, false},
		{"tile/0/x001", Resource{}, false},
		{"tile/0/000.p/0", Resource{}, false},
		{"tile/0/000.p/256", Resource{}, false},
		{"tile/0/000.p/08", Resource{}, false},
		{"tile/entries", Resource{}, false},
		{"tile/data/000", Resource{}, false},
		{"checkpoint/", Resource{}, false},
	}
	for _, tt := range tests {
		r, err := ParseResource(tt.path)
		if (err == nil) != tt.ok || (tt.ok && r != tt.want) {
			t.Errorf("ParseResource(%q) = %+v, %v; want %+v ok=%v", tt.path, r, err, tt.want, tt.ok)
		}
		if tt.ok && r.String() != strings.TrimPrefix(tt.path, "/") {
			t.Errorf("%+v.String() = %q, want %q", r, r.String(), tt.path)
		}
	}
}

func FuzzSplitBundle(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c', 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := splitBundle(data)
		var out []byte
		for _, e := range es {
			out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
			out = append(out, e...)
		}
		if err == nil && !bytes.Equal(out, data) || err != nil && !bytes.HasPrefix(data, out) {
			t.Fatalf("splitBundle(%x) = %d entries, %v; re-encoded %x", data, len(es), err, out)
		}
	})
}

// fuzzLog is a small real log, shared by the fuzz targets below.
var fuzzLog struct {
	once sync.Once
	l    *Log
	cp   []byte
	err  error
}

func openFuzzLog(t testing.TB) (*Log, []byte) {
	fuzzLog.once.Do(func() {
		dir, err := osMkdirTemp()
		if err != nil {
			fuzzLog.err = err
			return
		}
		l, err := Open(dir, testSKey, Options{})
		if err != nil {
			fuzzLog.err = err
			return
		}
		for i := range 300 {
			if _, err := l.Append(context.Background(), testEntry(i)); err != nil {
				fuzzLog.err = err
				return
			}
		}
		fuzzLog.l, fuzzLog.cp = l, l.Checkpoint()
	})
	if fuzzLog.err != nil {
		t.Fatal(fuzzLog.err)
	}
	return fuzzLog.l, fuzzLog.cp
}

// FuzzVerifyCheckpoint feeds Verify arbitrary checkpoints in front of a real
// log: it must not panic, and it may accept only the tree the log signed.
func FuzzVerifyCheckpoint(f *testing.F) {
	f.Add([]byte("example.org/sealpost/test-log\n300\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— example.org/sealpost/test-log AAAAAA==\n"))
	f.Fuzz(func(t *testing.T, cp []byte) {
		l, genuine := openFuzzLog(t)
		good := HandlerFetcher(l.Handler())
		fetch := func(ctx context.Context, p string) ([]byte, error) {
			if p == PathCheckpoint {
				return cp, nil
			}
			return good(ctx, p)
		}
		latest, err := Verify(context.Background(), fetch, testVKey, nil)
		if err != nil {
			return
		}
		got, want := parseCP(t, latest), parseCP(t, genuine)
		if got.Size != want.Size || !bytes.Equal(got.Hash, want.Hash) {
			t.Fatalf("Verify accepted a checkpoint for another tree:\n%s", cp)
		}
	})
}

// FuzzVerifyProofBundle: arbitrary proofs must not panic, and an accepted
// one shows an entry that is really at its index.
func FuzzVerifyProofBundle(f *testing.F) {
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra YQ==\nindex 0\n\nx\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, _ := openFuzzLog(t)
		pe, err := VerifyProofBundle(data, testVKey)
		if err != nil {
			return
		}
		if !bytes.Equal(pe.Entry, mustEntry(t, l, pe.Index)) {
			t.Fatalf("proof accepted for entry %d that is not in the log:\n%s", pe.Index, data)
		}
	})
}
