package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/blobtest"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
)

var bg = context.Background()

// config returns a Config for srv's bucket and prefix.
func config(srv testenv.S3Server, bucket, prefix string) Config {
	return Config{
		Endpoint:     srv.Endpoint,
		Bucket:       bucket,
		AccessKey:    srv.AccessKey,
		SecretKey:    srv.SecretKey,
		Region:       srv.Region,
		Prefix:       prefix,
		CreateBucket: true,
		Timeout:      20 * time.Second,
	}
}

func openT(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(bg, cfg)
	if err != nil {
		t.Fatalf("Open(%s/%s): %v", cfg.Bucket, cfg.Prefix, err)
	}
	return s
}

// TestConformance runs the suite against a real S3 server twice: each
// subtest with a bucket of its own and no prefix, and each with a prefix of
// its own in one shared bucket.
func TestConformance(t *testing.T) {
	srv := testenv.StartS3(t)
	var n atomic.Int64
	t.Run("BucketPerTest", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) sealpost.BlobStore {
			return openT(t, config(srv, fmt.Sprintf("conformance-%03d", n.Add(1)), ""))
		})
	})
	t.Run("PrefixPerTest", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) sealpost.BlobStore {
			return openT(t, config(srv, "shared", fmt.Sprintf("deploy/%03d", n.Add(1))))
		})
	})
}

func put(t testing.TB, s *Store, data string) sealpost.BlobRef {
	t.Helper()
	ref, err := s.Put(bg, []byte(data))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return ref
}

