package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/dkimsign"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newDomainCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Short: "Manage hosted domains: add, list, records, dkim"}
	var addCF, listCF configFlags
	var home string
	add := &cobra.Command{
		Use:   "add DOMAIN --region ID",
		Short: "Host a domain: accept its mail and allow accounts in it",
		Long: `Host a domain, and make its DKIM keys. --region names the region where its
accounts live unless 'account add --region' says otherwise (default: the
first configured region). 'sealpost domain records DOMAIN' then prints the
DNS records to publish.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withServer(cmd, &addCF, func(ctx context.Context, srv *server.Server) error {
				id := sealpost.RegionID(home)
				if id == "" {
					id = srv.RegionInfos()[0].ID
				}
				if err := srv.AddDomain(ctx, args[0], id); err != nil {
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
	cmd.AddCommand(add, list, newDomainRecordsCmd(), newDomainDKIMCmd())
	return cmd
}

func newDomainRecordsCmd() *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "records DOMAIN",
		Short: "Print the DNS records a hosted domain publishes, as zone-file lines",
		Long: `Print the DNS records to publish for a hosted domain, one per line in BIND
zone-file form (NAME TTL IN TYPE VALUE; comments start with ";"): MX, SPF,
one DKIM key record per key (and the keys a rotation replaced, until
'domain dkim retire'), DMARC, MTA-STS, TLS reporting, and the SRV records
mail clients configure themselves from.

It reads only the configuration and the public key files, so it runs
whether the server is running or not, without the deployment key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.load()
			if err != nil {
				return err
			}
			dkim, err := dkimsign.Records(server.DKIMDir(c), args[0])
			if errors.Is(errors.NotExist, err) {
				return fmt.Errorf("%s has no DKIM keys: is it hosted here? ('sealpost domain add')", args[0])
			}
			if err != nil {
				return err
			}
			lines, err := zoneRecords(c, args[0], dkim)
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintln(cmd.OutOrStdout(), l)
			}
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}

func newDomainDKIMCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dkim", Short: "Rotate and retire a domain's DKIM keys"}
	var rotateCF, retireCF configFlags
	rotate := &cobra.Command{
		Use:   "rotate DOMAIN",
		Short: "Make new DKIM keys the domain's signing keys",
		Long: `Make a new pair of DKIM keys (Ed25519 and RSA) the domain's signing keys, at
once: a running server signs with them from its next message. Publish the
new key records ('sealpost domain records DOMAIN') right away: until they
are published, signatures with the new keys do not verify. The replaced keys' records
stay listed until 'sealpost domain dkim retire', so mail they signed still
verifies; retire them a week after the rotation.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDKIM(&rotateCF, func(keys *dkimsign.Keys) error {
				sels, err := keys.Rotate(args[0])
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%s now signs with %s; publish their records now ('sealpost domain records %s')\n",
						args[0], strings.Join(sels, " and "), args[0])
				}
				return err
			})
		},
	}
	retire := &cobra.Command{
		Use:   "retire DOMAIN",
		Short: "Stop listing the DKIM keys a rotation replaced",
		Long: `Drop the public keys a rotation replaced from the domain's records. Run it
a week after 'sealpost domain dkim rotate' (mail they signed is then no
longer in transit), then remove their records from DNS.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDKIM(&retireCF, func(keys *dkimsign.Keys) error {
				gone, err := keys.Retire(args[0])
				if err == nil && len(gone) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%s has no replaced DKIM keys\n", args[0])
				}
				for _, sel := range gone {
					fmt.Fprintf(cmd.OutOrStdout(), "retired %s: remove %s._domainkey.%s from DNS\n", sel, sel, args[0])
				}
				return err
			})
		},
	}
	rotateCF.register(rotate)
	retireCF.register(retire)
	cmd.AddCommand(rotate, retire)
	return cmd
}

// withDKIM runs f on the DKIM keys of the configuration the flags name,
// opened without the stores (server.OpenDKIM), so that it works while the
// server runs.
func withDKIM(cf *configFlags, f func(*dkimsign.Keys) error) error {
	c, err := cf.load()
	if err != nil {
		return err
	}
	keys, err := server.OpenDKIM(c)
	if err != nil {
		return err
	}
	return f(keys)
}
