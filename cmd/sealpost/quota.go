package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/server"
)

func newAccountQuotaCmd() *cobra.Command {
	var cf configFlags
	var storage, mailboxes string
	cmd := &cobra.Command{
		Use:   "quota ADDRESS [--storage SIZE|default|none] [--mailboxes N|default|none]",
		Short: "Show an account's quota and usage, or set its own limits",
		Long: `Show how much an account stores and how many mailboxes it has, against
its limits, or override the configured defaults ([quota] in the config) for
this account.

  --storage 20GiB     the bytes of messages the account may hold (their size
                      over IMAP; units B, KiB, MiB, GiB, TiB or none)
  --mailboxes 5000    how many mailboxes it may have, its six default ones
                      included
  default             back to the configured default
  none                no limit for this account

Over its storage quota an account refuses mail (SMTP 452 4.2.2, or 552 5.2.2
for a message larger than the whole quota), APPEND and COPY (IMAP NO
[OVERQUOTA]); beyond its mailbox limit, CREATE (NO [LIMIT]). Lowering a limit
deletes nothing. Works while the server runs (through its control socket)
and with it stopped.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := quotaFlags(storage, mailboxes)
			if err != nil {
				return err
			}
			c, err := cf.load()
			if err != nil {
				return err
			}
			var rep server.QuotaReport
			// show reads the quota and applies the change, if any: the
			// limits a flag does not name keep their current value.
			show := func(get func(*sealpost.Quota) (server.QuotaReport, error)) error {
				var err error
				if rep, err = get(nil); err != nil || set == nil {
					return err
				}
				if set.Storage == keep {
					set.Storage = rep.Own.Storage
				}
				if set.Mailboxes == keep {
					set.Mailboxes = rep.Own.Mailboxes
				}
				rep, err = get(set)
				return err
			}
			if ctl, err := server.DialCtl(c.DataDir); err == nil {
				if err := show(func(q *sealpost.Quota) (server.QuotaReport, error) { return ctl.AccountQuota(args[0], q) }); err != nil {
					return err
				}
			} else if err := withServer(cmd, &cf, func(ctx context.Context, srv *server.Server) error {
				return show(func(q *sealpost.Quota) (server.QuotaReport, error) { return srv.AccountQuota(ctx, args[0], q) })
			}); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s\n", rep.Address)
			fmt.Fprintf(out, "  storage    %s of %s\n", formatBytes(rep.Usage.Storage), limitText(rep.Own.Storage, rep.Effective.Storage, formatBytes))
			fmt.Fprintf(out, "  messages   %d\n", rep.Usage.Messages)
			fmt.Fprintf(out, "  mailboxes  %d of %s\n", rep.Usage.Mailboxes, limitText(rep.Own.Mailboxes, rep.Effective.Mailboxes, func(n int64) string { return fmt.Sprint(n) }))
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&storage, "storage", "", "storage limit: a size (e.g. 20GiB), default or none")
	cmd.Flags().StringVar(&mailboxes, "mailboxes", "", "mailbox limit: a count, default or none")
	return cmd
}

// quotaFlags returns the override to set, or nil when neither flag was
// given. A flag not given keeps the account's current value, which the
// command reads first.
func quotaFlags(storage, mailboxes string) (*sealpost.Quota, error) {
	if storage == "" && mailboxes == "" {
		return nil, nil
	}
	q := sealpost.Quota{Storage: keep, Mailboxes: keep}
	var err error
	if storage != "" {
		if q.Storage, err = parseLimit(storage, true); err != nil {
			return nil, errors.E(errors.Invalid, errors.Errorf("--storage: %v", err))
		}
	}
	if mailboxes != "" {
		if q.Mailboxes, err = parseLimit(mailboxes, false); err != nil {
			return nil, errors.E(errors.Invalid, errors.Errorf("--mailboxes: %v", err))
		}
	}
	return &q, nil
}

// keep marks a limit the command does not change; the command replaces it
// with the current value before anything is stored.
const keep int64 = -2

// parseLimit reads "default" (0), "none" (sealpost.NoLimit), a count, or
// with sizes a number with a binary or decimal unit.
func parseLimit(s string, size bool) (int64, error) {
	switch strings.ToLower(s) {
	case "default":
		return 0, nil
	case "none", "unlimited":
		return sealpost.NoLimit, nil
	}
	num, mult := s, int64(1)
	if size {
		units := []struct {
			suffix string
			mult   int64
		}{{"tib", 1 << 40}, {"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"tb", 1e12}, {"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3}, {"b", 1}}
		lower := strings.ToLower(strings.TrimSpace(s))
		for _, u := range units {
			if strings.HasSuffix(lower, u.suffix) {
				num, mult = strings.TrimSpace(lower[:len(lower)-len(u.suffix)]), u.mult
				break
			}
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, errors.Errorf("%q is not a positive %s, default or none", s, map[bool]string{true: "size", false: "count"}[size])
	}
	return n * mult, nil
}

// limitText describes a limit: the one that applies and where it comes from.
func limitText(own, eff int64, format func(int64) string) string {
	switch {
	case own == sealpost.NoLimit:
		return "no limit (this account)"
	case eff == 0:
		return "no limit (default)"
	case own > 0:
		return format(eff) + " (this account)"
	}
	return format(eff) + " (default)"
}

// formatBytes is n in the largest binary unit that keeps it above 1.
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
