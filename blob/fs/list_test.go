package fs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// TestListIgnoresStrays checks that List reports only files Put could have
// made, whatever else an operator or a tool left in the tree.
func TestListIgnoresStrays(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.Put(context.Background(), []byte("real"))
	if err != nil {
		t.Fatal(err)
	}
	other := "ff"
	if string(ref[:2]) == other {
		other = "00"
	}
	for _, p := range []string{
		"notes.txt",
		"0123456789abcdef0123456789abcdef", // a ref-shaped file at the top
		filepath.Join(string(ref[:2]), "tmp-upload"),
		filepath.Join(string(ref[:2]), string(ref)+".bak"),
		filepath.Join(other, string(ref)), // in the wrong fan-out directory
		filepath.Join("zz", "zz"+string(ref[2:])),
		filepath.Join("ABC", string(ref)),
	} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("stray"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A directory with a ref's name is no blob either.
	if err := os.Mkdir(filepath.Join(dir, string(ref[:2]), string(ref[:2])+string(ref[4:])+"00"), 0o700); err != nil {
		t.Fatal(err)
	}
	var got []sealpost.BlobRef
	if err := s.List(context.Background(), func(r sealpost.BlobRef) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != ref {
		t.Fatalf("List = %q, want only %q", got, ref)
	}
}

func TestListCanceled(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.List(ctx, func(sealpost.BlobRef) error { return nil }); !errors.Is(errors.Unavailable, err) {
		t.Fatalf("List with a canceled context: %v, want Unavailable", err)
	}
}
