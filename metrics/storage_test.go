package metrics_test

import (
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/blobtest"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/metrics"
	"github.com/sealpost/sealpost/store/sqlite"
	"github.com/sealpost/sealpost/store/storetest"
)

// gathered is the registry's families, as a scrape would read them.
func gathered(t *testing.T, r *metrics.Registry) metrics.Families {
	t.Helper()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	f := metrics.Families{}
	for _, mf := range mfs {
		f[mf.GetName()] = mf
	}
	return f
}

// The timed store is a sealpost.Store like any other: it passes the one
// conformance suite, and its timings are counted.
func TestTimedStoreConformance(t *testing.T) {
	r := metrics.New()
	storetest.Run(t, storetest.Harness{Open: func(t *testing.T) sealpost.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return r.Store("ie", s)
	}})
	f := gathered(t, r)
	for _, op := range []string{"add_messages", "messages", "set_flags", "expunge", "copy_messages", "enqueue"} {
		if n, _ := f.Value("sealpost_store_operation_duration_seconds", "region", "ie", "op", op); n == 0 {
			t.Errorf("%s never timed", op)
		}
	}
}

// The timed blob store passes the blob suite, and its timings are
// counted.
func TestTimedBlobsConformance(t *testing.T) {
	r := metrics.New()
	blobtest.Run(t, func(t *testing.T) sealpost.BlobStore {
		p, err := pack.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return r.Blobs("ie", p)
	})
	f := gathered(t, r)
	for _, op := range []string{"put", "get", "delete", "commit"} {
		if n, _ := f.Value("sealpost_blob_operation_duration_seconds", "region", "ie", "op", op); n == 0 {
			t.Errorf("%s never timed", op)
		}
	}
}
