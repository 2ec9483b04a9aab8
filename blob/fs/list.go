package fs

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// List calls fn with the ref of every blob file, in directory order,
// stopping at fn's first error and returning it unchanged. Only names Put
// could have made count: a two-hex-digit fan-out directory holding a file
// named by a ref that begins with those digits. Anything else in the tree is
// skipped. A file left by a Put that a crash interrupted is listed too: its
// ref was never returned, so nothing references it, which is what the
// residency audit looks for. Blobs put or deleted during List may or may not
// be seen.
func (s *Store) List(ctx context.Context, fn func(sealpost.BlobRef) error) error {
	const op = "fs.List"
	if err := ctx.Err(); err != nil {
		return errors.E(op, errors.Unavailable, err)
	}
	subs, err := os.ReadDir(s.dir)
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	for _, sub := range subs {
		name := sub.Name()
		if !sub.IsDir() || len(name) != 2 || !lowerHex(name) {
			continue
		}
		if err := s.listSub(ctx, name, fn); err != nil {
			return err
		}
	}
	return nil
}

// listSub lists the fan-out directory sub, reading its entries in batches
// so that a large directory is never held in memory whole.
func (s *Store) listSub(ctx context.Context, sub string, fn func(sealpost.BlobRef) error) error {
	const op = "fs.List"
	d, err := os.Open(filepath.Join(s.dir, sub))
	if os.IsNotExist(err) {
		return nil // removed by hand meanwhile: nothing to list
	} else if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	defer d.Close()
	for {
		if err := ctx.Err(); err != nil {
			return errors.E(op, errors.Unavailable, err)
		}
		ents, err := d.ReadDir(1024)
		for _, e := range ents {
			ref := sealpost.BlobRef(e.Name())
			if !e.Type().IsRegular() || !validRef(ref) || string(ref[:2]) != sub {
				continue
			}
			if err := fn(ref); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		} else if err != nil {
			return errors.E(op, errors.Internal, err)
		}
	}
}

// lowerHex reports whether name is all lower-case hex digits.
func lowerHex(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
