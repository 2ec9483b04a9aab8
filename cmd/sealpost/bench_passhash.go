package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/pwhash"
)

func newBenchPasshashCmd() *cobra.Command {
	var p pwhash.Params
	cmd := &cobra.Command{
		Use:   "passhash [--time T --memory-kib M --threads P] < PASSWORD",
		Short: "Print the Argon2id PHC string of the password on standard input",
		Long: `Hash the first line of standard input with Argon2id (RFC 9106) at the
given cost and print it in PHC form, $argon2id$v=19$m=…,t=…,p=…$salt$hash,
which Dovecot reads as {ARGON2ID}: for a baseline whose passwords cost what
Sealpost's do (scripts/bench-logins.sh). Dovecot's own doveadm pw offers
only libsodium's fixed memory costs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if line = strings.TrimRight(line, "\r\n"); line == "" {
				return fmt.Errorf("no password on standard input (%v)", err)
			}
			phc, err := pwhash.Hash(p, line)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), phc)
			return nil
		},
	}
	d := pwhash.DefaultParams
	cmd.Flags().Uint32Var(&p.Time, "time", d.Time, "passes (t)")
	cmd.Flags().Uint32Var(&p.MemoryKiB, "memory-kib", d.MemoryKiB, "memory in KiB (m)")
	cmd.Flags().Uint8Var(&p.Threads, "threads", 1, "lanes (p); libsodium, and so Dovecot, verifies only 1")
	return cmd
}
