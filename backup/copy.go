package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
	"github.com/sealpost/sealpost/internal/sqlitedb"
)

// copier writes the files of one backup under root and lists them.
type copier struct {
	root     string
	progress Progress
	copied   func(name string) // Options.copied
	files    []ManifestFile
}

// block is the unit of copying; an all-zero block of a segment (a deleted
// record's punched hole) is skipped, leaving a hole in the copy too.
const block = 1 << 20

// snapshotDB copies the SQLite database src to name through SQLite's VACUUM
// INTO: one read transaction, so a consistent state, while the server goes
// on writing. The copy is then fsynced and hashed.
func (c *copier) snapshotDB(ctx context.Context, src, name string) error {
	dst := filepath.Join(c.root, name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return errors.E(errors.Internal, err)
	}
	db, err := sqlitedb.Open(src, sqlitedb.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.W.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return errors.E(errors.Internal, errors.Errorf("snapshot of %s: %v", src, err))
	}
	return c.seal(name)
}

// logicalDigest hashes every row of every table of the database at path,
// read in one transaction: equal digests mean equal contents.
func logicalDigest(ctx context.Context, path string) (string, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{Readers: 1})
	if err != nil {
		return "", err
	}
	defer db.Close()
	h := sha256.New()
	err = db.Read(ctx, "backup.digest", func(tx *sql.Tx) error {
		var tables []string
		rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				rows.Close()
				return err
			}
			tables = append(tables, t)
		}
		rows.Close()
		for _, t := range tables {
			fmt.Fprintf(h, "table %q\n", t)
			rows, err := tx.QueryContext(ctx, `SELECT * FROM "`+strings.ReplaceAll(t, `"`, `""`)+`"`)
			if err != nil {
				return err
			}
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return err
				}
				for _, v := range vals {
					fmt.Fprintf(h, "%T:%v\x00", v, v)
				}
				h.Write([]byte{'\n'})
			}
			if err := rows.Err(); err != nil {
				rows.Close()
				return err
			}
			rows.Close()
		}
		return nil
	})
	if err != nil {
		return "", errors.E(errors.Internal, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyBlobs copies a region's blobs: pack segments up to their sizes now,
// blob files whole.
func (c *copier) copyBlobs(r Region) error {
	if r.BlobKind == Remote || r.Blobs == "" {
		return nil
	}
	base := filepath.Join(regionPrefix, r.ID, "blobs")
	if r.BlobKind == Pack {
		ents, err := os.ReadDir(r.Blobs)
		if err != nil {
			return errors.E(errors.Internal, err)
		}
		// Sizes first, all at once: they bound what step 2 references.
		type seg struct {
			name string
			size int64
		}
		var segs []seg
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "seg-") || !strings.HasSuffix(e.Name(), ".pack") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				return errors.E(errors.Internal, err)
			}
			segs = append(segs, seg{e.Name(), fi.Size()})
		}
		for _, s := range segs {
			if err := c.copyFile(filepath.Join(r.Blobs, s.name), filepath.Join(base, s.name), s.size); err != nil {
				return err
			}
		}
		return nil
	}
	return filepath.WalkDir(r.Blobs, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return errors.E(errors.Internal, err)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(r.Blobs, path)
		return c.copyFile(path, filepath.Join(base, rel), -1)
	})
}

// copyLog copies a transparency log's folder: its origin and journal, then
// its entries; the derived files are rebuilt on open.
func (c *copier) copyLog(dir, name string) error {
	if dir == "" {
		return nil
	}
	for _, f := range []string{"origin", "journal", "entries"} {
		src := filepath.Join(dir, f)
		if _, err := os.Stat(src); os.IsNotExist(err) {
			continue // no log yet: the server has not run its web app
		}
		if err := c.copyFile(src, filepath.Join(name, f), -1); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies src to name, its first limit bytes (all of it if limit
// is negative), fsyncs and lists it. All-zero blocks are left as holes.
func (c *copier) copyFile(src, name string, limit int64) error {
	in, err := os.Open(src)
	if os.IsNotExist(err) {
		return nil // removed meanwhile (a DKIM key retired, a rotated file)
	}
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	defer in.Close()
	var r io.Reader = in
	if limit >= 0 {
		r = io.LimitReader(in, limit)
	}
	dst := filepath.Join(c.root, name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return errors.E(errors.Internal, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	defer out.Close()
	h := sha256.New()
	n, err := sparseCopy(out, r, h)
	if err == nil {
		err = out.Sync()
	}
	if err != nil {
		return errors.E(errors.Internal, errors.Errorf("copying %s: %v", src, err))
	}
	c.add(name, n, hex.EncodeToString(h.Sum(nil)))
	return nil
}

// sparseCopy copies r to out, hashing into h, seeking over all-zero blocks,
// and returns the length.
func sparseCopy(out *os.File, r io.Reader, h io.Writer) (int64, error) {
	buf := make([]byte, block)
	var n int64
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			h.Write(buf[:k])
			if isZero(buf[:k]) {
				if _, err := out.Seek(int64(k), io.SeekCurrent); err != nil {
					return n, err
				}
			} else if _, err := out.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	// A trailing hole needs the size set.
	return n, out.Truncate(n)
}

func isZero(b []byte) bool {
	var zero [4096]byte
	for len(b) > 0 {
		k := min(len(b), len(zero))
		if !bytes.Equal(b[:k], zero[:k]) {
			return false
		}
		b = b[k:]
	}
	return true
}

// seal fsyncs, hashes and lists a file written under root by someone else
// (SQLite).
func (c *copier) seal(name string) error {
	path := filepath.Join(c.root, name)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return errors.E(errors.Internal, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	c.add(name, n, hex.EncodeToString(h.Sum(nil)))
	return nil
}

func (c *copier) add(name string, size int64, sum string) {
	c.files = append(c.files, ManifestFile{Name: filepath.ToSlash(name), Size: size, SHA256: sum})
	if c.progress != nil {
		c.progress(1, size)
	}
	if c.copied != nil {
		c.copied(name)
	}
}

// syncTree fsyncs every folder under root, so the files' names are durable.
func syncTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return err
	})
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if err := durable.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}
