package backup

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealpost/sealpost/errors"
)

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Check is told of each file whose hash was checked, Copy of each
	// file restored, Verify of each message blob read back.
	Check, Copy, Verify Progress
	// LogKey is the file holding the transparency log's signer key in the
	// restored data folder, to open and verify the log; "" skips that.
	LogKey string
}

// Report is what Restore restored and verified.
type Report struct {
	Files    int64 // files restored
	Bytes    int64
	Messages int64 // message and queue blobs read back and checked
	LogSize  uint64
	Skipped  []string // what the backup does not hold (PostgreSQL, S3)
}

// Restore restores the backup in dir into the places p names, which must
// all be empty: it checks every file against the manifest first, writes
// nothing if one differs, then copies, then verifies what it wrote (see
// Verify). If the verification fails, the files it wrote are removed.
func Restore(ctx context.Context, dir string, p Plan, o RestoreOptions) (*Report, error) {
	const op = "backup.Restore"
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, named(op, err)
	}
	rep := &Report{}
	targets := map[string]Region{}
	for _, mr := range m.Regions {
		r, ok := regionOf(p, mr.ID)
		if !ok {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("the backup holds region %q, which the target configuration lacks", mr.ID))
		}
		if mr.SQLite != (r.Store != "") {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("region %q: the backup's metadata store and the target's differ in kind (SQLite or PostgreSQL)", mr.ID))
		}
		if mr.Blobs != r.BlobKind {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("region %q: blobs of kind %s in the backup, %s in the target", mr.ID, mr.Blobs, r.BlobKind))
		}
		if !mr.SQLite {
			rep.Skipped = append(rep.Skipped, "region "+mr.ID+": metadata in PostgreSQL (restore it with pg_restore)")
		}
		if mr.Blobs == Remote {
			rep.Skipped = append(rep.Skipped, "region "+mr.ID+": blobs in S3 (not in the backup)")
		}
		targets[mr.ID] = r
	}
	for _, t := range targetPlaces(p) {
		if err := emptyDir(t); errors.Is(errors.Exist, err) {
			return nil, errors.E(op, errors.Exist, errors.Errorf("restore needs an empty target: %v", err))
		} else if err != nil && !isFile(t) {
			return nil, named(op, err)
		} else if isFile(t) {
			return nil, errors.E(op, errors.Exist, errors.Errorf("restore needs an empty target: %s exists", t))
		}
	}
	if err := m.Check(dir, o.Check); err != nil {
		return nil, named(op, err)
	}

	var written []string
	undo := func() {
		for i := len(written) - 1; i >= 0; i-- {
			os.Remove(written[i])
		}
	}
	for _, f := range m.Files {
		dst, err := destination(p, targets, f.Name)
		if err != nil {
			undo()
			return nil, named(op, err)
		}
		if err := restoreFile(filepath.Join(dir, filepath.FromSlash(f.Name)), dst); err != nil {
			undo()
			return nil, named(op, err)
		}
		written = append(written, dst)
		rep.Files++
		rep.Bytes += f.Size
		if o.Copy != nil {
			o.Copy(1, f.Size)
		}
	}
	for _, t := range targetPlaces(p) {
		if _, err := os.Stat(t); err == nil {
			if err := syncTree(t); err != nil {
				undo()
				return nil, named(op, err)
			}
		}
	}
	if err := Verify(ctx, p, o, rep); err != nil {
		undo()
		return nil, named(op, err)
	}
	return rep, nil
}

// regionOf returns the plan's region id.
func regionOf(p Plan, id string) (Region, bool) {
	for _, r := range p.Regions {
		if r.ID == id {
			return r, true
		}
	}
	return Region{}, false
}

// targetPlaces are the places a restore writes to: the data folder, the
// directory file and the regions' stores.
func targetPlaces(p Plan) []string {
	out := []string{p.DataDir, p.Directory}
	for _, r := range p.Regions {
		if r.Store != "" {
			out = append(out, r.Store)
		}
		if r.Blobs != "" && r.BlobKind != Remote {
			out = append(out, r.Blobs)
		}
	}
	return out
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// destination maps a backup file's name to where it is restored.
func destination(p Plan, targets map[string]Region, name string) (string, error) {
	if name == dirDBName {
		return p.Directory, nil
	}
	if rest, ok := strings.CutPrefix(name, dataPrefix+"/"); ok {
		return filepath.Join(p.DataDir, filepath.FromSlash(rest)), nil
	}
	if rest, ok := strings.CutPrefix(name, regionPrefix+"/"); ok {
		id, rest, _ := strings.Cut(rest, "/")
		r, ok := targets[id]
		switch {
		case !ok:
		case rest == "meta.db" && r.Store != "":
			return r.Store, nil
		case strings.HasPrefix(rest, "blobs/") && r.Blobs != "":
			return filepath.Join(r.Blobs, filepath.FromSlash(strings.TrimPrefix(rest, "blobs/"))), nil
		}
	}
	return "", errors.E(errors.Invalid, errors.Errorf("backup file %q has no place in the target", name))
}

// restoreFile copies src to dst (created, mode 0600, folders 0700), holes
// kept, and fsyncs it.
func restoreFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return errors.E(errors.Internal, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	defer out.Close()
	if _, err := sparseCopy(out, in, io.Discard); err != nil {
		return errors.E(errors.Internal, err)
	}
	if err := out.Sync(); err != nil {
		return errors.E(errors.Internal, err)
	}
	return nil
}
