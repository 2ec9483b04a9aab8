package main

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/progress"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newAccountMoveCmd() *cobra.Command {
	var cf configFlags
	var to, passFile string
	cmd := &cobra.Command{
		Use:   "move ADDRESS --to REGION",
		Short: "Move a mailbox to another region, at its owner's request",
		Long: `Move an account's mailbox — its mail, sealed as it is, and its wrapped
keys — to another region, then make that region its home and delete the
copy in the old one. Only the owner may ask: the command needs the
account's password (from standard input or --password-file). The operator
cannot move a mailbox on their own.

The move copies, verifies every sealed blob by SHA-256, switches the
directory in one transaction, then deletes the source. If it is
interrupted (even by kill -9), run the same command again: it resumes
where it stopped, and nothing is lost or duplicated. UIDVALIDITY and UIDs
are kept, so mail clients need not download anything again. Every move is
recorded in the event journal (data folder, events.jsonl).

Run it with the server stopped (it opens the regions' storage itself).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return fmt.Errorf("--to REGION is required")
			}
			pass, err := readPassword(cmd, passFile, "Password: ")
			if err != nil {
				return err
			}
			return withServer(cmd, &cf, func(ctx context.Context, srv *server.Server) error {
				return moveAccount(ctx, cmd, srv, args[0], sealpost.RegionID(to), pass)
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "destination region")
	cmd.Flags().StringVar(&passFile, "password-file", "", "read the owner's password from this file")
	return cmd
}

func moveAccount(ctx context.Context, cmd *cobra.Command, srv *server.Server, addr string, to sealpost.RegionID, pass string) error {
	// For crash tests: SEALPOST_TEST_MOVE_CRASH=point kills this process
	// (SIGKILL, as kill -9) when the move reaches that point.
	var crash func(string)
	if point := os.Getenv("SEALPOST_TEST_MOVE_CRASH"); point != "" {
		crash = func(p string) {
			if p == point {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	meter := progress.New(cmd.ErrOrStderr(), "copying sealed messages", 0)
	from, err := srv.MoveAccount(ctx, addr, to, pass, server.MoveOptions{Log: newLogger(srv.Config(), cmd.ErrOrStderr()), Crash: crash, Meter: meter})
	meter.Finish()
	if err != nil {
		return err
	}
	addr = sealpost.NormalizeAddress(addr)
	fmt.Fprintf(cmd.OutOrStdout(), "moved %s from region %s to region %s\n", addr, from, to)
	return nil
}
