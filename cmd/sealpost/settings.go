package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/server"
)

func newAccountSettingsCmd() *cobra.Command {
	var cf configFlags
	var saveSent string
	cmd := &cobra.Command{
		Use:   "settings ADDRESS [--save-sent on|off]",
		Short: "Show or change an account's settings",
		Long: `Show an account's settings, or change them.

--save-sent on  files a copy of each message the account submits over SMTP in
                its Sent folder. Off by default: Thunderbird, Apple Mail,
                neomutt and phone clients save their own copy (IMAP APPEND),
                and a server copy would make two. Turn it on for clients that
                do not (some scripts, some web mailers).

Works while the server runs (through its control socket) and with it stopped.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var want *bool
			switch saveSent {
			case "":
			case "on", "true", "yes":
				v := true
				want = &v
			case "off", "false", "no":
				v := false
				want = &v
			default:
				return errors.E(errors.Invalid, errors.Errorf("--save-sent takes on or off, not %q", saveSent))
			}
			c, err := cf.load()
			if err != nil {
				return err
			}
			var set sealpost.AccountSettings
			if ctl, err := server.DialCtl(c.DataDir); err == nil {
				set, err = ctl.AccountSettings(args[0], want)
				if err != nil {
					return err
				}
			} else if err := withServer(cmd, &cf, func(ctx context.Context, srv *server.Server) error {
				var err error
				set, err = srv.AccountSettings(ctx, args[0], want)
				return err
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n  save-sent  %s\n", sealpost.NormalizeAddress(args[0]), onOff(set.SaveSent))
			return nil
		},
	}
	cmd.Flags().StringVar(&saveSent, "save-sent", "", "on or off: keep a server copy of submitted mail in Sent")
	cf.register(cmd)
	return cmd
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
