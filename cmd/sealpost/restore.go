package main

import (
	"fmt"
	"time"

	"github.com/sealpost/sealpost/backup"
	"github.com/sealpost/sealpost/internal/progress"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newRestoreCmd() *cobra.Command {
	var cf configFlags
	var from string
	cmd := &cobra.Command{
		Use:   "restore --from DIR (--config FILE | --data DIR)",
		Short: "Restore a backup into an empty data folder and verify it",
		Long: `Restore a backup made by 'sealpost backup' into the places the
configuration names (the data folder, the directory, each region's stores),
which must all be empty or not exist. The server must not be running on
them.

Before writing anything, every file is checked against the backup's
manifest (size and SHA-256); a damaged backup is refused. After writing,
the restore is verified: every SQLite database passes integrity_check,
every message's sealed blob is present and in a sealed form (none is
opened: that needs its owner's password), and the transparency log
verifies against its signed checkpoint. A restore that fails verification
is removed again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return fmt.Errorf("--from DIR is required")
			}
			c, err := cf.load()
			if err != nil {
				return err
			}
			m, err := backup.ReadManifest(from)
			if err != nil {
				return err
			}
			files, _ := m.Totals()
			w := cmd.ErrOrStderr()
			check := progress.New(w, "checking the backup (files)", files)
			var cp, verify *progress.Meter
			start := time.Now()
			rep, err := backup.Restore(cmd.Context(), from, server.BackupPlan(c, nil), backup.RestoreOptions{
				LogKey: server.LogKeyPath(c),
				Check:  check.Add,
				Copy: func(n, b int64) {
					if cp == nil {
						check.Finish()
						cp = progress.New(w, "restoring (files)", files)
					}
					cp.Add(n, b)
				},
				Verify: func(n, b int64) {
					if verify == nil {
						cp.Finish()
						verify = progress.New(w, "verifying (messages)", 0)
					}
					verify.Add(n, b)
				},
			})
			for _, m := range []*progress.Meter{check, cp, verify} {
				if m != nil {
					m.Finish()
				}
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, s := range rep.Skipped {
				fmt.Fprintln(out, "not in the backup:", s)
			}
			fmt.Fprintf(out, "restored %d files, %d bytes; verified %d sealed messages and a transparency log of %d entries, in %s\n",
				rep.Files, rep.Bytes, rep.Messages, rep.LogSize, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&from, "from", "", "the backup folder")
	return cmd
}
