package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/bench"
)

const benchLong = `Measure a mail server with standard SMTP and IMAP traffic.

The bench commands speak only the standard protocols and assume nothing about
the server, so the same run can be pointed at Sealpost, Postfix with Dovecot,
mox or maddy and the numbers compared. Every run is bounded: a number of
messages, searches or connections, and --timeout (default 10m), after which
it stops and reports what it measured. Ctrl-C stops it early the same way.

Point it only at servers you run, on this machine or your own test hosts.

Reports give operations that succeeded and failed, elapsed time, operations
per second, MB/s (10^6 bytes of RFC 5322 message per second, framing not
counted) and latency percentiles (p50, p90, p99, max; nearest rank). --json
prints one JSON object instead of text. The exit status is non-zero when the
options are wrong, setup fails, or every operation failed.

TLS: --tls for implicit TLS (ports 465, 993), --starttls to upgrade a plain
connection (ports 25, 587, 143), neither for plain TCP. --insecure skips
certificate verification, for self-signed test servers.`

const benchSMTPLong = `Deliver --messages messages of about --size bytes over --concurrency
connections, each connection carrying one transaction after another (MAIL,
RCPT, DATA, and RSET only after a refused transaction), as an MTA would.

Each message is a valid RFC 5322 message (Date, From, To, Subject,
Message-ID, MIME-Version, a text/plain body of printable words in lines of at
most 78 characters) carrying a unique marker in its X-Bench-Marker header and
first body line. The words are a few dozen, drawn at random, unless --text
names a folder of text files (such as a spam corpus's ham): then they are
that text's words, in order, for servers whose filters' cost depends on the
vocabulary.

Without --auth the delivery is MX-style (no AUTH, typically port 25); with
--auth it authenticates with AUTH PLAIN as --user, which needs --tls or
--starttls (submission, port 587 or 465). The recipient is --to, or --user.

Latency is per message, from MAIL FROM to the 250 reply after the final dot.

Example:
  sealpost bench smtp --addr 127.0.0.1:25 --to alice@example.org \
      --concurrency 8 --messages 5000 --size 10240`

const benchIMAPLong = `Measure IMAP: fill a mailbox, then fetch, search or idle.

--fill first APPENDs --messages messages of --size bytes to --mailbox over
--concurrency connections and reports the append rate. Then --op chooses:

  fetch (default)  --concurrency connections EXAMINE the mailbox (read-only,
                   no flags change) and split its UIDs into contiguous ranges,
                   one per connection, each fetched with one
                   UID FETCH range (BODY.PEEK[]). Every message is fetched
                   once, so the totals are the mailbox's message count and
                   size. Bodies are counted as they stream, never kept.
                   Latency: one connection's whole fetch.
  search           --repeat UID SEARCH BODY --word commands spread over
                   --concurrency connections; latency per search. The
                   default word is in every message --fill makes.
  idle             open --idle-conns connections (--concurrency at a time),
                   LOGIN, SELECT, IDLE, and hold them for --hold. Reports how
                   many made it. Measure the server's memory meanwhile with
                   ps -o rss= -p PID, or pass --pid to read its VmRSS from
                   /proc before and during the hold.
  none             only --fill.

Example:
  sealpost bench imap --addr 127.0.0.1:993 --tls --insecure --user alice \
      --pass secret --fill --messages 2000 --size 20000 --concurrency 4`

// newBenchCmd returns the "bench" command and its smtp and imap subcommands.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test any SMTP or IMAP server",
		Long:  benchLong,
	}
	cmd.AddCommand(newBenchSMTPCmd(), newBenchIMAPCmd(), newBenchSinkCmd(), newBenchDNSCmd(), newBenchPasshashCmd())
	return cmd
}

// benchFlags binds the flags shared by both subcommands to o.
func benchFlags(cmd *cobra.Command, o *bench.Options, defaultSize int) {
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "", "server address, host:port (required)")
	f.StringVar(&o.User, "user", "", "account name for AUTH or LOGIN")
	f.StringVar(&o.Pass, "pass", "", "password for --user")
	f.IntVar(&o.Concurrency, "concurrency", 4, "concurrent connections")
	f.IntVar(&o.Messages, "messages", 1000, "messages to deliver or append in total")
	f.IntVar(&o.Size, "size", defaultSize, "size of each message in bytes")
	f.BoolVar(&o.TLS, "tls", false, "implicit TLS")
	f.BoolVar(&o.StartTLS, "starttls", false, "upgrade the connection with STARTTLS")
	f.BoolVar(&o.Insecure, "insecure", false, "skip TLS certificate verification (self-signed test servers)")
	f.DurationVar(&o.Timeout, "timeout", bench.DefaultTimeout, "stop and report after this long")
	f.BoolVar(&o.JSON, "json", false, "report as JSON")
	f.IntVar(&o.Sources, "sources", 0, "spread connections over this many loopback source addresses, 127.0.0.1 up (a server's per-address limits)")
	cmd.MarkFlagRequired("addr")
}

