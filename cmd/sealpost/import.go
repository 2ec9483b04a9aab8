package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/importer"
	"github.com/sealpost/sealpost/internal/progress"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

// importFlags are what every import subcommand takes.
type importFlags struct {
	cf      configFlags
	to      string
	allMail bool
}

func (f *importFlags) register(cmd *cobra.Command) {
	f.cf.register(cmd)
	cmd.Flags().StringVar(&f.to, "to", "", "the account to import into (required)")
	cmd.MarkFlagRequired("to")
}

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Bring mail in from another provider: imap, mbox, maildir",
		Long: `Copy mail from an IMAP server, an mbox file or a Maildir into an account,
folder by folder, with flags, keywords and dates. Each message is sealed to
the account's public key as it arrives: no password of the account is
needed, and whoever runs the import cannot read the result.

An import can be interrupted at any point and run again: it goes on where
it stopped, copying nothing twice and skipping nothing. Run again later, it
copies only what is new. It works with the server stopped and while it
runs (through its control socket).`,
	}
	cmd.AddCommand(newImportIMAPCmd(), newImportMboxCmd(), newImportMaildirCmd())
	return cmd
}

func newImportIMAPCmd() *cobra.Command {
	var f importFlags
	var from, user, passFile, tokenFile, caFile string
	var useTLS, startTLS, plain bool
	cmd := &cobra.Command{
		Use:   "imap --from HOST:PORT (--tls|--starttls|--plain) --user U (--password-file F | --oauth2-token-file F) --to ADDRESS",
		Short: "Copy every folder of an IMAP account",
		Long: `Copy every folder of an IMAP account. Special-use folders (Sent, Drafts,
Trash, Junk, Archive: by their RFC 6154 attribute, else by the names
providers give them, like "[Gmail]/Sent Mail", "Sent Items", "Deleted
Items", "Junk E-mail") go to the account's own. Gmail's All Mail, Starred
and Important are views of mail held in other folders and are skipped
(--all-mail copies them too, duplicating their messages).

--tls connects with TLS (port 993), --starttls upgrades a plain connection
(port 143), --plain uses no TLS (a server on loopback only). The password
(AUTHENTICATE PLAIN or LOGIN), or an OAuth2 access token (OAUTHBEARER or
XOAUTH2), is read from a file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := importer.IMAPOptions{Addr: from, User: user}
			switch {
			case useTLS && !startTLS && !plain:
				opts.Security = importer.SecurityTLS
			case startTLS && !useTLS && !plain:
				opts.Security = importer.SecurityStartTLS
			case plain && !useTLS && !startTLS:
				opts.Security = importer.SecurityPlain
			default:
				return errors.E(errors.Invalid, errors.Str("give one of --tls, --starttls, --plain"))
			}
			if plain {
				if host, _, err := net.SplitHostPort(from); err == nil {
					if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
						return errors.E(errors.Invalid, errors.Str("--plain sends the password in the clear: only to a server on loopback"))
					}
				}
			}
			var err error
			switch {
			case (passFile == "") == (tokenFile == ""):
				return errors.E(errors.Invalid, errors.Str("give --password-file or --oauth2-token-file"))
			case passFile != "":
				opts.Password, err = readSecret(passFile)
			default:
				opts.OAuth2Token, err = readSecret(tokenFile)
			}
			if err != nil {
				return err
			}
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return err
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return errors.E(errors.Invalid, errors.Errorf("no certificate in %s", caFile))
				}
				host, _, _ := net.SplitHostPort(from)
				opts.TLSConfig = &tls.Config{RootCAs: pool, ServerName: host}
			}
			src, err := importer.DialIMAP(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer src.Close()
			return runImport(cmd, &f, src)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&from, "from", "", "the IMAP server, HOST:PORT")
	cmd.Flags().BoolVar(&useTLS, "tls", false, "TLS from the start (port 993)")
	cmd.Flags().BoolVar(&startTLS, "starttls", false, "STARTTLS (port 143)")
	cmd.Flags().BoolVar(&plain, "plain", false, "no TLS (loopback only)")
	cmd.Flags().StringVar(&user, "user", "", "the user name at the server")
	cmd.Flags().StringVar(&passFile, "password-file", "", "read the password from this file")
	cmd.Flags().StringVar(&tokenFile, "oauth2-token-file", "", "read an OAuth2 access token from this file")
	cmd.Flags().StringVar(&caFile, "ca-file", "", "trust the certificates in this PEM file (a private server's)")
	cmd.Flags().BoolVar(&f.allMail, "all-mail", false, "copy Gmail's All Mail, Starred and Important too (duplicates)")
	cmd.MarkFlagRequired("from")
	cmd.MarkFlagRequired("user")
	return cmd
}

func newImportMboxCmd() *cobra.Command {
	var f importFlags
	var mailbox string
	var mboxo bool
	cmd := &cobra.Command{
		Use:   "mbox FILE --to ADDRESS [--mailbox NAME]",
		Short: "Copy the messages of an mbox file into one mailbox",
		Long: `Copy the messages of an mbox file (mboxrd, or mboxo with --mboxo) into the
mailbox --mailbox (INBOX by default; "Sent" and the other special names go
to the account's special-use mailbox), with the flags of their Status:,
X-Status: and X-Keywords: fields and the date of their "From " line.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := importer.MboxRD
			if mboxo {
				format = importer.MboxO
			}
			src, err := importer.OpenMbox(args[0], mailbox, format)
			if err != nil {
				return err
			}
			return runImport(cmd, &f, src)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&mailbox, "mailbox", "INBOX", "the mailbox to file into")
	cmd.Flags().BoolVar(&mboxo, "mboxo", false, `the file quotes only "From " lines (mboxo), not ">From " too (mboxrd)`)
	return cmd
}

func newImportMaildirCmd() *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "maildir DIR --to ADDRESS",
		Short: "Copy a Maildir++ tree (Dovecot's, Postfix's) with its folders",
		Long: `Copy a Maildir++ tree as Dovecot and Postfix keep it: DIR's cur/ and new/
are INBOX, each .Name subfolder a folder (.A.B is A/B); flags from the
file names' ":2," suffix, keywords from Dovecot's dovecot-keywords, dates
from the files' modification times.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := importer.OpenMaildir(args[0])
			if err != nil {
				return err
			}
			return runImport(cmd, &f, src)
		},
	}
	f.register(cmd)
	return cmd
}

// readSecret reads a password or token file's first line.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// runImport copies src into the account: through the running server's
// control socket when one runs on the data folder, else opening the
// storage here.
func runImport(cmd *cobra.Command, f *importFlags, src importer.Source) error {
	c, err := f.cf.load()
	if err != nil {
		return err
	}
	meter := progress.New(cmd.ErrOrStderr(), "import "+src.Kind(), 0)
	opts := importer.Options{AllMail: f.allMail, Progress: meter}
	var sum importer.Summary
	if ctl, derr := server.DialCtl(c.DataDir); derr == nil {
		sink, err := ctl.Import(f.to, src.ID())
		if err != nil {
			return err
		}
		defer sink.Close()
		sum, err = importer.Run(cmd.Context(), src, sink, opts)
		meter.Finish()
		printSummary(cmd, sum, "the running server")
		return err
	}
	err = withServer(cmd, &f.cf, func(ctx context.Context, srv *server.Server) error {
		sink, err := srv.OpenImport(ctx, f.to, src.ID())
		if err != nil {
			return err
		}
		defer sink.Close()
		sum, err = importer.Run(ctx, src, sink, opts)
		meter.Finish()
		printSummary(cmd, sum, "the data folder")
		return err
	})
	return err
}

func printSummary(cmd *cobra.Command, sum importer.Summary, via string) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "imported %d messages (%s) from %d folders into %s in %s: %.0f messages/s\n",
		sum.Messages, progress.Bytes(sum.Bytes), sum.Folders, via, sum.Elapsed.Round(time.Millisecond), sum.Rate())
	reasons := make([]string, 0, len(sum.Skipped))
	for r := range sum.Skipped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "skipped %d: %s\n", sum.Skipped[r], r)
	}
	if len(sum.Reset) > 0 {
		fmt.Fprintf(w, "copied again: %d folders whose UIDVALIDITY changed at the source since the last import\n", len(sum.Reset))
	}
}
