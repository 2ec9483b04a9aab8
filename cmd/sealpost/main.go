// Command sealpost is the Sealpost mail server: one binary for the server,
// its demo, its administration and its benchmark tool. Each subcommand lives
// in its own file beside this one.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:   "sealpost",
		Short: "Sealpost: mail sealed to its owner's key, served over SMTP and IMAP",
		Long: `Sealpost is a mail server that seals every message to its owner's key
before it touches disk, and serves it to ordinary mail clients over IMAP.

Start with 'sealpost demo --data DIR' to run a server on loopback with demo
accounts, or 'sealpost serve --config sealpost.toml' for a real deployment.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDemoCmd(), newServeCmd(), newAccountCmd(), newDomainCmd(), newBenchCmd(), newExportCmd(), newResidencyCmd(), newClusterCmd(), newDemandCmd(), newPolicyCmd(), newOfficerCmd(), newLogCmd(), newReportCmd(), newQueueCmd())
	root.AddCommand(newQuickstartCmd(), newCheckCmd())
	root.AddCommand(newBackupCmd(), newRestoreCmd()) // backup.go, restore.go
	root.AddCommand(newImportCmd())                  // import.go
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sealpost:", err)
		os.Exit(1)
	}
}
