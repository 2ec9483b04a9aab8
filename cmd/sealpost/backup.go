package main

import (
	"fmt"
	"time"

	"github.com/sealpost/sealpost/backup"
	"github.com/sealpost/sealpost/internal/progress"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newBackupCmd() *cobra.Command {
	var cf configFlags
	var to string
	var regions []string
	cmd := &cobra.Command{
		Use:   "backup --to DIR (--config FILE | --data DIR)",
		Short: "Take a consistent snapshot of the data folder, while the server runs or not",
		Long: `Copy everything the data folder holds into DIR (which must not exist or
be empty): the directory, each region's metadata (SQLite, through VACUUM
INTO) and sealed blobs, the transparency log, the legal store, the event
journal and the key files, then a manifest (MANIFEST.json: every file, its
size and SHA-256), written last.

It works while the server runs, without stopping or slowing it: the copy
is ordered so that everything the metadata refers to is in it (see package
backup), and every message's sealed blob is read back from the copy before
the manifest is written; a backup during which blobs were deleted, or
accounts moved between regions, is taken again. Mail and keys stay sealed as they are in the data folder; keep the
backup as you keep the data folder (one user, mode 0700).

Not included: a PostgreSQL store (back it up with pg_dump) and an S3 bucket
(the bucket's versioning or replication); see docs/OPERATIONS.md.

Restore with 'sealpost restore --from DIR'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return fmt.Errorf("--to DIR is required")
			}
			c, err := cf.load()
			if err != nil {
				return err
			}
			plan := server.BackupPlan(c, regions)
			out := cmd.OutOrStdout()
			for _, r := range plan.Regions {
				if r.Store == "" {
					fmt.Fprintf(out, "region %s: metadata in PostgreSQL is not in this backup: back it up with pg_dump\n", r.ID)
				}
				if r.BlobKind == backup.Remote {
					fmt.Fprintf(out, "region %s: blobs in S3 are not in this backup: rely on the bucket's versioning or replication\n", r.ID)
				}
			}
			meter := progress.New(cmd.ErrOrStderr(), "backing up (files)", 0)
			check := progress.New(cmd.ErrOrStderr(), "reading back the copy (messages)", 0)
			start := time.Now()
			m, err := backup.Create(cmd.Context(), plan, to, backup.Options{Progress: meter.Add, Check: check.Add})
			meter.Finish()
			check.Finish()
			if err != nil {
				return err
			}
			files, bytes := m.Totals()
			fmt.Fprintf(out, "backed up %d files, %d bytes, in %s to %s\n", files, bytes, time.Since(start).Round(time.Millisecond), to)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "folder to write the backup to (created; must be empty)")
	cmd.Flags().StringSliceVar(&regions, "region", nil, "back up only these regions' stores (default: all configured); the deployment's other state is always included")
	return cmd
}
