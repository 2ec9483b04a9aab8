package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/legal/workflow"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "The jurisdiction policy: explain a demand, show the policy"}
	var f legalFlags
	var asJSON bool
	explain := &cobra.Command{
		Use:   "explain DEMAND.json|DEMAND.yaml [--json]",
		Short: "Print what the policy decides for each target of a demand, and why (files nothing)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withGateway(cmd, &f, false, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, _ workflow.Actor) error {
				data, err := os.ReadFile(args[0])
				if err != nil {
					return err
				}
				d, err := gw.Parse(data)
				if err != nil {
					return err
				}
				decisions, err := gw.Explain(ctx, d)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(struct {
						Decisions []legal.Decision `json:"decisions"`
					}{decisions})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "policy %s\n", gw.Policy().Version())
				printDecisions(cmd.OutOrStdout(), decisions)
				return nil
			})
		},
	}
	f.register(explain, false)
	explain.Flags().BoolVar(&asJSON, "json", false, "print {\"decisions\":[...]} as JSON")
	var sf legalFlags
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the policy in force (the shipped default, or legal.policy's file)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withServer(cmd, &sf.configFlags, func(ctx context.Context, srv *server.Server) error {
				if p := srv.Config().Legal.Policy; p != "" {
					b, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					_, err = cmd.OutOrStdout().Write(b)
					return err
				}
				_, err := cmd.OutOrStdout().Write(policyDefault())
				return err
			})
		},
	}
	sf.configFlags.register(show)
	cmd.AddCommand(explain, show)
	return cmd
}
