package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
)

// manifestVersion is the version of the manifest and of the layout it
// describes.
const manifestVersion = 1

// Manifest lists a backup's files. It is written last: a backup folder
// without one was interrupted.
type Manifest struct {
	Version int              `json:"version"`
	Created time.Time        `json:"created"`
	Regions []ManifestRegion `json:"regions"`
	Files   []ManifestFile   `json:"files"`
}

// ManifestRegion says what the backup holds of a region.
type ManifestRegion struct {
	ID     string   `json:"id"`
	SQLite bool     `json:"sqlite"` // its metadata (false: PostgreSQL, not held)
	Blobs  BlobKind `json:"blobs"`  // s3: not held
}

// ManifestFile is one file of a backup, by its slash-separated name under
// the backup folder.
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Totals returns the number of files and their bytes.
func (m *Manifest) Totals() (files, bytes int64) {
	for _, f := range m.Files {
		bytes += f.Size
	}
	return int64(len(m.Files)), bytes
}

// write makes every file's name durable, then writes the manifest and
// fsyncs it and the folder.
func (m *Manifest) write(dir string) error {
	if err := syncTree(dir); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	return durable.WriteFile(filepath.Join(dir, manifestName), append(b, '\n'), 0o600)
}

// ReadManifest reads a backup's manifest and checks its form (not yet the
// files it lists: Check does).
func ReadManifest(dir string) (*Manifest, error) {
	const op = "backup.ReadManifest"
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if os.IsNotExist(err) {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("%s has no %s: not a backup, or one that was interrupted", dir, manifestName))
	}
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	m, err := parseManifest(b)
	if err != nil {
		return nil, named(op, err)
	}
	return m, nil
}

// parseManifest parses and checks a manifest's text.
func parseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errors.E(errors.Invalid, errors.Errorf("%s: %v", manifestName, err))
	}
	if m.Version != manifestVersion {
		return nil, errors.E(errors.Invalid, errors.Errorf("backup format %d, this sealpost reads %d", m.Version, manifestVersion))
	}
	for _, f := range m.Files {
		if !localName(f.Name) || f.Size < 0 || len(f.SHA256) != 2*sha256.Size {
			return nil, errors.E(errors.Invalid, errors.Errorf("%s: bad entry %q", manifestName, f.Name))
		}
	}
	return &m, nil
}

// localName reports whether name stays inside the backup folder.
func localName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// Check reads every file the manifest lists and compares its size and
// SHA-256. The first difference is an Invalid error naming the file.
func (m *Manifest) Check(dir string, progress Progress) error {
	const op = "backup.Check"
	for _, f := range m.Files {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		in, err := os.Open(path)
		if os.IsNotExist(err) {
			return errors.E(op, errors.Invalid, errors.Errorf("backup damaged: %s is missing", f.Name))
		}
		if err != nil {
			return errors.E(op, errors.Internal, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, in)
		in.Close()
		if err != nil {
			return errors.E(op, errors.Internal, err)
		}
		if n != f.Size {
			return errors.E(op, errors.Invalid, errors.Errorf("backup damaged: %s holds %d bytes, the manifest says %d", f.Name, n, f.Size))
		}
		if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
			return errors.E(op, errors.Invalid, errors.Errorf("backup damaged: %s does not match its SHA-256 in the manifest", f.Name))
		}
		if progress != nil {
			progress(1, n)
		}
	}
	return nil
}

// named names op in err, keeping its kind; an error built below the API
// without an Op gets op instead of another layer.
func named(op string, err error) error {
	var e *errors.Error
	if errors.As(err, &e) && e.Op == "" {
		return errors.E(op, e.Kind, e.Err)
	}
	return errors.E(op, err)
}
