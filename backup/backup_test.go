package backup

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/fs"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/sqlitedb"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/tlog"
)

// fakeSealed is a minimal format 2 window message: header, a one-byte W
// record, the salt, one GCM tag's worth of chunk. seal.CheckSealed accepts
// it; it opens under no key, which the backup never needs.
func fakeSealed(n int) []byte {
	b := []byte{'S', 2, 0, 1, 0xaa}
	salt := make([]byte, 32)
	rand.Read(salt)
	b = append(b, salt...)
	body := make([]byte, 16+n)
	rand.Read(body)
	return append(b, body...)
}

// deployment is a small data folder as the server lays it out: a
// directory, one region with an SQLite store whose messages and queue
// name blobs in an open pack store, a transparency log, a legal store, a
// journal and key files.
type deployment struct {
	plan  Plan
	kind  BlobKind
	blobs interface {
		sealpost.BlobStore
		Close() error
	}
	meta *sqlitedb.DB
	log  *tlog.Log
	n    atomic.Int64
}

func newDeployment(t *testing.T) *deployment { return newDeploymentOf(t, Pack) }

// closer gives blob/fs's store, which holds nothing open, a Close.
type closer struct{ *fs.Store }

func (closer) Close() error { return nil }

func newDeploymentOf(t *testing.T, kind BlobKind) *deployment {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	d := &deployment{kind: kind, plan: Plan{
		DataDir:    data,
		Directory:  filepath.Join(data, "directory.db"),
		Regions:    []Region{{ID: "ie", Store: filepath.Join(data, "regions", "ie", "meta.db"), BlobKind: kind, Blobs: filepath.Join(data, "regions", "ie", "blobs")}},
		Log:        filepath.Join(data, "log", "tree"),
		LogSources: []string{filepath.Join(data, "legal"), filepath.Join(data, "events.jsonl")},
		Skip:       []string{filepath.Join(data, "tmp")},
	}}
	for _, dir := range []string{"regions/ie", "legal", "keys", "tmp", "log"} {
		testkit.Must(t, os.MkdirAll(filepath.Join(data, dir), 0o700))
	}
	dirDB, err := sqlitedb.Open(d.plan.Directory, sqlitedb.Options{})
	testkit.Must(t, err)
	_, err = dirDB.W.Exec(`CREATE TABLE homes (address TEXT PRIMARY KEY, region TEXT NOT NULL); INSERT INTO homes VALUES ('a@x.example', 'ie')`)
	testkit.Must(t, err)
	t.Cleanup(func() { dirDB.Close() })
	d.meta, err = sqlitedb.Open(d.plan.Regions[0].Store, sqlitedb.Options{})
	testkit.Must(t, err)
	_, err = d.meta.W.Exec(`CREATE TABLE messages (id INTEGER PRIMARY KEY, blob_ref TEXT NOT NULL, key_id BIGINT NOT NULL);
		CREATE TABLE queue (id INTEGER PRIMARY KEY, blob_ref TEXT NOT NULL)`)
	testkit.Must(t, err)
	t.Cleanup(func() { d.meta.Close() })
	if kind == Pack {
		d.blobs, err = pack.Open(d.plan.Regions[0].Blobs)
	} else {
		var s *fs.Store
		s, err = fs.Open(d.plan.Regions[0].Blobs)
		d.blobs = closer{s}
	}
	testkit.Must(t, err)
	t.Cleanup(func() { d.blobs.Close() })
	legal, err := sqlitedb.Open(filepath.Join(data, "legal", "legal.db"), sqlitedb.Options{})
	testkit.Must(t, err)
	_, err = legal.W.Exec(`CREATE TABLE outbox (seq INTEGER PRIMARY KEY, ev TEXT)`)
	testkit.Must(t, err)
	legal.Close()
	skey, _, err := tlog.NewKey("test.example/log")
	testkit.Must(t, err)
	testkit.Must(t, os.WriteFile(filepath.Join(data, "keys", "log.key"), []byte(skey+"\n"), 0o600))
	testkit.Must(t, os.WriteFile(filepath.Join(data, "keys", "dkim.sealed"), []byte("sealed key bytes"), 0o600))
	testkit.Must(t, os.WriteFile(filepath.Join(data, "events.jsonl"), []byte(`{"kind":"x"}`+"\n"), 0o600))
	testkit.Must(t, os.WriteFile(filepath.Join(data, "tmp", "spill"), []byte("in transit"), 0o600))
	d.log, err = tlog.Open(d.plan.Log, skey, tlog.Options{})
	testkit.Must(t, err)
	t.Cleanup(func() { d.log.Close() })
	for range 300 {
		d.deliver(t)
	}
	return d
}

