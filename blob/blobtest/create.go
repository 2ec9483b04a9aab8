package blobtest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/sealpost/sealpost"
)

// The suite's part for BlobStore.Create: a blob written in pieces.

// create writes data to a new BlobWriter in pieces of the given size.
func create(t *testing.T, s sealpost.BlobStore, data []byte, piece int) sealpost.BlobWriter {
	t.Helper()
	w, err := s.Create(context.Background())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	for rest := data; len(rest) > 0; {
		n := min(piece, len(rest))
		if m, err := w.Write(rest[:n]); err != nil || m != n {
			t.Fatalf("Write(%d bytes) = %d, %v", n, m, err)
		}
		rest = rest[n:]
	}
	return w
}

func commit(t *testing.T, w sealpost.BlobWriter) sealpost.BlobRef {
	t.Helper()
	ref, err := w.Commit(context.Background())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if ref == "" {
		t.Fatal("Commit returned an empty ref")
	}
	return ref
}

// Blobs of every size around the stores' memory limits (256 KiB) come back
// byte for byte, whatever the size of the pieces they were written in.
func testCreateRoundTrip(t *testing.T, s sealpost.BlobStore) {
	for _, n := range []int{0, 1, 4096, 256<<10 - 1, 256 << 10, 256<<10 + 1, 3<<20 + 17} {
		for _, piece := range []int{1000, 64 << 10, 4 << 20} {
			if n > 1<<20 && piece == 1000 {
				continue // slow, and says nothing new
			}
			t.Run(fmt.Sprintf("%d/%d", n, piece), func(t *testing.T) {
				data := randomBytes(t, n)
				w := create(t, s, data, piece)
				ref := commit(t, w)
				w.Abort() // after Commit: nothing happens
				mustGet(t, s, ref, data)
			})
		}
	}
}

// A blob being written is not listed; an aborted one never is, and leaves
// no ref behind; one committed is listed.
func testCreateAbort(t *testing.T, s sealpost.BlobStore) {
	kept := put(t, s, []byte("kept"))
	for _, n := range []int{10, 1 << 20} {
		w := create(t, s, randomBytes(t, n), 64<<10)
		sameRefs(t, list(t, s), map[sealpost.BlobRef][]byte{kept: nil})
		w.Abort()
		w.Abort()
		if _, err := w.Write([]byte("x")); err == nil {
			t.Error("Write after Abort succeeded")
		}
		if _, err := w.Commit(context.Background()); err == nil {
			t.Error("Commit after Abort succeeded")
		}
		sameRefs(t, list(t, s), map[sealpost.BlobRef][]byte{kept: nil})
	}
	data := randomBytes(t, 1<<20)
	ref := commit(t, create(t, s, data, 64<<10))
	sameRefs(t, list(t, s), map[sealpost.BlobRef][]byte{kept: nil, ref: nil})
	mustGet(t, s, ref, data)
}

// Writers and Puts at once: each gets its own bytes back.
func testCreateConcurrent(t *testing.T, s sealpost.BlobStore) {
	const n = 8
	var wg sync.WaitGroup
	refs := make([]sealpost.BlobRef, 2*n)
	datas := make([][]byte, 2*n)
	errs := make(chan error, 2*n)
	for i := range n {
		datas[2*i] = randomBytes(t, 300<<10+i)
		datas[2*i+1] = randomBytes(t, 100+i)
		wg.Go(func() {
			w, err := s.Create(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer w.Abort()
			for rest := datas[2*i]; len(rest) > 0; {
				k := min(len(rest), 32<<10)
				if _, err := w.Write(rest[:k]); err != nil {
					errs <- err
					return
				}
				rest = rest[k:]
			}
			refs[2*i], err = w.Commit(context.Background())
			if err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			var err error
			refs[2*i+1], err = s.Put(context.Background(), datas[2*i+1])
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := map[sealpost.BlobRef][]byte{}
	for i, ref := range refs {
		mustGet(t, s, ref, datas[i])
		want[ref] = datas[i]
	}
	sameRefs(t, list(t, s), want)
}
