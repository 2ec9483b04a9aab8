package main

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/legal/policy"
	"github.com/sealpost/sealpost/legal/workflow"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func policyDefault() []byte { return policy.DefaultSource() }

func newOfficerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "officer", Short: "Legal officers, the only people who act on demands: add, list"}
	var af, lf legalFlags
	var passFile string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a legal officer (password from standard input or --password-file)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pass, err := readPassword(cmd, passFile, "Password: ")
			if err != nil {
				return err
			}
			if len(pass) < 12 {
				return fmt.Errorf("an officer's password needs at least 12 characters")
			}
			return withGateway(cmd, &af, false, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, _ workflow.Actor) error {
				if err := gw.Store().AddOfficer(ctx, args[0], pass); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added legal officer %s\n", args[0])
				return nil
			})
		},
	}
	af.register(add, false)
	add.Flags().StringVar(&passFile, "password-file", "", "read the password from this file")
	list := &cobra.Command{
		Use:   "list",
		Short: "List legal officers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withGateway(cmd, &lf, false, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, _ workflow.Actor) error {
				names, err := gw.Store().Officers(ctx)
				if err != nil {
					return err
				}
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return nil
			})
		},
	}
	lf.register(list, false)
	cmd.AddCommand(add, list)
	return cmd
}
