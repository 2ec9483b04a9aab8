package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/dkimsign"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newQuickstartCmd() *cobra.Command {
	var dir, data, hostname, account, passFile, country, region, cert, key, acmeEmail string
	var selfSigned bool
	cmd := &cobra.Command{
		Use:   "quickstart DOMAIN --country CC",
		Short: "Set up a fresh machine: config, domain, DKIM keys, first account; print the DNS records",
		Long: `Set up Sealpost on a fresh machine for DOMAIN, in one step:

  - write a configuration (--config-dir, default /etc/sealpost, as
    sealpost.toml; data in --data, default /var/lib/sealpost): one region
    on this machine in --country, every listener on its standard port
    (25, 587, 465, 143, 993, 4190; the web app on 443), and certificates
    from Let's Encrypt (ACME: HTTP-01 on port 80, renewed in the
    background), or --cert and --key as files, or --self-signed for a
    trial behind no public name;
  - host DOMAIN and make its DKIM keys (Ed25519 and RSA);
  - create the first account, postmaster@DOMAIN or --account, with a
    password generated and printed once (or --password-file), and print
    its recovery code once;
  - print the DNS records to publish, what to check, and the command that
    starts the server.

It refuses to overwrite an existing configuration.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			domain, err := dkimsign.DomainName(args[0])
			if err != nil {
				return err
			}
			if country == "" {
				return fmt.Errorf("--country CC is required: the ISO 3166-1 code of where this machine, and so its mail, is (e.g. IE)")
			}
			country = strings.ToUpper(country)
			if region == "" {
				region = strings.ToLower(country)
			}
			if hostname == "" {
				hostname = "mail." + domain
			}
			if account == "" {
				account = "postmaster@" + domain
			}
			var abs []string
			for _, p := range []string{dir, data, cert, key} {
				a := p
				if p != "" {
					if a, err = filepath.Abs(p); err != nil {
						return err
					}
				}
				abs = append(abs, a)
			}
			dir, data, cert, key = abs[0], abs[1], abs[2], abs[3]
			if (cert == "") != (key == "") {
				return fmt.Errorf("give --cert and --key together")
			}
			path := filepath.Join(dir, "sealpost.toml")
			if _, err := os.Lstat(path); err == nil {
				return fmt.Errorf("%s exists: quickstart sets up a fresh machine only (use 'sealpost domain add' and 'sealpost account add' on a configured one)", path)
			}
			pass, generated := "", false
			if passFile != "" {
				if pass, err = readPassword(cmd, passFile, ""); err != nil {
					return err
				}
			} else {
				pass, generated = rand.Text(), true
			}
			if selfSigned && cert != "" {
				return fmt.Errorf("give --cert and --key, or --self-signed, not both")
			}
			if acmeEmail == "" {
				acmeEmail = account
			}
			fresh := config.Fresh{Hostname: hostname, DataDir: data, Region: region, Country: country, Cert: cert, Key: key,
				ACMEEmail: acmeEmail, SelfSigned: selfSigned}
			if c := fresh.Config(); c.Validate() != nil {
				return c.Validate()
			}
			text, err := fresh.TOML()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
			if err != nil {
				return err
			}
			if _, err := f.Write(text); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			c, err := config.Load(path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "wrote %s (data in %s)\n", path, data)
			srv, err := server.Open(c, newLogger(c, cmd.ErrOrStderr()), server.Options{})
			if err != nil {
				return err
			}
			defer srv.Close()
			ctx := cmd.Context()
			if err := srv.AddDomain(ctx, domain, sealpost.RegionID(region)); err != nil {
				return err
			}
			fmt.Fprintf(out, "hosted %s, with its DKIM keys\n", domain)
			_, code, err := srv.Router.CreateAccount(ctx, account, pass, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "created %s\n", account)
			if generated {
				fmt.Fprintf(out, "  password (shown once): %s\n", pass)
			}
			fmt.Fprintf(out, "  recovery code (shown once, keep it offline): %s\n", code)
			dkim, err := srv.DKIM.Records(domain)
			if err != nil {
				return err
			}
			lines, err := zoneRecords(c, domain, dkim)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nPublish these DNS records (also 'sealpost domain records %s --config %s'):\n\n", domain, path)
			for _, l := range lines {
				fmt.Fprintln(out, l)
			}
			fmt.Fprintf(out, "\nThen:\n")
			fmt.Fprintf(out, "  - give %s A/AAAA records, and ask the provider of each address to set its reverse DNS (PTR) to %s\n", hostname, hostname)
			switch {
			case selfSigned:
				fmt.Fprintf(out, "  - the certificate is self-signed: senders' MTA-STS checks and mail clients refuse it; put a certificate valid for %s, mta-sts.%s, autoconfig.%s and autodiscover.%s in [tls] cert and key, or use [tls.acme]\n", hostname, domain, domain, domain)
			case cert == "":
				fmt.Fprintf(out, "  - certificates come from Let's Encrypt once the server starts and %s (and mta-sts.%s, autoconfig.%s, autodiscover.%s) point here: it validates them on port 80 or 443\n", hostname, domain, domain, domain)
			}
			fmt.Fprintf(out, "  - open ports 25, 465, 587, 143, 993, 4190, 443 and 80\n")
			fmt.Fprintf(out, "  - check what is published: sealpost check %s --config %s\n", domain, path)
			fmt.Fprintf(out, "\nStart the server:\n\n  sealpost serve --config %s\n", path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "config-dir", "/etc/sealpost", "folder the configuration (sealpost.toml) is written to")
	f.StringVar(&data, "data", "/var/lib/sealpost", "data folder")
	f.StringVar(&hostname, "hostname", "", "the mail host's name, the MX target (default mail.DOMAIN)")
	f.StringVar(&account, "account", "", "the first account (default postmaster@DOMAIN)")
	f.StringVar(&passFile, "password-file", "", "read the first account's password from this file (default: generate one)")
	f.StringVar(&country, "country", "", "ISO 3166-1 code of where this machine is (required)")
	f.StringVar(&region, "region", "", "the region's id (default: the country code, lower-case)")
	f.StringVar(&cert, "cert", "", "certificate (PEM, full chain) valid for the hostname (default: from Let's Encrypt)")
	f.StringVar(&key, "key", "", "the certificate's private key (PEM)")
	f.BoolVar(&selfSigned, "self-signed", false, "a self-signed certificate instead of Let's Encrypt (a trial behind no public name)")
	f.StringVar(&acmeEmail, "acme-email", "", "the contact Let's Encrypt registers (default: the first account)")
	return cmd
}
