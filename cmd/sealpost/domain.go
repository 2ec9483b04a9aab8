package main

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newDomainCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Short: "Manage hosted domains: add, list"}
	var addCF, listCF configFlags
	add := &cobra.Command{
		Use:   "add DOMAIN",
		Short: "Host a domain: accept its mail and allow accounts in it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withServer(cmd, &addCF, func(ctx context.Context, srv *server.Server) error {
				if err := srv.Svc.AddDomain(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added %s\n", args[0])
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List hosted domains",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withServer(cmd, &listCF, func(ctx context.Context, srv *server.Server) error {
				ds, err := srv.Svc.Store().Domains(ctx)
				if err != nil {
					return err
				}
				for _, d := range ds {
					fmt.Fprintln(cmd.OutOrStdout(), d)
				}
				return nil
			})
		},
	}
	addCF.register(add)
	listCF.register(list)
	cmd.AddCommand(add, list)
	return cmd
}
