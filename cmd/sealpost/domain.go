package main

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newDomainCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Short: "Manage hosted domains: add, list"}
	var addCF, listCF configFlags
	var home string
	add := &cobra.Command{
		Use:   "add DOMAIN --region ID",
		Short: "Host a domain: accept its mail and allow accounts in it",
		Long: `Host a domain. --region names the region where its accounts live unless
'account add --region' says otherwise (default: the first configured
region).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withServer(cmd, &addCF, func(ctx context.Context, srv *server.Server) error {
				id := sealpost.RegionID(home)
				if id == "" {
					id = srv.RegionInfos()[0].ID
				}
				if err := srv.Router.AddDomain(ctx, args[0], id); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added %s (default region %s)\n", args[0], id)
				return nil
			})
		},
	}
	add.Flags().StringVar(&home, "region", "", "default home region of the domain's accounts")
	list := &cobra.Command{
		Use:   "list",
		Short: "List hosted domains",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withServer(cmd, &listCF, func(ctx context.Context, srv *server.Server) error {
				ds, err := srv.Dir.Domains(ctx)
				if err != nil {
					return err
				}
				for _, d := range ds {
					fmt.Fprintf(cmd.OutOrStdout(), "%s\tdefault region %s\n", d.Name, d.DefaultRegion)
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
