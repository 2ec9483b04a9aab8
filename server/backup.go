package server

import (
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/sealpost/sealpost/backup"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/region"
)

// BackupPlan names, for package backup, where a configuration keeps its
// data: the data folder, the directory, each region's stores (all
// configured regions, or those named), the transparency log and the files
// it is published from (the legal store, the event journal).
func BackupPlan(c config.Config, regions []string) backup.Plan {
	p := backup.Plan{
		DataDir:    c.DataDir,
		Directory:  c.Directory,
		Log:        filepath.Join(c.DataDir, "log", "tree"),
		LogSources: []string{filepath.Join(c.DataDir, "legal"), filepath.Join(c.DataDir, "events.jsonl")},
		Skip:       []string{TempDir(c)},
	}
	for _, rc := range c.Regions {
		if len(regions) > 0 && !slices.Contains(regions, rc.ID) {
			continue
		}
		r := backup.Region{ID: rc.ID, BlobKind: backup.BlobKind(rc.Blobs.Kind)}
		if rc.Store.Kind == "sqlite" {
			r.Store = rc.Store.Path
		}
		if r.BlobKind != backup.Remote {
			r.Blobs = rc.Blobs.Path
		}
		p.Regions = append(p.Regions, r)
	}
	return p
}

// LogKeyPath is the file of the transparency log's signer key.
func LogKeyPath(c config.Config) string { return filepath.Join(c.DataDir, "keys", "log.key") }

// MoveOptions tune MoveAccount.
type MoveOptions struct {
	Log   *slog.Logger       // nil: discard
	Crash func(point string) // if set, called at each crash point of the move (tests)
	Meter region.Meter       // if set, counts the blobs copied
}