func newBenchSMTPCmd() *cobra.Command {
	var o bench.SMTPOptions
	var dkimKey, dkimSelector, textDir string
	cmd := &cobra.Command{
		Use:   "smtp --addr HOST:PORT [flags]",
		Short: "Deliver messages over SMTP and report rates and latencies",
		Long:  benchSMTPLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			if dkimKey != "" {
				b, err := os.ReadFile(dkimKey)
				if err != nil {
					return err
				}
				k, err := bench.LoadDKIMKey(b)
				if err != nil {
					return err
				}
				o.DKIM = &bench.DKIM{Selector: dkimSelector, Key: k}
			}
			if textDir != "" {
				words, err := bench.TextWords(textDir)
				if err != nil {
					return err
				}
				o.Text = words
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			_, err := bench.RunSMTP(ctx, o, cmd.OutOrStdout())
			return err
		},
	}
	benchFlags(cmd, &o.Options, 10240)
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "bench@example.com", "envelope and header sender")
	f.StringVar(&o.To, "to", "", "recipient (default --user)")
	f.BoolVar(&o.Auth, "auth", false, "authenticate with AUTH PLAIN (needs --tls or --starttls)")
	f.StringVar(&o.Helo, "helo", "localhost", "name to give in EHLO")
	f.StringVar(&dkimKey, "dkim-key", "", "PEM PKCS #8 private key (RSA or Ed25519) to DKIM-sign each message with, for --from's domain")
	f.StringVar(&dkimSelector, "dkim-selector", "bench", "DKIM selector of --dkim-key")
	f.StringVar(&textDir, "text", "", "fill bodies with the words of the files in this folder (e.g. a spam corpus's ham), in order, instead of generated words")
	return cmd
}

func newBenchDNSCmd() *cobra.Command {
	var o bench.DNSOptions
	cmd := &cobra.Command{
		Use:   "dns --addr HOST:PORT [--rr RECORD]... [--txt NAME=VALUE]...",
		Short: "Answer DNS questions from the records given, until interrupted",
		Long: `Serve the records given, over UDP and TCP on --addr, until interrupted:
the sending side of an inbound benchmark publishes its SPF, DKIM and DMARC
records here, and the server under test resolves through it (sealpost demo
--dns HOST:PORT). Names without records get NXDOMAIN. --rr takes a
zone-file line; --txt NAME=VALUE a TXT record of any length (split into
255-byte strings), as a DKIM key needs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return bench.RunDNS(ctx, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:5353", "address to listen on, UDP and TCP")
	f.StringArrayVar(&o.Records, "rr", nil, "a record as a zone-file line (repeatable)")
	f.StringArrayVar(&o.TXT, "txt", nil, "a TXT record as NAME=VALUE (repeatable)")
	return cmd
}

func newBenchIMAPCmd() *cobra.Command {
	var o bench.IMAPOptions
	var op string
	cmd := &cobra.Command{
		Use:   "imap --addr HOST:PORT --user U --pass P [flags]",
		Short: "Append, fetch, search or idle over IMAP and report rates and latencies",
		Long:  benchIMAPLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			o.Op = bench.IMAPOp(op)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			_, err := bench.RunIMAP(ctx, o, cmd.OutOrStdout())
			return err
		},
	}
	benchFlags(cmd, &o.Options, 10240)
	f := cmd.Flags()
	f.StringVar(&o.Mailbox, "mailbox", "INBOX", "mailbox to fill, fetch, search or select")
	f.BoolVar(&o.Fill, "fill", false, "first APPEND --messages messages of --size bytes")
	f.StringVar(&o.From, "from", "bench@example.com", "sender of the messages --fill appends")
	f.StringVar(&op, "op", string(bench.OpFetch), "operation to measure: fetch, search, idle, session (login-heavy client sessions for --hold) or none")
	f.StringVar(&o.Word, "word", bench.SearchWord, "word for --op search")
	f.IntVar(&o.Repeat, "repeat", 100, "searches in total for --op search")
	f.IntVar(&o.IdleConns, "idle-conns", 100, "connections to hold in IDLE for --op idle")
	f.DurationVar(&o.Hold, "hold", 10*time.Second, "how long --op idle holds its connections, --op session runs")
	f.IntVar(&o.PID, "pid", 0, "server process id whose VmRSS --op idle reports")
	return cmd
}

func newBenchSinkCmd() *cobra.Command {
	var o bench.SinkOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sink --addr HOST:PORT --messages N",
		Short: "Receive and discard N messages over SMTP, and report the rate they came at",
		Long: `Listen on --addr as an SMTP server that takes every message and discards
it, until --messages have arrived, then report the rate from the first
arrival to the last. It is the far end of an outbound delivery benchmark:
point an MTA's delivery at it (Postfix's relayhost, Sealpost's relay), and
each is timed the same way (scripts/bench-outbound.sh).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			r, err := bench.RunSink(ctx, o)
			if err != nil {
				return err
			}
			if asJSON {
				return r.WriteJSON(cmd.OutOrStdout())
			}
			return r.WriteText(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "", "address to listen on, host:port (required)")
	f.IntVar(&o.Messages, "messages", 1000, "messages to wait for")
	f.DurationVar(&o.Timeout, "timeout", bench.DefaultTimeout, "stop and report after this long")
	f.BoolVar(&asJSON, "json", false, "report as JSON")
	cmd.MarkFlagRequired("addr")
	return cmd
}
