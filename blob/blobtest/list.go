package blobtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// list returns every ref List reports, failing the test on an error or on a
// ref reported twice.
func list(t *testing.T, s sealpost.BlobStore) map[sealpost.BlobRef]bool {
	t.Helper()
	got := map[sealpost.BlobRef]bool{}
	err := s.List(context.Background(), func(ref sealpost.BlobRef) error {
		if got[ref] {
			return fmt.Errorf("ref %s listed twice", ref)
		}
		got[ref] = true
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return got
}

// sameRefs fails the test unless got holds exactly the refs in want.
func sameRefs(t *testing.T, got map[sealpost.BlobRef]bool, want map[sealpost.BlobRef][]byte) {
	t.Helper()
	for ref := range want {
		if !got[ref] {
			t.Errorf("List did not report %s", ref)
		}
	}
	for ref := range got {
		if _, ok := want[ref]; !ok {
			t.Errorf("List reported %q, which is not a stored blob", ref)
		}
	}
}

func testListEmpty(t *testing.T, s sealpost.BlobStore) {
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("List of an empty store reported %d refs", len(got))
	}
}

func testList(t *testing.T, s sealpost.BlobStore) {
	want := map[sealpost.BlobRef][]byte{}
	for _, n := range []int{0, 1, 100, 4096, 70000, 0, 33} {
		data := randomBytes(t, n)
		want[put(t, s, data)] = data
	}
	got := list(t, s)
	sameRefs(t, got, want)
	// A listed ref is the ref Put returned: Get serves the blob by it.
	for ref := range got {
		if data, ok := want[ref]; ok {
			mustGet(t, s, ref, data)
		}
	}
}

func testListAfterDelete(t *testing.T, s sealpost.BlobStore) {
	want := map[sealpost.BlobRef][]byte{}
	var refs []sealpost.BlobRef
	for i := range 6 {
		data := randomBytes(t, 200+i)
		ref := put(t, s, data)
		want[ref] = data
		refs = append(refs, ref)
	}
	// The first, a middle one and the last: no position is special.
	for _, i := range []int{0, 3, 5} {
		if err := s.Delete(context.Background(), refs[i]); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		delete(want, refs[i])
	}
	sameRefs(t, list(t, s), want)
	// Deleting everything leaves nothing to list.
	for ref := range want {
		if err := s.Delete(context.Background(), ref); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if got := list(t, s); len(got) != 0 {
		t.Fatalf("List after deleting every blob reported %d refs", len(got))
	}
}

// errStop is what the callback of testListStopsOnError returns.
var errStop = errors.Str("stop listing")

func testListStopsOnError(t *testing.T, s sealpost.BlobStore) {
	for range 5 {
		put(t, s, []byte("one of five"))
	}
	calls := 0
	err := s.List(context.Background(), func(sealpost.BlobRef) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.IsErr(err, errStop) {
		t.Errorf("List: got %v, want the callback's error", err)
	}
	if calls != 2 {
		t.Errorf("List called the callback %d times after it failed on call 2, want it to stop", calls)
	}
}
