package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sealpost/sealpost/tlog"
	"github.com/sealpost/sealpost/transparency/report"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var f logFlags
	var period, format, out string
	cmd := &cobra.Command{
		Use:   "report [--period 2026-H2] [--format csv|json|html]",
		Short: "Compute the transparency report for a period from the transparency log",
		Long: `Report computes the transparency report — one row per issuing country and
instrument: requests, accounts specified, outcomes, MLAT, emergency, users
notified, notices delayed; preservation orders apart; national-security
requests only in bands — from the transparency log alone, after verifying
the whole log against its signed checkpoint. The report names that
checkpoint, so anyone holding the log computes the same figures: run this
against a server's --url to check its published report.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := report.CurrentPeriod(time.Now())
			if period != "" {
				var err error
				if p, err = report.ParsePeriod(period); err != nil {
					return err
				}
			}
			a, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer a.close()
			var entries [][]byte
			cp, err := tlog.VerifyEach(cmd.Context(), a.fetch, a.key, nil, func(_ uint64, e []byte) error {
				entries = append(entries, bytes.Clone(e))
				return nil
			})
			if err != nil {
				return fmt.Errorf("log verification FAILED: %w", err)
			}
			r, err := report.Compute(cp, a.key, entries, p)
			if err != nil {
				return err
			}
			var w io.Writer = cmd.OutOrStdout()
			if out != "" {
				fh, err := os.Create(out)
				if err != nil {
					return err
				}
				defer fh.Close()
				w = fh
			}
			switch format {
			case "csv":
				_, err = w.Write(r.CSV())
			case "json":
				var b []byte
				if b, err = r.JSON(); err == nil {
					_, err = w.Write(append(b, '\n'))
				}
			case "html":
				err = r.WriteHTML(w, report.HTMLOptions{})
			default:
				return fmt.Errorf("--format must be csv, json or html")
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&period, "period", "", "the period: 2026-H1, 2026-H2 or 2026 (default: the current half-year)")
	cmd.Flags().StringVar(&format, "format", "csv", "csv, json or html (with SVG charts)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return cmd
}
