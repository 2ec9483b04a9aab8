package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/progress"
	"github.com/sealpost/sealpost/tlog"
	"github.com/sealpost/sealpost/transparency"
	"github.com/spf13/cobra"
)

func newLogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Check the transparency log: verify it, find your entries, check proofs",
		Long: `The transparency log records every step of every lawful demand and every
access to a mailbox by anyone but its owner, in an append-only Merkle tree
(RFC 6962) published per C2SP tlog-tiles at /log/ of the web app. These
commands check it the way any outside monitor can: from the published
checkpoint, tiles and entries alone.

Read a running server's log with --url https://host (its web app), or a
stopped server's own folder with --data/--config.`,
	}
	cmd.AddCommand(newLogVerifyCmd(), newLogProveCmd(), newLogMineCmd(), newLogProofCmd(), newLogCheckProofCmd(), newLogKeyCmd())
	return cmd
}

// logFlags choose a log: a server's web app, or a stopped server's folder.
type logFlags struct {
	cf  configFlags
	url string
	key string
}

func (f *logFlags) register(cmd *cobra.Command) {
	f.cf.register(cmd)
	cmd.Flags().StringVar(&f.url, "url", "", "the server's web app, e.g. https://mail.example (its log is under /log/)")
	cmd.Flags().StringVar(&f.key, "key", "", "the log's verifier key, or a file holding it (pin it: without it, the key the log serves is used)")
}

// keyArg reads a --key flag: a verifier key, or a file holding one.
func keyArg(k string) string {
	if b, err := os.ReadFile(k); err == nil {
		k = string(b)
	}
	return strings.TrimSpace(k)
}

// logAccess is an opened log: how to fetch it and the key that checks it.
type logAccess struct {
	fetch tlog.Fetcher
	key   string
	local *tlog.Log // with --data/--config
	close func()
}

func (f *logFlags) open(cmd *cobra.Command) (*logAccess, error) {
	a := &logAccess{close: func() {}}
	if f.url != "" {
		if f.cf.path != "" || f.cf.data != "" {
			return nil, fmt.Errorf("give --url or --data/--config, not both")
		}
		a.fetch = tlog.HTTPFetcher(strings.TrimRight(f.url, "/")+"/log", &http.Client{Timeout: time.Minute})
	} else {
		cfg, err := f.cf.load()
		if err != nil {
			return nil, fmt.Errorf("%w (or --url of a running server)", err)
		}
		skeyText, err := os.ReadFile(filepath.Join(cfg.DataDir, "keys", "log.key"))
		if err != nil {
			return nil, fmt.Errorf("no transparency log key in %s: has the server run with its web app? (%v)", cfg.DataDir, err)
		}
		skey := strings.TrimSpace(string(skeyText))
		lg, err := tlog.Open(filepath.Join(cfg.DataDir, "log", "tree"), skey, tlog.Options{})
		if err != nil {
			if errors.Is(errors.Unavailable, err) {
				return nil, fmt.Errorf("%w: the server has its log open; use --url", err)
			}
			return nil, err
		}
		a.local, a.fetch, a.close = lg, tlog.HandlerFetcher(lg.Handler()), func() { lg.Close() }
		if a.key, err = tlog.VerifierKey(skey); err != nil {
			lg.Close()
			return nil, err
		}
	}
	if f.key != "" {
		a.key = keyArg(f.key)
	} else if a.key == "" {
		b, err := a.fetch(cmd.Context(), tlog.PathKey)
		if err != nil {
			return nil, fmt.Errorf("fetching the log's key: %w", err)
		}
		a.key = strings.TrimSpace(string(b))
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: trusting the key the log serves (%s); pin it with --key\n", a.key)
	}
	return a, nil
}

