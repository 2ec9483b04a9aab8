package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/sealpost/sealpost"

	"github.com/sealpost/sealpost/internal/progress"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newResidencyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "residency", Short: "Check where data lives: audit"}
	var cf configFlags
	audit := &cobra.Command{
		Use:   "audit",
		Short: "Scan every region's storage and report whose data each holds",
		Long: `Scan every region's metadata store and blob store, unguarded, and report
per region the accounts whose data it holds. Exit status 1, naming each
item, if any content or key material is outside its account's home region
(except the two halves of an unfinished move), if any row or sealed blob
belongs to no account of its region, or if a referenced blob is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withServer(cmd, &cf, func(ctx context.Context, srv *server.Server) error {
				var ends []region.End
				for _, info := range srv.RegionInfos() {
					r := srv.Regions[info.ID]
					ends = append(ends, region.End{Region: info.ID, Store: r.Store.Inner(), Blobs: r.Blobs})
				}
				meter := progress.New(cmd.ErrOrStderr(), "auditing (blobs)", 0)
				rep, err := region.AuditMetered(ctx, srv.Dir, ends, meter)
				meter.Finish()
				if err != nil {
					return err
				}
				// The audit reads every region's storage (metadata, never
				// content): an operator's access, recorded in the journal
				// and so in the transparency log.
				if err := srv.Record(ctx, sealpost.Event{Kind: sealpost.EventResidencyAudit, Actor: "admin",
					Detail: map[string]string{"findings": strconv.Itoa(len(rep.Findings))}}); err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				for _, ra := range rep.Regions {
					fmt.Fprintf(w, "region %s: %d blobs (%d in the outbound queue)\n", ra.Region, ra.Blobs, ra.Queue)
					for _, h := range ra.Holdings {
						note := ""
						if h.Moving {
							note = "  (unfinished move)"
						}
						fmt.Fprintf(w, "  %s\thome %s\t%d blobs%s\n", h.Address, orDash(string(h.Home)), h.Blobs, note)
					}
				}
				w.Flush()
				if len(rep.Findings) == 0 {
					fmt.Fprintln(out, "OK: every account's data is in its home region only")
					return nil
				}
				for _, f := range rep.Findings {
					fmt.Fprintf(out, "MISPLACED region %s: %s: %s\n", f.Region, f.Item, f.Reason)
				}
				return fmt.Errorf("residency audit: %d finding(s)", len(rep.Findings))
			})
		},
	}
	cf.register(audit)
	cmd.AddCommand(audit)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