// deliver does what postbox does: the blob first, durable, then the row
// naming it; and appends an entry to the log.
func (d *deployment) deliver(t testing.TB) {
	ctx := context.Background()
	i := d.n.Add(1)
	ref, err := d.blobs.Put(ctx, fakeSealed(int(i%3000)))
	if err != nil {
		t.Error(err)
		return
	}
	table := "messages"
	q := `INSERT INTO messages (blob_ref, key_id) VALUES (?, 1)`
	if i%10 == 0 {
		table, q = "queue", `INSERT INTO queue (blob_ref) VALUES (?)`
	}
	if _, err := d.meta.W.Exec(q, ref); err != nil {
		t.Errorf("%s: %v", table, err)
	}
	if _, err := d.log.Append(ctx, fmt.Appendf(nil, "entry %d", i)); err != nil {
		t.Error(err)
	}
}

// restorePlan is the plan of an empty data folder of the same shape.
func restorePlan(t *testing.T) Plan { return restorePlanOf(t, Pack) }

func restorePlanOf(t *testing.T, kind BlobKind) Plan {
	data := filepath.Join(t.TempDir(), "restored")
	return Plan{
		DataDir:   data,
		Directory: filepath.Join(data, "directory.db"),
		Regions:   []Region{{ID: "ie", Store: filepath.Join(data, "regions", "ie", "meta.db"), BlobKind: kind, Blobs: filepath.Join(data, "regions", "ie", "blobs")}},
		Log:       filepath.Join(data, "log", "tree"),
	}
}

// TestBackupWhileWriting backs up while blobs, rows and log entries are
// being added, without opening the live pack store or log (both hold
// their flock throughout), and restores: every row's blob reads back, the
// log verifies, and the temporary folder and lock files stay behind.
func TestBackupWhileWriting(t *testing.T) {
	for _, kind := range []BlobKind{Pack, Files} {
		t.Run(string(kind), func(t *testing.T) { testBackupWhileWriting(t, kind) })
	}
}

func testBackupWhileWriting(t *testing.T, kind BlobKind) {
	d := newDeploymentOf(t, kind)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() && d.n.Load() < 600 {
				d.deliver(t)
			}
		})
	}
	bk := filepath.Join(t.TempDir(), "backup")
	var files, bytes atomic.Int64
	// Deliveries go on for a while after each segment is copied: were
	// the metadata read after the segments, rows naming blobs past the
	// copied prefix would be in the backup, and the restore would fail.
	var paused atomic.Bool
	pause := func(name string) {
		if strings.Contains(name, "/blobs/") && !paused.Swap(true) {
			time.Sleep(300 * time.Millisecond)
		}
	}
	m, err := Create(context.Background(), d.plan, bk, Options{Progress: func(n, b int64) { files.Add(n); bytes.Add(b) }, copied: pause})
	stop.Store(true)
	wg.Wait()
	testkit.Must(t, err)
	nf, nb := m.Totals()
	if files.Load() != nf || bytes.Load() != nb {
		t.Errorf("progress counted %d files, %d bytes; the manifest lists %d, %d", files.Load(), bytes.Load(), nf, nb)
	}
	for _, f := range m.Files {
		if strings.Contains(f.Name, "tmp/") || strings.HasSuffix(f.Name, "LOCK") || strings.HasSuffix(f.Name, "-wal") || strings.Contains(f.Name, "hashes.h") {
			t.Errorf("the backup holds %s", f.Name)
		}
	}
	listed := map[string]bool{manifestName: true}
	for _, f := range m.Files {
		listed[f.Name] = true
	}
	filepath.WalkDir(bk, func(path string, de os.DirEntry, err error) error {
		if rel, _ := filepath.Rel(bk, path); err == nil && !de.IsDir() && !listed[filepath.ToSlash(rel)] {
			t.Errorf("the backup folder holds %s, which the manifest does not list", rel)
		}
		return nil
	})
	wantBlobs := "regions/ie/blobs/seg-00000000.pack"
	if kind == Files {
		wantBlobs = "regions/ie/meta.db" // blob files have random names
	}
	for _, want := range []string{"directory.db", "regions/ie/meta.db", wantBlobs, "data/legal/legal.db", "data/log/tree/entries", "data/log/tree/journal", "data/keys/dkim.sealed", "data/events.jsonl"} {
		if !hasFile(m, want) {
			t.Errorf("the backup lacks %s", want)
		}
	}
	p := restorePlanOf(t, kind)
	rep, err := Restore(context.Background(), bk, p, RestoreOptions{LogKey: filepath.Join(p.DataDir, "keys", "log.key")})
	testkit.Must(t, err)
	if rep.Messages < 300 || rep.LogSize < 300 {
		t.Errorf("restored %d blobs and a log of %d entries, want at least 300 each", rep.Messages, rep.LogSize)
	}
	t.Logf("%d delivered in all; the backup holds %d blobs and %d log entries", d.n.Load(), rep.Messages, rep.LogSize)
}