func newLogVerifyCmd() *cobra.Command {
	var f logFlags
	var trusted string
	var save bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Audit the log: every signature, entry and tile, and consistency with a trusted checkpoint",
		Long: `Verify fetches the latest checkpoint, checks its signature, fetches every
entry and tile it commits to, rehashes them all, and checks that the tree
they make is the one the checkpoint signs. With --trusted FILE (a checkpoint
from an earlier run, or from anyone you trust) it also checks that the
latest tree extends that one: nothing was rewritten, dropped, reordered or
truncated, and the log did not fork. --save writes the latest checkpoint
to that file after a successful run, for next time.

It exits non-zero, naming the checkpoint, tile, bundle or entry at fault,
if anything fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer a.close()
			var old []byte
			if trusted != "" {
				old, err = os.ReadFile(trusted)
				if err != nil && !(save && os.IsNotExist(err)) {
					return err
				}
				if len(old) == 0 {
					old = nil
				}
			}
			// The checkpoint's size, if it can be read, is the meter's total
			// (VerifyEach fetches and checks it again).
			var total int64
			if cp, err := a.fetch(cmd.Context(), "checkpoint"); err == nil {
				size, _ := checkpointSummary(cp)
				total, _ = strconv.ParseInt(size, 10, 64)
			}
			meter := progress.New(cmd.ErrOrStderr(), "verifying log entries", total)
			latest, err := tlog.VerifyEach(cmd.Context(), a.fetch, a.key, old, func(_ uint64, e []byte) error {
				meter.Add(1, int64(len(e)))
				return nil
			})
			meter.Finish()
			if err != nil {
				return fmt.Errorf("log verification FAILED: %w", err)
			}
			size, root := checkpointSummary(latest)
			fmt.Fprintf(cmd.OutOrStdout(), "log verified: %s entries, root %s", size, root)
			if old != nil {
				osize, _ := checkpointSummary(old)
				fmt.Fprintf(cmd.OutOrStdout(), ", consistent with the trusted checkpoint of %s entries", osize)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			if save && trusted != "" {
				if err := os.WriteFile(trusted, latest, 0o644); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&trusted, "trusted", "", "a checkpoint you trust (file); the log must extend it")
	cmd.Flags().BoolVar(&save, "save", false, "write the verified latest checkpoint to the --trusted file")
	return cmd
}

func newLogProveCmd() *cobra.Command {
	var f logFlags
	var index int64
	var trusted string
	var save bool
	cmd := &cobra.Command{
		Use:   "prove (--index N | --trusted FILE)",
		Short: "Ask the log for one proof and check it: an entry's inclusion, or consistency with a checkpoint you hold",
		Long: `Prove asks the log for a proof and checks it against the latest signed
checkpoint, without reading the whole log (verify does that):

  --index N        the RFC 6962 inclusion proof of entry N: it is in the tree
  --trusted FILE   the consistency proof from the checkpoint in FILE to the
                   latest: the log only grew (--save then keeps the latest)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (index >= 0) == (trusted != "") {
				return fmt.Errorf("give --index N or --trusted FILE")
			}
			a, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer a.close()
			if index >= 0 {
				p, err := tlog.ProveInclusion(cmd.Context(), a.fetch, a.key, uint64(index))
				if err != nil {
					return fmt.Errorf("inclusion proof FAILED: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "entry %d is in the log of %d entries (inclusion proof verified)\n%s\n", p.Index, p.Checkpoint.Size, p.Entry)
				return nil
			}
			old, err := os.ReadFile(trusted)
			if err != nil {
				return err
			}
			latest, err := tlog.ProveConsistency(cmd.Context(), a.fetch, a.key, old)
			if err != nil {
				return fmt.Errorf("consistency proof FAILED: %w", err)
			}
			osize, _ := checkpointSummary(old)
			size, root := checkpointSummary(latest)
			fmt.Fprintf(cmd.OutOrStdout(), "the log of %s entries (root %s) extends the trusted one of %s entries (consistency proof verified)\n", size, root, osize)
			if save {
				return os.WriteFile(trusted, latest, 0o644)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().Int64Var(&index, "index", -1, "prove this entry's inclusion")
	cmd.Flags().StringVar(&trusted, "trusted", "", "prove the log extends the checkpoint in this file")
	cmd.Flags().BoolVar(&save, "save", false, "with --trusted: keep the latest checkpoint in the file")
	return cmd
}

// checkpointSummary returns a checkpoint's size and root hash (base64),
// read without checking the signature (the caller has).
func checkpointSummary(cp []byte) (string, string) {
	lines := strings.SplitN(string(cp), "\n", 4)
	if len(lines) < 3 {
		return "?", "?"
	}
	return lines[1], lines[2]
}

func newLogMineCmd() *cobra.Command {
	var f logFlags
	var secret string
	cmd := &cobra.Command{
		Use:   "mine --secret HEX",
		Short: "Find your own entries in the log with your account secret",
		Long: `Mine audits the whole log (as verify does) and lists every entry about you:
those whose blinded subject your account secret (shown on your privacy
page) recognises, with the entry's own salt or the salt a later entry
revealed when a nondisclosure order lapsed, and withheld entries once a
later entry opened them. Entries still covered by such an order cannot be
recognised by anyone until it lapses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := hex.DecodeString(strings.TrimSpace(secret))
			if err != nil || len(key) == 0 {
				return fmt.Errorf("--secret must be your account secret in hex (from your privacy page)")
			}
			a, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer a.close()
			var entries []transparency.Entry
			revealed := map[uint64]string{}
			opened := map[uint64]transparency.Opening{}
			_, err = tlog.VerifyEach(cmd.Context(), a.fetch, a.key, nil, func(i uint64, data []byte) error {
				e, err := transparency.Parse(data)
				if err != nil {
					return fmt.Errorf("entry %d: %w", i, err)
				}
				for _, r := range e.Reveals {
					revealed[r.Index] = r.Salt
				}
				for _, o := range e.Opens {
					opened[o.Index] = o
				}
				entries = append(entries, e)
				return nil
			})
			if err != nil {
				return fmt.Errorf("log verification FAILED: %w", err)
			}
			n := 0
			for i, e := range entries {
				if transparency.Mine(e, key, "") || transparency.Mine(e, key, revealed[uint64(i)]) {
					fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\n", i, e)
					n++
				}
				// A withheld entry, opened later: mine if what it stood for is.
				if o, ok := opened[uint64(i)]; ok && o.Check(e) {
					if full, err := transparency.Parse([]byte(o.Entry)); err == nil && transparency.Mine(full, key, o.Salt) {
						fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s (withheld, opened)\n", i, full)
						n++
					}
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d of %d entries are yours (the log verified)\n", n, len(entries))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&secret, "secret", "", "your account secret, hex (from your privacy page)")
	return cmd
}

func newLogProofCmd() *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "proof INDEX",
		Short: "Write the self-contained proof (C2SP tlog-proof) of one entry (server stopped)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			i, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("INDEX must be an entry number: %v", err)
			}
			f := logFlags{cf: cf}
			a, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer a.close()
			b, err := a.local.ProofBundle(context.Background(), i)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cf.register(cmd)
	return cmd
}

func newLogCheckProofCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "check-proof FILE --key KEY",
		Short: "Check a downloaded proof of one entry, offline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return fmt.Errorf("--key (the log's verifier key, or a file holding it) is required")
			}
			var b []byte
			var err error
			if args[0] == "-" {
				b, err = io.ReadAll(cmd.InOrStdin())
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			p, err := tlog.VerifyProofBundle(b, keyArg(key))
			if err != nil {
				return fmt.Errorf("proof FAILED: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "proof verified: entry %d is in the log of %d entries signed by %s\n%s\n", p.Index, p.Checkpoint.Size, p.Checkpoint.Origin, p.Entry)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the log's verifier key, or a file holding it")
	return cmd
}

func newLogKeyCmd() *cobra.Command {
	var f logFlags
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Print the log's verifier key (note text form)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer a.close()
			fmt.Fprintln(cmd.OutOrStdout(), a.key)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
