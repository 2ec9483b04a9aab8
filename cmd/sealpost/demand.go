package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/disclose"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/legal/store"
	"github.com/sealpost/sealpost/legal/workflow"
	"github.com/sealpost/sealpost/server"
	"github.com/spf13/cobra"
)

func newDemandCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demand",
		Short: "The lawful-demand gateway: file, review, approve, disclose (docs/LEGAL.md)",
		Long: `Government demands for account data, from filing to disclosure. Every
command that acts on a demand needs a legal officer (--officer NAME, the
password on standard input or --password-file): nobody else may act. They
work on a stopped server's data folder (--data DIR or --config FILE).`,
	}
	cmd.AddCommand(newDemandFileCmd(), newDemandListCmd(), newDemandShowCmd(), newDemandTransitionCmd(),
		newDemandApproveCmd(), newDemandDiscloseCmd(), newDemandReleaseCmd(), newDemandNotifyCmd(),
		newDemandVerifyCmd(), newDemandKeyCmd())
	return cmd
}

func printDecisions(w io.Writer, decisions []legal.Decision) {
	for _, d := range decisions {
		fmt.Fprintf(w, "  %s: %s", d.Target, d.Decision)
		if d.Yields != "" {
			fmt.Fprintf(w, " (yields %s)", d.Yields)
		}
		if d.Route != "" {
			fmt.Fprintf(w, " — route: %s", d.Route)
		}
		fmt.Fprintln(w)
		for _, c := range d.Categories {
			fmt.Fprintf(w, "      %s: %s\n", c.Category, c.Decision)
		}
		for _, r := range d.Reasons {
			fmt.Fprintf(w, "      - %s\n", r)
		}
	}
}