func hasFile(m *Manifest, name string) bool {
	for _, f := range m.Files {
		if f.Name == name {
			return true
		}
	}
	return false
}

// TestRestoreRefuses: a damaged file, a missing file, a manifest naming a
// path outside the backup, a non-empty target, and a backup whose
// manifest matches but whose blob is gone (the check after copying),
// after which nothing restored is left.
func TestRestoreRefuses(t *testing.T) {
	d := newDeployment(t)
	bk := filepath.Join(t.TempDir(), "backup")
	_, err := Create(context.Background(), d.plan, bk, Options{})
	testkit.Must(t, err)
	seg := filepath.Join(bk, "regions", "ie", "blobs", "seg-00000000.pack")
	orig, err := os.ReadFile(seg)
	testkit.Must(t, err)

	restore := func() (Plan, error) {
		p := restorePlan(t)
		_, err := Restore(context.Background(), bk, p, RestoreOptions{})
		return p, err
	}
	// Damaged.
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 1
	testkit.Must(t, os.WriteFile(seg, bad, 0o600))
	p, err := restore()
	if !errors.Is(errors.Invalid, err) || !strings.Contains(err.Error(), "seg-00000000.pack does not match") {
		t.Errorf("damaged segment: %v", err)
	}
	if _, err := os.Stat(p.DataDir); !os.IsNotExist(err) {
		t.Error("a refused restore wrote the target")
	}
	// Missing.
	testkit.Must(t, os.Remove(seg))
	if _, err := restore(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing segment: %v", err)
	}
	testkit.Must(t, os.WriteFile(seg, orig, 0o600))
	// Not empty.
	p = restorePlan(t)
	testkit.Must(t, os.MkdirAll(p.DataDir, 0o700))
	testkit.Must(t, os.WriteFile(filepath.Join(p.DataDir, "x"), nil, 0o600))
	if _, err := Restore(context.Background(), bk, p, RestoreOptions{}); !errors.Is(errors.Exist, err) {
		t.Errorf("non-empty target: %v", err)
	}

	// A path leaving the backup.
	m, err := ReadManifest(bk)
	testkit.Must(t, err)
	good := *m
	m.Files = append(m.Files, ManifestFile{Name: "data/../../etc/passwd", Size: 1, SHA256: strings.Repeat("0", 64)})
	writeManifest(t, bk, m)
	if _, err := restore(); !errors.Is(errors.Invalid, err) || !strings.Contains(err.Error(), "bad entry") {
		t.Errorf("escaping path: %v", err)
	}

	// A blob zeroed and the manifest made to match: the copy passes the
	// hashes, the verification does not, and the restored files go.
	zeroed := append([]byte(nil), orig...)
	clear(zeroed[:200])
	testkit.Must(t, os.WriteFile(seg, zeroed, 0o600))
	fixed := good
	fixed.Files = append([]ManifestFile(nil), good.Files...)
	sum, size := fileSum(t, seg)
	for i, f := range fixed.Files {
		if f.Name == "regions/ie/blobs/seg-00000000.pack" {
			fixed.Files[i].SHA256, fixed.Files[i].Size = sum, size
		}
	}
	writeManifest(t, bk, &fixed)
	p, err = restore()
	if !errors.Is(errors.Invalid, err) || !strings.Contains(err.Error(), "blob is missing") {
		t.Errorf("zeroed blob: %v", err)
	}
	if _, err := os.Stat(p.Regions[0].Store); !os.IsNotExist(err) {
		t.Error("a restore that failed verification left its files")
	}
}