func get(s *Store, ref sealpost.BlobRef) (string, error) {
	rc, err := s.Get(bg, ref)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func list(t testing.TB, s *Store) []sealpost.BlobRef {
	t.Helper()
	var refs []sealpost.BlobRef
	if err := s.List(bg, func(ref sealpost.BlobRef) error {
		refs = append(refs, ref)
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	return refs
}

// TestPrefixIsolation shares one bucket between stores with different
// prefixes, one of them the bucket's top level and one nested in another's:
// each sees only its own blobs.
func TestPrefixIsolation(t *testing.T) {
	srv := testenv.StartS3(t)
	prefixes := []string{"", "ie", "us/", "ie/deep", "ie2"}
	stores := map[string]*Store{}
	refs := map[string]sealpost.BlobRef{}
	for _, p := range prefixes {
		stores[p] = openT(t, config(srv, "regions", p))
		refs[p] = put(t, stores[p], "blob of "+p)
	}
	for _, p := range prefixes {
		s := stores[p]
		if got := list(t, s); len(got) != 1 || got[0] != refs[p] {
			t.Errorf("List under %q = %v, want only %s", p, got, refs[p])
		}
		for _, q := range prefixes {
			if q == p {
				continue
			}
			if _, err := get(s, refs[q]); !errors.Is(errors.NotExist, err) {
				t.Errorf("Get under %q of %q's blob: %v, want NotExist", p, q, err)
			}
			if err := s.Delete(bg, refs[q]); err != nil {
				t.Errorf("Delete under %q of %q's blob: %v", p, q, err)
			}
		}
	}
	// Nothing was deleted across prefixes.
	for _, p := range prefixes {
		if got, err := get(stores[p], refs[p]); err != nil || got != "blob of "+p {
			t.Errorf("Get under %q: %q, %v", p, got, err)
		}
	}
	// "ie" and "ie/" name the same prefix.
	if got := list(t, openT(t, config(srv, "regions", "ie/"))); len(got) != 1 || got[0] != refs["ie"] {
		t.Errorf(`List under "ie/" = %v, want %s`, got, refs["ie"])
	}

	// The layout: the key is the prefix and the ref. Objects under the
	// prefix that Put could not have made are not listed.
	raw := rawClient(t, srv)
	if _, err := raw.StatObject(bg, "regions", "ie/deep/"+string(refs["ie/deep"]), minio.StatObjectOptions{}); err != nil {
		t.Errorf("object ie/deep/%s: %v", refs["ie/deep"], err)
	}
	for _, key := range []string{"ie/notes.txt", "ie/" + strings.ToUpper(string(refs["ie"])), "ie/" + string(refs["ie"]) + ".bak"} {
		if _, err := raw.PutObject(bg, "regions", key, strings.NewReader("stray"), 5, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := list(t, stores["ie"]); len(got) != 1 || got[0] != refs["ie"] {
		t.Errorf(`List under "ie" with strays = %v, want only %s`, got, refs["ie"])
	}
}

func rawClient(t *testing.T, srv testenv.S3Server) *minio.Client {
	t.Helper()
	c, err := minio.New(srv.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		Region: srv.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenErrors(t *testing.T) {
	srv := testenv.StartS3(t)
	missing := config(srv, "no-such-bucket", "")
	missing.CreateBucket = false
	wrongKey := config(srv, "some-bucket", "")
	wrongKey.SecretKey += "x"
	tests := []struct {
		name string
		cfg  Config
		kind errors.Kind
	}{
		{"missing bucket", missing, errors.NotExist},
		{"wrong secret", wrongKey, errors.Permission},
		{"scheme in endpoint", func() Config { c := config(srv, "b-1", ""); c.Endpoint = "http://" + c.Endpoint; return c }(), errors.Invalid},
		{"no bucket", config(srv, "", ""), errors.Invalid},
		{"bad bucket name", config(srv, "Bad_Bucket", ""), errors.Invalid},
		{"negative timeout", func() Config { c := config(srv, "b-2", ""); c.Timeout = -1; return c }(), errors.Invalid},
	}
	for _, p := range []string{"/abs", "a//b", "../x", "a/../b", ".", "a/./b", "tab\there", `back\slash`, strings.Repeat("p", 513)} {
		tests = append(tests, struct {
			name string
			cfg  Config
			kind errors.Kind
		}{"prefix " + p, config(srv, "b-3", p), errors.Invalid})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(bg, tt.cfg)
			if err == nil {
				t.Fatalf("Open succeeded: %+v", s)
			}
			if !errors.Is(tt.kind, err) {
				t.Errorf("Open: %v, want kind %v", err, tt.kind)
			}
		})
	}
	// An existing bucket opens without CreateBucket.
	openT(t, config(srv, "exists", ""))
	again := config(srv, "exists", "")
	again.CreateBucket = false
	openT(t, again)
	// Without a Region the client asks the server for the bucket's.
	noRegion := again
	noRegion.Region = ""
	s := openT(t, noRegion)
	ref := put(t, s, "located")
	if got, err := get(s, ref); err != nil || got != "located" {
		t.Errorf("Get without a configured region: %q, %v", got, err)
	}
}

// TestUnavailable stops the server under an open store: every operation
// fails with Unavailable, promptly, while refs that are not ours are still
// refused as Invalid without a request.
func TestUnavailable(t *testing.T) {
	srv := testenv.StartS3(t)
	cfg := config(srv, "outage", "")
	cfg.Timeout = 5 * time.Second
	s := openT(t, cfg)
	ref := put(t, s, "before the outage")
	srv.Stop()

	if _, err := s.Put(bg, []byte("during")); !errors.Is(errors.Unavailable, err) {
		t.Errorf("Put: %v, want Unavailable", err)
	}
	if _, err := get(s, ref); !errors.Is(errors.Unavailable, err) {
		t.Errorf("Get: %v, want Unavailable", err)
	}
	if err := s.Delete(bg, ref); !errors.Is(errors.Unavailable, err) {
		t.Errorf("Delete: %v, want Unavailable", err)
	}
	if err := s.List(bg, func(sealpost.BlobRef) error { return nil }); !errors.Is(errors.Unavailable, err) {
		t.Errorf("List: %v, want Unavailable", err)
	}
	if _, err := Open(bg, cfg); !errors.Is(errors.Unavailable, err) {
		t.Errorf("Open: %v, want Unavailable", err)
	}
	for _, bad := range []sealpost.BlobRef{"../x", ref + "/..", "", "A" + ref[1:]} {
		if _, err := s.Get(bg, bad); !errors.Is(errors.Invalid, err) {
			t.Errorf("Get(%q): %v, want Invalid (and no request)", bad, err)
		}
		if err := s.Delete(bg, bad); !errors.Is(errors.Invalid, err) {
			t.Errorf("Delete(%q): %v, want Invalid (and no request)", bad, err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := s.List(ctx, func(sealpost.BlobRef) error { return nil }); !errors.Is(errors.Unavailable, err) {
		t.Errorf("List with a canceled context: %v, want Unavailable", err)
	}
}

// TestHungServer opens a store on a server that accepts connections and
// never answers: Open gives up after its timeout with Unavailable.
func TestHungServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // read nothing, answer nothing
		}
	}()
	_, err = Open(bg, Config{
		Endpoint:  l.Addr().String(),
		Bucket:    "hung",
		AccessKey: "k",
		SecretKey: "secret-key",
		Region:    "us-east-1",
		Timeout:   300 * time.Millisecond,
	})
	if !errors.Is(errors.Unavailable, err) {
		t.Fatalf("Open on a hung server: %v, want Unavailable", err)
	}
}

func TestLargeBlob(t *testing.T) {
	srv := testenv.StartS3(t)
	s := openT(t, config(srv, "large", "p"))
	// Larger than minio-go's 16 MiB multipart threshold: still one PUT.
	data := bytes.Repeat([]byte("0123456789abcdef"), (17<<20)/16)
	ref, err := s.Put(bg, data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := get(s, ref)
	if err != nil || got != string(data) {
		t.Fatalf("Get: %d bytes, %v; want %d bytes back", len(got), err, len(data))
	}
}

func TestCleanPrefix(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"ie", "ie/", true},
		{"ie/", "ie/", true},
		{"prod/ie", "prod/ie/", true},
		{"a.b/c-d_e", "a.b/c-d_e/", true},
		{"/", "", false},
		{"/ie", "", false},
		{"ie//", "", false},
		{"a//b", "", false},
		{"..", "", false},
		{"a/../b", "", false},
		{"./a", "", false},
		{"a\x00b", "", false},
		{"a\\b", "", false},
	}
	for _, tt := range tests {
		got, err := cleanPrefix(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("cleanPrefix(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzKey checks that every key a store can build from an accepted prefix
// and an accepted ref lies directly under that prefix, with no segment that
// could climb out of it.
func FuzzKey(f *testing.F) {
	for _, seed := range [][2]string{
		{"ie", "0123456789abcdef0123456789abcdef"},
		{"", "../../../../../../../../etc/passwd"},
		{"a/..", "0123456789abcdef0123456789abcdef"},
		{"x/", "0123456789abcdef0123456789abcde/"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, prefix, ref string) {
		p, err := cleanPrefix(prefix)
		if err != nil || !validRef(sealpost.BlobRef(ref)) {
			return
		}
		key := (&Store{prefix: p}).key(sealpost.BlobRef(ref))
		if path.Clean("/"+key) != "/"+key || strings.HasPrefix(key, "/") {
			t.Fatalf("prefix %q ref %q: key %q is not clean", prefix, ref, key)
		}
		if path.Dir("/"+key) != path.Clean("/"+p) || path.Base(key) != ref {
			t.Fatalf("prefix %q ref %q: key %q is not directly under the prefix", prefix, ref, key)
		}
	})
}

func BenchmarkPut10KB(b *testing.B) {
	srv := testenv.StartS3(b)
	s := openT(b, config(srv, "bench", ""))
	data := make([]byte, 10<<10)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Put(bg, data); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

func BenchmarkGet10KB(b *testing.B) {
	srv := testenv.StartS3(b)
	s := openT(b, config(srv, "bench", ""))
	ref, err := s.Put(bg, make([]byte, 10<<10))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(10 << 10)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rc, err := s.Get(bg, ref)
			if err != nil {
				b.Error(err)
				return
			}
			rc.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}
