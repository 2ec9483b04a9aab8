package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/outbound"
	"github.com/sealpost/sealpost/server"
)

// queueAccess is the queue as a command reaches it: through the running
// server's control socket, or, with the server stopped, in this process.
type queueAccess interface {
	QueueList() ([]server.QueueEntry, error)
	QueueAct(region sealpost.RegionID, id int64, act outbound.Action) (bool, error)
}

// localQueue is the queue of a server opened by this process.
type localQueue struct {
	ctx context.Context
	srv *server.Server
}

func (l localQueue) QueueList() ([]server.QueueEntry, error) { return l.srv.QueueList(l.ctx) }
func (l localQueue) QueueAct(region sealpost.RegionID, id int64, act outbound.Action) (bool, error) {
	return l.srv.QueueAct(l.ctx, region, id, act)
}

// withQueue runs f over the running server's queue if one runs on the
// configuration's data folder, else over the storage opened here.
func withQueue(cmd *cobra.Command, cf *configFlags, f func(queueAccess) error) error {
	c, err := cf.load()
	if err != nil {
		return err
	}
	if ctl, err := server.DialCtl(c.DataDir); err == nil {
		return f(ctl)
	}
	return withServer(cmd, cf, func(ctx context.Context, srv *server.Server) error {
		return f(localQueue{ctx, srv})
	})
}

func newQueueCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "The outbound queue: list, show, retry, hold, release, delete",
		Long: `Mail for other servers waits in each region's outbound queue, sealed to the
deployment key. These commands show its envelopes, attempts and errors,
never its content, and act on its entries (Postfix's postqueue -p and
postsuper). They work while the server runs (through its control socket,
DATA_DIR/ctl.sock) and with it stopped.

An entry is named REGION:ID, as 'queue list' prints it.`,
	}
	var listCF, showCF configFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List queued messages: envelope, size, attempts, next try, last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withQueue(cmd, &listCF, func(q queueAccess) error {
				entries, err := q.QueueList()
				if err != nil {
					return err
				}
				printQueue(cmd.OutOrStdout(), entries)
				return nil
			})
		},
	}
	listCF.register(list)
	show := &cobra.Command{
		Use:   "show REGION:ID",
		Short: "Show one queued message's envelope and delivery state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			region, id, err := parseQueueRef(args[0])
			if err != nil {
				return err
			}
			return withQueue(cmd, &showCF, func(q queueAccess) error {
				entries, err := q.QueueList()
				if err != nil {
					return err
				}
				for _, e := range entries {
					if e.Region == region && e.Message.ID == id {
						showEntry(cmd.OutOrStdout(), e)
						return nil
					}
				}
				return errors.E(errors.NotExist, errors.Errorf("no queued message %s", args[0]))
			})
		},
	}
	showCF.register(show)
	cmd.AddCommand(list, show)
	for _, a := range []struct {
		act   outbound.Action
		short string
	}{
		{outbound.Retry, "Try delivering a queued message now"},
		{outbound.Hold, "Keep a queued message, untried, until released"},
		{outbound.Release, "Release a held message and try it now"},
		{outbound.Delete, "Delete a queued message; its sender is not told"},
	} {
		var cf configFlags
		c := &cobra.Command{
			Use:   a.act.String() + " REGION:ID...",
			Short: a.short,
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withQueue(cmd, &cf, func(q queueAccess) error {
					for _, arg := range args {
						region, id, err := parseQueueRef(arg)
						if err != nil {
							return err
						}
						later, err := q.QueueAct(region, id, a.act)
						if err != nil {
							return fmt.Errorf("%s: %w", arg, err)
						}
						if later {
							fmt.Fprintf(cmd.OutOrStdout(), "%s: being delivered now; %s once this attempt is recorded\n", arg, a.act)
						} else {
							fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", arg, a.act)
						}
					}
					return nil
				})
			},
		}
		cf.register(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// parseQueueRef reads REGION:ID.
func parseQueueRef(s string) (sealpost.RegionID, int64, error) {
	region, id, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || region == "" || err != nil || n <= 0 {
		return "", 0, errors.E(errors.Invalid, errors.Errorf("%q is not REGION:ID (see queue list)", s))
	}
	return sealpost.RegionID(region), n, nil
}

func printQueue(w io.Writer, entries []server.QueueEntry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "The queue is empty.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tQUEUED\tSIZE\tATTEMPTS\tNEXT TRY\tSENDER\tRECIPIENTS\tSTATE")
	for _, e := range entries {
		m := e.Message
		state := m.LastError
		if m.Held {
			state = "held"
		} else if state == "" {
			state = "waiting for its first attempt"
		}
		fmt.Fprintf(tw, "%s:%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", e.Region, m.ID, m.Queued.Local().Format(time.DateTime), m.Size,
			m.Attempts, m.NextTry.Local().Format(time.DateTime), orNull(m.From), strings.Join(m.Recipients, ","), oneLine(state, 100))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d queued.\n", len(entries))
}

func showEntry(w io.Writer, e server.QueueEntry) {
	m := e.Message
	fmt.Fprintf(w, "id:          %s:%d\n", e.Region, m.ID)
	fmt.Fprintf(w, "sender:      %s\n", orNull(m.From))
	fmt.Fprintf(w, "recipients:  %s\n", strings.Join(m.Recipients, ", "))
	fmt.Fprintf(w, "size:        %d bytes (sealed; the content is never shown)\n", m.Size)
	fmt.Fprintf(w, "queued:      %s\n", m.Queued.Local().Format(time.RFC1123Z))
	fmt.Fprintf(w, "attempts:    %d\n", m.Attempts)
	fmt.Fprintf(w, "next try:    %s\n", m.NextTry.Local().Format(time.RFC1123Z))
	fmt.Fprintf(w, "held:        %v\n", m.Held)
	fmt.Fprintf(w, "warned:      %v (the sender was told it is delayed)\n", m.Warned)
	fmt.Fprintf(w, "last error:  %s\n", oneLine(m.LastError, 2000))
}

func orNull(from string) string {
	if from == "" {
		return "<> (a bounce)"
	}
	return from
}

// oneLine shortens s to n bytes on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