func writeManifest(t *testing.T, dir string, m *Manifest) {
	t.Helper()
	b, err := json.Marshal(m)
	testkit.Must(t, err)
	testkit.Must(t, os.WriteFile(filepath.Join(dir, manifestName), b, 0o600))
}

func fileSum(t *testing.T, path string) (string, int64) {
	t.Helper()
	c := &copier{root: t.TempDir()}
	testkit.Must(t, c.copyFile(path, "x", -1))
	return c.files[0].SHA256, c.files[0].Size
}

// TestBackupBlobDeleted: a message expunged and its blob deleted after the
// metadata snapshot but before the segment is copied (the reaper, after
// the grace) leaves a snapshot naming a blob the copy lacks; the backup
// sees it and is taken again, and the restore verifies.
func TestBackupBlobDeleted(t *testing.T) {
	d := newDeployment(t)
	ctx := context.Background()
	snapshots := 0
	expunge := func(name string) {
		if name != "regions/ie/meta.db" {
			return
		}
		if snapshots++; snapshots > 1 {
			return
		}
		var id int64
		var ref string
		testkit.Must(t, d.meta.W.QueryRow(`SELECT id, blob_ref FROM messages ORDER BY id DESC LIMIT 1`).Scan(&id, &ref))
		_, err := d.meta.W.Exec(`DELETE FROM messages WHERE id = ?`, id)
		testkit.Must(t, err)
		testkit.Must(t, d.blobs.Delete(ctx, sealpost.BlobRef(ref)))
	}
	bk := filepath.Join(t.TempDir(), "backup")
	var checked atomic.Int64
	_, err := Create(ctx, d.plan, bk, Options{copied: expunge, Check: func(n, _ int64) { checked.Add(n) }})
	testkit.Must(t, err)
	if snapshots != 2 {
		t.Errorf("%d snapshots taken, want 2 (the first named a deleted blob)", snapshots)
	}
	if checked.Load() == 0 {
		t.Error("the copy's blobs were not read back")
	}
	p := restorePlan(t)
	_, err = Restore(ctx, bk, p, RestoreOptions{})
	testkit.Must(t, err)
}

// TestBackupDirectoryChanged: a backup during which the directory changed
// is taken again; one during which it always changes fails, and leaves no
// manifest.
func TestBackupDirectoryChanged(t *testing.T) {
	d := newDeployment(t)
	db, err := sqlitedb.Open(d.plan.Directory, sqlitedb.Options{})
	testkit.Must(t, err)
	defer db.Close()
	calls := 0
	move := func() {
		calls++
		if _, err := db.W.Exec(`UPDATE homes SET region = ? WHERE address = 'a@x.example'`, fmt.Sprint("r", calls)); err != nil {
			t.Error(err)
		}
	}
	bk := filepath.Join(t.TempDir(), "once")
	once := Options{afterRegions: func() {
		if calls == 0 {
			move()
		}
	}}
	if _, err := Create(context.Background(), d.plan, bk, once); err != nil {
		t.Fatalf("a directory changed once: %v", err)
	}
	if calls != 1 {
		t.Fatalf("%d changes", calls)
	}
	bk = filepath.Join(t.TempDir(), "always")
	_, err = Create(context.Background(), d.plan, bk, Options{afterRegions: move})
	testkit.WantKind(t, "a directory that always changes", err, errors.Unavailable)
	if _, err := os.Stat(filepath.Join(bk, manifestName)); !os.IsNotExist(err) {
		t.Error("a failed backup has a manifest")
	}
	// A non-empty folder is refused.
	if _, err := Create(context.Background(), d.plan, bk, Options{}); !errors.Is(errors.Exist, err) {
		t.Errorf("backup into a non-empty folder: %v", err)
	}
}
