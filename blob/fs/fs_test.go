package fs

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/blobtest"
	"github.com/sealpost/sealpost/errors"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) sealpost.BlobStore {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestLayoutAndPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.Put(context.Background(), []byte("sealed"))
	if err != nil {
		t.Fatal(err)
	}
	if !validRef(ref) {
		t.Fatalf("Put returned malformed ref %q", ref)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
		dir  bool
	}{
		{dir, 0o700, true},
		{filepath.Join(dir, string(ref[:2])), 0o700, true},
		{filepath.Join(dir, string(ref[:2]), string(ref)), 0o600, false},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.IsDir() != c.dir || fi.Mode().Perm() != c.mode {
			t.Errorf("%s: mode %v dir=%v, want %v dir=%v", c.path, fi.Mode().Perm(), fi.IsDir(), c.mode, c.dir)
		}
	}
	rc, err := s.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, ok := rc.(*os.File); !ok {
		t.Errorf("Get returned %T, want *os.File", rc)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.Put(context.Background(), []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := s2.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, []byte("kept")) {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
}

func TestValidRef(t *testing.T) {
	tests := []struct {
		ref  sealpost.BlobRef
		want bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{"0123456789ABCDEF0123456789abcdef", false}, // upper case is never produced
		{"0123456789abcdef0123456789abcde", false},
		{"0123456789abcdef0123456789abcdef0", false},
		{"0123456789abcdef0123456789abcdeg", false},
		{"01/3456789abcdef0123456789abcdef", false},
		{"..23456789abcdef0123456789abcdef", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := validRef(tt.ref); got != tt.want {
			t.Errorf("validRef(%q) = %v, want %v", tt.ref, got, tt.want)
		}
	}
}

func TestOpenNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f); err == nil {
		t.Fatal("Open on a regular file succeeded")
	}
	if _, err := Open(""); !errors.Is(errors.Invalid, err) {
		t.Fatalf("Open(\"\"): %v, want Invalid", err)
	}
}

func TestCanceledContext(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, []byte("x")); err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
}

func BenchmarkPut10KB(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 10<<10)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(16) // many SMTP sessions at once, as in production
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Put(context.Background(), data); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// FuzzValidRef checks that no ref validRef accepts can name a file outside
// its fan-out directory.
func FuzzValidRef(f *testing.F) {
	for _, seed := range []string{"0123456789abcdef0123456789abcdef", "../../../../../../../etc/passwd", "", "ab/cd", "00000000000000000000000000000000"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if !validRef(sealpost.BlobRef(ref)) {
			return
		}
		s := &Store{dir: "/blobs"}
		p := s.path(sealpost.BlobRef(ref))
		if filepath.Dir(p) != filepath.Join("/blobs", ref[:2]) || filepath.Base(p) != ref {
			t.Fatalf("ref %q maps to %q", ref, p)
		}
	})
}
