package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

// withServer opens the configured data folder without listening, runs f and
// closes it.
func withServer(cmd *cobra.Command, cf *configFlags, f func(context.Context, *server.Server) error) error {
	c, err := cf.load()
	if err != nil {
		return err
	}
	srv, err := server.Open(c, newLogger(c, cmd.ErrOrStderr()), server.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	return f(cmd.Context(), srv)
}

// lineReader reads passwords, one a line, from standard input.
type lineReader struct {
	cmd *cobra.Command
	r   *bufio.Reader
}

func (l *lineReader) read(file, prompt string) (string, error) {
	if file != "" {
		return readPassword(l.cmd, file, prompt)
	}
	if l.r == nil {
		l.r = bufio.NewReader(l.cmd.InOrStdin())
	}
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprint(l.cmd.ErrOrStderr(), prompt)
	}
	line, err := l.r.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newAccountCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Manage accounts: add, list, passwd, delete, move, settings, quota",
	}
	cmd.AddCommand(newAccountAddCmd(), newAccountListCmd(), newAccountPasswdCmd(), newAccountDeleteCmd(), newAccountMoveCmd(), newAccountSettingsCmd(), newAccountQuotaCmd())
	return cmd
}

func newAccountAddCmd() *cobra.Command {
	var cf configFlags
	var passFile, ownKey, home string
	cmd := &cobra.Command{
		Use:   "add ADDRESS [--region ID]",
		Short: "Create an account (password read from standard input or --password-file)",
		Long: `Create an account with its own key pair, wrapped by its password. The
recovery code printed once at the end is the only way back to the account's
mail if the password is lost: the operator cannot open it.

With --own-key FILE the account registers its own OpenPGP public key: the
server never holds a private key for it and stores its mail as PGP/MIME.

The account lives in one region, its home: --region ID, or else its
domain's default region. Its mail and keys are stored only there.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lr := &lineReader{cmd: cmd}
			pass, err := lr.read(passFile, "Password: ")
			if err != nil {
				return err
			}
			return withServer(cmd, &cf, func(ctx context.Context, srv *server.Server) error {
				out := cmd.OutOrStdout()
				if ownKey != "" {
					pub, err := os.ReadFile(ownKey)
					if err != nil {
						return err
					}
					id, err := srv.Router.CreateOwnKeyAccount(ctx, args[0], pass, pub, sealpost.RegionID(home))
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "created %s in region %s (own key: mail is stored as PGP/MIME to your key)\n", args[0], id)
					return nil
				}
				id, code, err := srv.Router.CreateAccount(ctx, args[0], pass, sealpost.RegionID(home))
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "created %s in region %s\n", args[0], id)
				fmt.Fprintf(out, "recovery code (shown once, keep it offline): %s\n", code)
				return nil
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&passFile, "password-file", "", "read the password from this file")
	cmd.Flags().StringVar(&ownKey, "own-key", "", "register this OpenPGP public key (own-key mode)")
	cmd.Flags().StringVar(&home, "region", "", "home region (default: the domain's default region)")
	return cmd
}

func newAccountListCmd() *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withServer(cmd, &cf, func(ctx context.Context, srv *server.Server) error {
				accts, err := srv.Router.Accounts(ctx)
				if err != nil {
					return err
				}
				regions := map[sealpost.RegionID]sealpost.Region{}
				for _, r := range srv.RegionInfos() {
					regions[r.ID] = r
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ADDRESS\tREGION\tCOUNTRY\tCREATED\tKEY\tGENERATIONS")
				for _, l := range accts {
					created, mode, gens := "-", "-", "-"
					if !l.Account.Created.IsZero() {
						created = l.Account.Created.UTC().Format("2006-01-02 15:04")
						mode = "sealed"
						if l.Account.OwnKey {
							mode = "own-key"
						}
						gens = fmt.Sprint(len(l.Keys))
					}
					where := string(l.Region)
					if l.Moving != nil {
						where += fmt.Sprintf(" (moving to %s)", l.Moving.To)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Account.Address, where, regions[l.Region].Country, created, mode, gens)
				}
				return w.Flush()
			})
		},
	}
	cf.register(cmd)
	return cmd
}

func newAccountPasswdCmd() *cobra.Command {
	var cf configFlags
	var oldFile, newFile, code string
	var reset bool
	cmd := &cobra.Command{
		Use:   "passwd ADDRESS",
		Short: "Change a password (old then new, one a line on standard input)",
		Long: `Change an account's password. Three ways:

  sealpost account passwd ADDR             old and new password: the key is re-wrapped
  sealpost account passwd ADDR --recovery-code CODE
                                           new password: the recovery code opens the key
  sealpost account passwd ADDR --reset     new password, set by an administrator who
                                           does not know the old one

An administrator's --reset cannot open old mail: the operator holds nothing
that does. It makes a new key for new mail; mail sealed to the old key stays
sealed until the owner uses their recovery code.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lr := &lineReader{cmd: cmd}
			var old string
			var err error
			if !reset && code == "" {
				if old, err = lr.read(oldFile, "Old password: "); err != nil {
					return err
				}
			}
			pass, err := lr.read(newFile, "New password: ")
			if err != nil {
				return err
			}
			return withServer(cmd, &cf, func(ctx context.Context, srv *server.Server) error {
				out := cmd.OutOrStdout()
				svc, _, err := srv.Router.Postbox(ctx, args[0])
				if err != nil {
					return err
				}
				switch {
				case reset:
					res, err := svc.ResetPassword(ctx, args[0], pass)
					if err != nil {
						return err
					}
					if err := srv.Record(ctx, sealpost.Event{Kind: sealpost.EventAccountReset, Account: sealpost.NormalizeAddress(args[0]), Actor: "admin",
						Detail: map[string]string{"sealed_generations": fmt.Sprint(res.SealedGenerations)}}); err != nil {
						return err
					}
					fmt.Fprintf(out, "password reset for %s\n", args[0])
					if res.SealedGenerations > 0 {
						fmt.Fprintf(out, "WARNING: old mail cannot be opened with the new password. It stays sealed to %d earlier key(s),\n", res.SealedGenerations)
						fmt.Fprintln(out, "which only the owner's recovery code opens (sealpost account passwd ADDR --recovery-code CODE).")
					}
					if res.RecoveryCode != "" {
						fmt.Fprintf(out, "new recovery code (shown once): %s\n", res.RecoveryCode)
					}
					return nil
				case code != "":
					n, err := svc.Recover(ctx, args[0], code, pass)
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "password set for %s; %d key generation(s) restored\n", args[0], n)
					return nil
				}
				if err := svc.ChangePassword(ctx, args[0], old, pass); err != nil {
					return err
				}
				fmt.Fprintf(out, "password changed for %s\n", args[0])
				return nil
			})
		},
	}
	cf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&oldFile, "old-password-file", "", "read the old password from this file")
	f.StringVar(&newFile, "password-file", "", "read the new password from this file")
	f.StringVar(&code, "recovery-code", "", "the recovery code shown at account creation")
	f.BoolVar(&reset, "reset", false, "administrator reset without the old password (old mail stays sealed)")
	return cmd
}

func newAccountDeleteCmd() *cobra.Command {
	var cf configFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete ADDRESS --yes",
		Short: "Delete an account and all its mail",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("this deletes all of %s's mail: add --yes to confirm", args[0])
			}
			return withServer(cmd, &cf, func(ctx context.Context, srv *server.Server) error {
				if err := srv.Router.DeleteAccount(ctx, args[0]); err != nil {
					return err
				}
				if err := srv.Record(ctx, sealpost.Event{Kind: sealpost.EventAccountDeleted, Account: sealpost.NormalizeAddress(args[0]), Actor: "admin"}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
				return nil
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm deletion")
	return cmd
}