func newDemandFileCmd() *cobra.Command {
	var f legalFlags
	var docs string
	cmd := &cobra.Command{
		Use:   "file DEMAND.json|DEMAND.yaml",
		Short: "File a demand: validate it, store it with its documents, decide it by policy",
		Long: `File a demand document (JSON or YAML; see docs/LEGAL.md for its fields).
Every field is validated and an invalid demand is refused with each field's
error, storing nothing; a demand with the same authority and reference as
one already filed is refused as a duplicate. The documents it lists are read
from --docs (default: the demand's folder and its documents/ subfolder) and
stored with their SHA-256. The policy decides each target; preservation
orders place legal holds; users are notified unless a nondisclosure order
is in force.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.api != "" {
				return f.withAPI(cmd, func(a *apiClient) error {
					out, err := a.fileViaAPI(args[0], docs)
					if err != nil {
						return err
					}
					var decisions []legal.Decision
					b, _ := json.Marshal(out["decisions"])
					json.Unmarshal(b, &decisions)
					fmt.Fprintf(cmd.OutOrStdout(), "filed %v\n", out["id"])
					printDecisions(cmd.OutOrStdout(), decisions)
					return nil
				})
			}
			return withGateway(cmd, &f, true, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, officer workflow.Actor) error {
				d, files, err := readDemand(gw, args[0], docs)
				if err != nil {
					return err
				}
				d, decisions, err := gw.File(ctx, officer, d, files)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "filed %s (%s, %s)\n", d.ID, d.Authority, d.Reference)
				printDecisions(cmd.OutOrStdout(), decisions)
				return nil
			})
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&docs, "docs", "", "folder holding the documents the demand lists")
	return cmd
}

func newDemandListCmd() *cobra.Command {
	var f legalFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List demands",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			print := func(sums []store.Summary) error {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tSTATE\tCOUNTRY\tINSTRUMENT\tTARGETS\tRECEIVED\tREFERENCE")
				for _, s := range sums {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.ID, s.State, s.Country, s.Instrument, s.Targets, s.Received, s.Reference)
				}
				return w.Flush()
			}
			if f.api != "" {
				return f.withAPI(cmd, func(a *apiClient) error {
					var sums []store.Summary
					if err := a.do("GET", "/api/v1/demands", nil, &sums); err != nil {
						return err
					}
					return print(sums)
				})
			}
			return withGateway(cmd, &f, true, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, _ workflow.Actor) error {
				sums, err := gw.Store().Demands(ctx)
				if err != nil {
					return err
				}
				return print(sums)
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func newDemandShowCmd() *cobra.Command {
	var f legalFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a demand: decisions, review, approvals, holds, notices",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.api != "" {
				return f.withAPI(cmd, func(a *apiClient) error {
					var rec json.RawMessage
					if err := a.do("GET", "/api/v1/demands/"+args[0], nil, &rec); err != nil {
						return err
					}
					var pretty bytes.Buffer
					json.Indent(&pretty, rec, "", "  ")
					pretty.WriteByte('\n')
					_, err := pretty.WriteTo(cmd.OutOrStdout())
					return err
				})
			}
			return withGateway(cmd, &f, true, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, _ workflow.Actor) error {
				rec, err := gw.Store().Demand(ctx, args[0])
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(rec)
				}
				d := rec.Demand
				fmt.Fprintf(out, "%s  %s\n%s (%s), %s, %s\n", d.ID, rec.State, d.Authority, d.Country, d.Instrument, d.Reference)
				fmt.Fprintln(out, "decisions:")
				printDecisions(out, rec.Decisions)
				if len(rec.Transitions) > 0 {
					fmt.Fprintln(out, "review:")
					for _, t := range rec.Transitions {
						fmt.Fprintf(out, "  %s  %s → %s by %s  %s\n", t.At.UTC().Format("2006-01-02 15:04"), t.From, t.To, t.Actor, t.Note)
					}
				}
				for _, a := range rec.Approvals {
					fmt.Fprintf(out, "approved by %s at %s\n", a.Officer, a.At.UTC().Format("2006-01-02 15:04"))
				}
				for _, h := range rec.Holds {
					state := "held"
					if h.Released != nil {
						state = "released"
					}
					fmt.Fprintf(out, "hold on %s: %s\n", h.Address, state)
				}
				for _, n := range rec.Notices {
					state := "due " + n.Due.UTC().Format("2006-01-02")
					if n.Sent != nil {
						state = "sent " + n.Sent.UTC().Format("2006-01-02 15:04")
					}
					fmt.Fprintf(out, "notice to %s: %s\n", n.Address, state)
				}
				return nil
			})
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newDemandTransitionCmd() *cobra.Command {
	var f legalFlags
	var note string
	cmd := &cobra.Command{
		Use:   "transition ID STATE",
		Short: "Move a demand in its review (in_review, rejected, challenged, approved, stayed, upheld, ...)",
		Long: `Move a demand to STATE. Only the review's allowed steps are accepted
(docs/LEGAL.md draws them); each is recorded with the officer, the time
and the note.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.api != "" {
				return f.withAPI(cmd, func(a *apiClient) error {
					var tr legal.Transition
					if err := a.do("POST", "/api/v1/demands/"+args[0]+"/transitions", map[string]string{"to": args[1], "note": note}, &tr); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s → %s\n", args[0], tr.From, tr.To)
					return nil
				})
			}
			return withGateway(cmd, &f, true, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, officer workflow.Actor) error {
				tr, err := gw.Transition(ctx, officer, args[0], legal.State(args[1]), note)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s → %s\n", args[0], tr.From, tr.To)
				return nil
			})
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&note, "note", "", "why")
	return cmd
}

func newDemandApproveCmd() *cobra.Command {
	var f legalFlags
	var note string
	cmd := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve disclosing what the policy found eligible (two different officers needed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.api != "" {
				return f.withAPI(cmd, func(a *apiClient) error {
					if err := a.do("POST", "/api/v1/demands/"+args[0]+"/approvals", map[string]string{"note": note}, nil); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s approved by %s\n", args[0], f.officer)
					return nil
				})
			}
			return withGateway(cmd, &f, true, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, officer workflow.Actor) error {
				if err := gw.Approve(ctx, officer, args[0], note); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s approved by %s\n", args[0], officer.Name)
				return nil
			})
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&note, "note", "", "why")
	return cmd
}

