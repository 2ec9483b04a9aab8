package main

import (
	"fmt"

	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	var cf configFlags
	var regions []string
	var frontDoor bool
	var pprofAddr string
	var dnsServers []string
	cmd := &cobra.Command{
		Use:   "serve --config sealpost.toml [--region ID]... | --front-door",
		Short: "Run the server from a configuration file",
		Long: `Run Sealpost as configured in a TOML file (see sealpost.example.toml for
every setting with its documentation). Hosted domains and accounts are
managed with 'sealpost domain' and 'sealpost account'.

By default one process serves every configured region, each on its own
storage. With --region ID (repeatable) it opens only those regions'
storage, and listens on each one's internal address for the front door.
With --front-door it opens no region's storage: it terminates IMAP and
submission, authenticates at the account's home region and proxies the
session there, and runs the MX, handing each message sealed to its
recipient's home region.

--dns HOST:PORT (repeatable) overrides [dns] servers: the resolvers the MX
checks SPF, DKIM and DMARC with.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.load()
			if err != nil {
				return err
			}
			if len(dnsServers) > 0 {
				c.DNS.Servers = dnsServers
			}
			log := newLogger(c, cmd.ErrOrStderr())
			applyMemoryLimit(c, log)
			if err := startPprof(pprofAddr); err != nil {
				return err
			}
			if frontDoor && len(regions) > 0 {
				return fmt.Errorf("--front-door serves no region: drop --region")
			}
			srv, err := server.Open(c, log, server.Options{Regions: regions, FrontDoor: frontDoor})
			if err != nil {
				return err
			}
			defer srv.Close()
			if err := srv.Start(); err != nil {
				return err
			}
			for _, l := range srv.Listeners() {
				log.Info("listening", "listener", l[0], "addr", l[1])
				fmt.Fprintf(cmd.OutOrStdout(), "  %-12s %s\n", l[0], l[1])
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			return waitForSignal()
		},
	}
	cf.register(cmd)
	cmd.Flags().StringSliceVar(&regions, "region", nil, "serve only this region (repeatable)")
	cmd.Flags().BoolVar(&frontDoor, "front-door", false, "run as the front door of separate regional nodes")
	cmd.Flags().StringVar(&pprofAddr, "pprof", "", "serve Go's profiler on this loopback address (for benchmarks)")
	cmd.Flags().StringSliceVar(&dnsServers, "dns", nil, "DNS server HOST:PORT, overriding [dns] servers (repeatable)")
	return cmd
}
