package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/progress"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

const exportReadme = `This folder is a Sealpost export of %s.

  keys/     the account's OpenPGP keys; key-N.private.asc is protected by
            the passphrase you gave to 'sealpost export'
  mail/     one folder per mailbox, one OpenPGP-encrypted message per file
            (NNN.eml.gpg); own-key accounts get PGP/MIME files (NNN.eml)

To read your mail with GnuPG:
  gpg --import keys/*.asc
  gpg --decrypt mail/INBOX/1.eml.gpg > 1.eml
`

func newExportCmd() *cobra.Command {
	var cf configFlags
	var out, passFile string
	cmd := &cobra.Command{
		Use:   "export ADDRESS --out DIR",
		Short: "Export an account's mail and password-protected keys in standard OpenPGP form",
		Long: `Write an account's mail, still sealed, plus its keys protected by the
account's password, in forms standard tools (gpg) open. The password is read
from standard input or --password-file; it unlocks the keys and protects the
exported private keys. Nothing is written in the clear.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out DIR is required")
			}
			pass, err := readPassword(cmd, passFile, "Password: ")
			if err != nil {
				return err
			}
			return withServer(cmd, &cf, func(ctx context.Context, srv *server.Server) error {
				sess, err := srv.Router.Login(ctx, args[0], pass)
				if err != nil {
					return err
				}
				defer sess.Close()
				return export(ctx, sess, out, pass, cmd)
			})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&out, "out", "", "folder to write (created)")
	cmd.Flags().StringVar(&passFile, "password-file", "", "read the password from this file")
	return cmd
}

func export(ctx context.Context, sess *postbox.Session, out, pass string, cmd *cobra.Command) error {
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	keys, err := sess.ExportKeys(ctx, pass)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := writeExportFile(filepath.Join(out, "keys", fmt.Sprintf("key-%d.public.asc", k.ID)), k.PublicKey); err != nil {
			return err
		}
		if k.PrivateKey != nil {
			if err := writeExportFile(filepath.Join(out, "keys", fmt.Sprintf("key-%d.private.asc", k.ID)), k.PrivateKey); err != nil {
				return err
			}
		}
	}
	n := 0
	meter := progress.New(cmd.ErrOrStderr(), "exporting messages", 0)
	defer meter.Finish()
	err = sess.ExportMessages(ctx, func(mb sealpost.Mailbox, msg sealpost.Message, sealed []byte) error {
		meter.Add(1, int64(len(sealed)))
		name := fmt.Sprintf("%d.eml.gpg", msg.UID)
		if msg.Key == 0 {
			name = fmt.Sprintf("%d.eml", msg.UID)
		}
		n++
		return writeExportFile(filepath.Join(out, "mail", safeName(mb.Name), name), sealed)
	})
	if err != nil {
		return err
	}
	meter.Finish()
	if err := writeExportFile(filepath.Join(out, "README.txt"), fmt.Appendf(nil, exportReadme, sess.Account().Address)); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "exported %d messages and %d key(s) to %s\n", n, len(keys), out)
	return nil
}

func writeExportFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o600)
}

func safeName(name string) string {
	return strings.NewReplacer("/", "_", "\\", "_", "..", "_").Replace(name)
}