func newDemandDiscloseCmd() *cobra.Command {
	var f legalFlags
	var out string
	cmd := &cobra.Command{
		Use:   "disclose ID --out PACKAGE.tar",
		Short: "Build the signed disclosure package of an approved demand",
		Long: `Write the disclosure package: only the eligible categories of eligible
targets, approved by two different legal officers; subscriber and traffic
data as JSON and CSV; content only sealed, with the statement that the
provider holds no key that opens it; a manifest with the SHA-256 of every
file, signed with the deployment's Ed25519 key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out FILE is required")
			}
			if f.api != "" {
				return f.withAPI(cmd, func(a *apiClient) error {
					var buf bytes.Buffer
					if err := a.do("POST", "/api/v1/demands/"+args[0]+"/disclosure", nil, &buf); err != nil {
						return err
					}
					if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes)\n", out, buf.Len())
					return nil
				})
			}
			return withGateway(cmd, &f, true, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, officer workflow.Actor) error {
				var buf bytes.Buffer
				m, err := gw.Disclose(ctx, officer, args[0], &buf)
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d files, signed by %s\n", out, len(m.Files), disclose.EncodePublicKey(gw.PublicKey()))
				return nil
			})
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&out, "out", "", "package file to write")
	return cmd
}

func newDemandReleaseCmd() *cobra.Command {
	var f legalFlags
	cmd := &cobra.Command{
		Use:   "release-holds ID",
		Short: "Release the legal holds a preservation order placed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withGateway(cmd, &f, true, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, officer workflow.Actor) error {
				if err := gw.ReleaseHolds(ctx, officer, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: holds released\n", args[0])
				return nil
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func newDemandNotifyCmd() *cobra.Command {
	var f legalFlags
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Send the notices whose nondisclosure orders have lapsed (a running server does this by itself)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withGateway(cmd, &f, false, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, _ workflow.Actor) error {
				n, err := gw.NotifyDue(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d notice(s) sent\n", n)
				return nil
			})
		},
	}
	f.register(cmd, false)
	return cmd
}

func newDemandVerifyCmd() *cobra.Command {
	var key string
	var f legalFlags
	cmd := &cobra.Command{
		Use:   "verify-package PACKAGE.tar [--key sealpost-ed25519:...]",
		Short: "Check a disclosure package: signature, every file's SHA-256, nothing added or missing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			check := func(pubText string) error {
				pub, err := disclose.ParsePublicKey(strings.TrimSpace(pubText))
				if err != nil {
					return err
				}
				fh, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer fh.Close()
				m, err := disclose.Verify(fh, pub)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "OK: %s, demand %s (%s), %d files, approved by %s\n", args[0], m.DemandID, m.Reference, len(m.Files), strings.Join(m.Approvals, ", "))
				return nil
			}
			if key != "" {
				return check(key)
			}
			return withGateway(cmd, &f, false, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, _ workflow.Actor) error {
				return check(disclose.EncodePublicKey(gw.PublicKey()))
			})
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&key, "key", "", "the deployment's public key (sealpost demand key prints it); default: the data folder's")
	return cmd
}

func newDemandKeyCmd() *cobra.Command {
	var f legalFlags
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Print the public key that verifies this deployment's disclosure packages",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withGateway(cmd, &f, false, func(ctx context.Context, _ *server.Server, gw *gateway.Gateway, _ workflow.Actor) error {
				fmt.Fprintln(cmd.OutOrStdout(), disclose.EncodePublicKey(gw.PublicKey()))
				return nil
			})
		},
	}
	f.register(cmd, false)
	return cmd
}
