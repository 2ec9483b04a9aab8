package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/sealpost/sealpost/errors"
)

const (
	imapUser = "alice"
	imapPass = "s3cret"
)

// startIMAP serves go-imap's in-memory server on a loopback port with one
// user and an empty INBOX. With implicitTLS the listener speaks TLS from the
// first byte; with a tlsConfig alone the server offers STARTTLS.
func startIMAP(t *testing.T, tlsConfig *tls.Config, implicitTLS bool) string {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(imapUser, imapPass)
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       discardLogger{},
	}
	var ln net.Listener = listen(t)
	if implicitTLS {
		ln = tls.NewListener(ln, tlsConfig)
	} else {
		opts.TLSConfig = tlsConfig
	}
	srv := imapserver.New(opts)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

func imapOptions(addr string) IMAPOptions {
	return IMAPOptions{Options: Options{
		Addr: addr, User: imapUser, Pass: imapPass,
		Concurrency: 3, Messages: 25, Size: 2500, Timeout: time.Minute,
	}}
}

func TestRunIMAPFillFetch(t *testing.T) {
	tests := []struct {
		name                string
		starttls, implicit  bool
		concurrency, amount int
	}{
		{"plain", false, false, 3, 25},
		{"starttls", true, false, 2, 7},
		{"implicit tls", false, true, 4, 9},
		{"more connections than messages", false, false, 5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tlsConfig *tls.Config
			if tt.starttls || tt.implicit {
				tlsConfig = selfSignedTLS(t)
			}
			o := imapOptions(startIMAP(t, tlsConfig, tt.implicit))
			o.Concurrency, o.Messages = tt.concurrency, tt.amount
			o.StartTLS, o.TLS, o.Insecure = tt.starttls, tt.implicit, tlsConfig != nil
			o.Fill = true
			var out bytes.Buffer
			res, err := RunIMAP(context.Background(), o, &out)
			if err != nil {
				t.Fatalf("RunIMAP: %v\n%s", err, out.String())
			}
			var sent int64
			for i := range tt.amount {
				sent += int64(len(Message(i, o.Size, "bench@example.com", imapUser+"@localhost")))
			}
			fill := res.Fill
			if fill == nil || fill.Ops != tt.amount || fill.Errors != 0 || fill.Bytes != sent {
				t.Fatalf("fill = %+v, want %d messages, %d bytes, no errors", fill, tt.amount, sent)
			}
			if res.Phase != phaseFetch || res.Ops != tt.amount || res.Errors != 0 {
				t.Errorf("fetch: %d messages, %d errors (first: %s); want %d, 0", res.Ops, res.Errors, res.FirstErr, tt.amount)
			}
			if res.Bytes != sent {
				t.Errorf("fetched %d bytes, appended %d", res.Bytes, sent)
			}
			// One whole-fetch latency per connection that had a range.
			if want := min(tt.concurrency, tt.amount); len(res.Latencies) != want {
				t.Errorf("%d fetch latencies, want %d", len(res.Latencies), want)
			}
			for _, want := range []string{"imap append: ", "imap fetch: "} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestRunIMAPFetchEmpty(t *testing.T) {
	o := imapOptions(startIMAP(t, nil, false))
	_, err := RunIMAP(context.Background(), o, nil)
	if !errors.Is(errors.NotExist, err) {
		t.Errorf("fetch of an empty mailbox: %v, want a NotExist error", err)
	}
}

func TestRunIMAPBadLogin(t *testing.T) {
	o := imapOptions(startIMAP(t, nil, false))
	o.Pass = "wrong"
	o.Fill = true
	_, err := RunIMAP(context.Background(), o, nil)
	if !errors.Is(errors.Unavailable, err) {
		t.Errorf("bad password: %v, want an Unavailable error", err)
	}
}

func TestRunIMAPSearch(t *testing.T) {
	o := imapOptions(startIMAP(t, nil, false))
	o.Messages, o.Fill, o.Op = 6, true, OpNone
	if _, err := RunIMAP(context.Background(), o, nil); err != nil {
		t.Fatalf("fill: %v", err)
	}
	for _, tt := range []struct {
		word    string
		matches int
	}{
		{"", 6},            // SearchWord is in every message
		{Marker(4), 1},     // each marker in one
		{"nowhere-xyz", 0}, // and this in none
	} {
		o.Fill, o.Op, o.Word, o.Repeat, o.JSON = false, OpSearch, tt.word, 7, true
		var out bytes.Buffer
		res, err := RunIMAP(context.Background(), o, &out)
		if err != nil {
			t.Fatalf("search %q: %v", tt.word, err)
		}
		if res.Ops != 7 || res.Errors != 0 || len(res.Latencies) != 7 {
			t.Errorf("search %q: %d ok, %d errors, %d latencies; want 7, 0, 7", tt.word, res.Ops, res.Errors, len(res.Latencies))
		}
		if res.Matches != tt.matches {
			t.Errorf("search %q matched %d, want %d", tt.word, res.Matches, tt.matches)
		}
		var js map[string]any
		if err := json.Unmarshal(out.Bytes(), &js); err != nil || js["phase"] != phaseSearch {
			t.Errorf("JSON report %v: %s", err, out.String())
		}
	}
}

func TestRunIMAPIdle(t *testing.T) {
	o := imapOptions(startIMAP(t, nil, false))
	o.Op, o.IdleConns, o.Concurrency, o.Hold, o.PID = OpIdle, 6, 2, 50*time.Millisecond, os.Getpid()
	var out bytes.Buffer
	res, err := RunIMAP(context.Background(), o, &out)
	if err != nil {
		t.Fatalf("idle: %v\n%s", err, out.String())
	}
	if res.Ops != 6 || res.Held != 6 || res.Errors != 0 {
		t.Errorf("idle: %d reached IDLE, %d held, %d errors (first: %s); want 6, 6, 0", res.Ops, res.Held, res.Errors, res.FirstErr)
	}
	if res.RSSBeforeKB <= 0 || res.RSSAfterKB <= 0 {
		t.Errorf("VmRSS before %d kB, after %d kB; want both read", res.RSSBeforeKB, res.RSSAfterKB)
	}
	if !strings.Contains(out.String(), "held     6 connections") || !strings.Contains(out.String(), "VmRSS") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestRunIMAPTimeout(t *testing.T) {
	// The run stops at its timeout and still reports.
	o := imapOptions(startIMAP(t, nil, false))
	o.Op, o.IdleConns, o.Hold, o.Timeout = OpIdle, 2, time.Hour, 200*time.Millisecond
	var out bytes.Buffer
	res, err := RunIMAP(context.Background(), o, &out)
	if err != nil {
		t.Fatalf("idle: %v", err)
	}
	if !res.TimedOut || res.Hold >= time.Hour {
		t.Errorf("TimedOut %v after holding %v; want the timeout to cut the hold short", res.TimedOut, res.Hold)
	}
	if !strings.Contains(out.String(), "stopped early") || !strings.Contains(out.String(), "ps -o rss= -p PID") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestReadRSS(t *testing.T) {
	kb, err := ReadRSS(os.Getpid())
	if err != nil || kb <= 0 {
		t.Errorf("ReadRSS(self) = %d, %v", kb, err)
	}
	if _, err := ReadRSS(-5); err == nil {
		t.Error("ReadRSS of a bad pid succeeded")
	}
}

func TestIMAPOptionsInvalid(t *testing.T) {
	for _, o := range []IMAPOptions{
		{Options: Options{Addr: "127.0.0.1:143", Size: 10}},                                       // no user
		{Options: Options{Addr: "127.0.0.1:143", User: "u", Size: 10}, Op: "delete"},              // unknown op
		{Options: Options{Addr: "127.0.0.1:143", User: "u", Size: 10}, Op: OpNone},                // nothing to do
		{Options: Options{Addr: "127.0.0.1:143", User: "u", Size: 10, TLS: true, StartTLS: true}}, // both TLS modes
	} {
		if _, err := RunIMAP(context.Background(), o, nil); !errors.Is(errors.Invalid, err) {
			t.Errorf("RunIMAP(%+v) = %v, want an Invalid error", o, err)
		}
	}
}

// TestRunIMAPSession: whole sessions run back to back for --hold, each
// logging in, appending and expunging its own message, so the mailbox
// ends as it began but for the messages of sessions the end of the run
// cut between APPEND and EXPUNGE (one per worker at most).
func TestRunIMAPSession(t *testing.T) {
	o := imapOptions(startIMAP(t, nil, false))
	o.Concurrency, o.Messages, o.Fill = 2, 3, true
	o.Op, o.Hold = OpSession, 500*time.Millisecond
	var out bytes.Buffer
	res, err := RunIMAP(context.Background(), o, &out)
	if err != nil {
		t.Fatalf("RunIMAP: %v\n%s", err, out.String())
	}
	if res.Phase != phaseSession || res.Ops == 0 || res.Errors != 0 {
		t.Fatalf("%d sessions, %d errors (first: %s)", res.Ops, res.Errors, res.FirstErr)
	}
	if res.Logins < res.Ops || res.Commands != res.Ops*sessionCommands {
		t.Errorf("%d sessions, %d logins, %d commands", res.Ops, res.Logins, res.Commands)
	}
	if !strings.Contains(out.String(), "logins ") {
		t.Errorf("report lacks the logins:\n%s", out.String())
	}
	o.Op, o.Fill = OpFetch, false
	res, err = RunIMAP(context.Background(), o, nil)
	if err != nil || res.Ops < 3 || res.Ops > 3+o.Concurrency {
		t.Errorf("after the sessions the mailbox holds %d messages (%v), want the 3 it had (+ up to %d cut)", res.Ops, err, o.Concurrency)
	}
}
