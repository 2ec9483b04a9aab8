package main

import (
	"fmt"
	"path/filepath"

	"github.com/sealpost/sealpost/cluster"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "The deployment's internal mutual TLS: init"}
	var dir string
	var regions, hosts []string
	initCmd := &cobra.Command{
		Use:   "init --dir DIR --region ID... [--host NAME|IP]...",
		Short: "Make the deployment CA and certificates for the front door and each regional node",
		Long: `Create a certificate authority for the deployment's internal links in DIR
(ca.crt, ca.key), and issue certificates for the front door (frontdoor.crt,
frontdoor.key) and for each region's node (region-ID.crt, region-ID.key).
Copy ca.crt and a node's own pair to that node and name them in its
[cluster] section. Keep ca.key offline. --host adds a name or IP address by
which nodes are dialled to every certificate (default 127.0.0.1, localhost).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || len(regions) == 0 {
				return fmt.Errorf("--dir and at least one --region are required")
			}
			if err := cluster.NewCA(dir); err != nil {
				return err
			}
			names := []string{server.FrontDoorName}
			for _, r := range regions {
				names = append(names, server.NodeName(r))
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "CA:", filepath.Join(dir, cluster.CACertFile))
			for _, n := range names {
				cert, key, err := cluster.IssueNode(dir, n, hosts...)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%-12s %s %s\n", n, cert, key)
			}
			return nil
		},
	}
	initCmd.Flags().StringVar(&dir, "dir", "", "folder for the CA and certificates (created)")
	initCmd.Flags().StringSliceVar(&regions, "region", nil, "a region id (repeatable)")
	initCmd.Flags().StringSliceVar(&hosts, "host", []string{"127.0.0.1", "localhost"}, "name or IP the nodes are dialled by")
	cmd.AddCommand(initCmd)
	return cmd
}
