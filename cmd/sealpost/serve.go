package main

import (
	"fmt"

	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "serve --config sealpost.toml",
		Short: "Run the server from a configuration file",
		Long: `Run Sealpost as configured in a TOML file (see sealpost.example.toml for
every setting with its documentation). Hosted domains and accounts are
managed with 'sealpost domain' and 'sealpost account'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.load()
			if err != nil {
				return err
			}
			log := newLogger(c, cmd.ErrOrStderr())
			srv, err := server.Open(c, log)
			if err != nil {
				return err
			}
			defer srv.Close()
			if err := srv.Start(); err != nil {
				return err
			}
			for _, l := range srv.Listeners() {
				log.Info("listening", "listener", l[0], "addr", l[1])
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			return waitForSignal()
		},
	}
	cf.register(cmd)
	return cmd
}
