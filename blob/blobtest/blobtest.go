// Package blobtest is the conformance suite for sealpost.BlobStore. Every
// implementation (blob/pack, blob/fs, blob/s3) runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) sealpost.BlobStore { ... })
//	}
//
// The suite uses only the interface and the error kinds its doc comments
// promise; it assumes nothing about how refs look.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Run runs the suite. open returns a new, empty store; it is called once per
// subtest and should arrange its own cleanup with t.Cleanup. The List tests
// rely on the store being empty: a store sharing its space with others (a
// bucket, say) must give each subtest a space of its own.
func Run(t *testing.T, open func(t *testing.T) sealpost.BlobStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s sealpost.BlobStore)
	}{
		{"RoundTrip", testRoundTrip},
		{"InputNotAliased", testInputNotAliased},
		{"DistinctRefs", testDistinctRefs},
		{"GetMissing", testGetMissing},
		{"DeleteIdempotent", testDeleteIdempotent},
		{"DeleteLeavesOthers", testDeleteLeavesOthers},
		{"InvalidRefs", testInvalidRefs},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ListEmpty", testListEmpty},
		{"List", testList},
		{"ListAfterDelete", testListAfterDelete},
		{"ListStopsOnError", testListStopsOnError},
		{"CreateRoundTrip", testCreateRoundTrip},
		{"CreateAbort", testCreateAbort},
		{"CreateConcurrent", testCreateConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, s sealpost.BlobStore, data []byte) sealpost.BlobRef {
	t.Helper()
	ref, err := s.Put(context.Background(), data)
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(data), err)
	}
	if ref == "" {
		t.Fatalf("Put(%d bytes) returned an empty ref", len(data))
	}
	return ref
}

// get reads a blob whole.
func get(s sealpost.BlobStore, ref sealpost.BlobRef) ([]byte, error) {
	rc, err := s.Get(context.Background(), ref)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return data, err
}

func mustGet(t *testing.T, s sealpost.BlobStore, ref sealpost.BlobRef, want []byte) {
	t.Helper()
	got, err := get(s, ref)
	if err != nil {
		t.Fatalf("Get(%s): %v", ref, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s): got %d bytes that differ from the %d put", ref, len(got), len(want))
	}
}

func testRoundTrip(t *testing.T, s sealpost.BlobStore) {
	for _, n := range []int{0, 1, 4096, 1 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := randomBytes(t, n)
			ref := put(t, s, data)
			mustGet(t, s, ref, data)
			// A second read sees the same bytes.
			mustGet(t, s, ref, data)
		})
	}
}

func testInputNotAliased(t *testing.T, s sealpost.BlobStore) {
	data := randomBytes(t, 512)
	want := bytes.Clone(data)
	ref := put(t, s, data)
	for i := range data {
		data[i] ^= 0xff
	}
	mustGet(t, s, ref, want)
}

func testDistinctRefs(t *testing.T, s sealpost.BlobStore) {
	data := []byte("the same sealed bytes")
	seen := map[sealpost.BlobRef]bool{}
	for range 20 {
		ref := put(t, s, data)
		if seen[ref] {
			t.Fatalf("Put returned ref %s twice", ref)
		}
		seen[ref] = true
	}
	for ref := range seen {
		mustGet(t, s, ref, data)
	}
}

func testGetMissing(t *testing.T, s sealpost.BlobStore) {
	ref := put(t, s, []byte("soon gone"))
	if err := s.Delete(context.Background(), ref); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := get(s, ref)
	if !errors.Is(errors.NotExist, err) {
		t.Fatalf("Get after Delete: got %v, want a NotExist error", err)
	}
}

func testDeleteIdempotent(t *testing.T, s sealpost.BlobStore) {
	ref := put(t, s, []byte("x"))
	for i := range 3 {
		if err := s.Delete(context.Background(), ref); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
}

func testDeleteLeavesOthers(t *testing.T, s sealpost.BlobStore) {
	a := put(t, s, []byte("a"))
	b := put(t, s, []byte("b"))
	if err := s.Delete(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, b, []byte("b"))
}

func testInvalidRefs(t *testing.T, s sealpost.BlobStore) {
	valid := put(t, s, []byte("valid"))
	refs := []sealpost.BlobRef{
		"",
		".",
		"..",
		"../../../etc/passwd",
		"/etc/passwd",
		sealpost.BlobRef(string(valid[:2]) + "/../" + string(valid)),
		sealpost.BlobRef("../" + string(valid)),
		valid + "/",
		valid + "\x00",
		"with space",
		"a\\b",
	}
	for _, ref := range refs {
		t.Run(fmt.Sprintf("%q", ref), func(t *testing.T) {
			rc, err := s.Get(context.Background(), ref)
			if err == nil {
				rc.Close()
				t.Fatalf("Get(%q) succeeded", ref)
			}
			if !errors.Is(errors.Invalid, err) {
				t.Errorf("Get(%q): got %v, want an Invalid error", ref, err)
			}
			if err := s.Delete(context.Background(), ref); !errors.Is(errors.Invalid, err) {
				t.Errorf("Delete(%q): got %v, want an Invalid error", ref, err)
			}
		})
	}
	// Nothing above touched the valid blob.
	mustGet(t, s, valid, []byte("valid"))
}

func testConcurrentPuts(t *testing.T, s sealpost.BlobStore) {
	const workers, each = 16, 8
	type stored struct {
		ref  sealpost.BlobRef
		data []byte
	}
	var (
		mu   sync.Mutex
		all  []stored
		wg   sync.WaitGroup
		errc = make(chan error, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				data := []byte(fmt.Sprintf("worker %d blob %d", w, i))
				ref, err := s.Put(context.Background(), data)
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				all = append(all, stored{ref, data})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("concurrent Put: %v", err)
	}
	seen := map[sealpost.BlobRef]bool{}
	for _, st := range all {
		if seen[st.ref] {
			t.Fatalf("ref %s returned twice", st.ref)
		}
		seen[st.ref] = true
		mustGet(t, s, st.ref, st.data)
	}
	if len(all) != workers*each {
		t.Fatalf("stored %d blobs, want %d", len(all), workers*each)
	}
}
