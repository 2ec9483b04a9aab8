package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"maps"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/errors"
)

// countingBackend is a minimal SMTP server backend that counts what it
// receives. With rejectRcpt every RCPT is refused.
type countingBackend struct {
	rejectRcpt bool
	user, pass string // if set, AUTH PLAIN is offered and required

	mu       sync.Mutex
	conns    map[*smtp.Conn]bool
	messages int
	bytes    int64
	markers  map[string]bool
	rcpts    map[string]int
	authed   int
	sources  map[string]bool // the clients' addresses
}

func (b *countingBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	b.conns[c] = true // STARTTLS starts a new session on the same connection
	host, _, _ := net.SplitHostPort(c.Conn().RemoteAddr().String())
	b.sources[host] = true
	b.mu.Unlock()
	return &countingSession{b: b}, nil
}

type countingSession struct {
	b      *countingBackend
	authed bool
	rcpt   string
}

var _ smtp.AuthSession = (*countingSession)(nil)

func (s *countingSession) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *countingSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != s.b.user || pass != s.b.pass {
			return errors.Str("bad credentials")
		}
		s.authed = true
		s.b.mu.Lock()
		s.b.authed++
		s.b.mu.Unlock()
		return nil
	}), nil
}

func (s *countingSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && !s.authed {
		return &smtp.SMTPError{Code: 530, Message: "authenticate first"}
	}
	return nil
}

func (s *countingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.rcpt = to
	return nil
}

func (s *countingSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparsable message"}
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.messages++
	s.b.bytes += int64(len(data))
	s.b.markers[m.Header.Get("X-Bench-Marker")] = true
	s.b.rcpts[s.rcpt]++
	return nil
}

func (s *countingSession) Reset()        { s.rcpt = "" }
func (s *countingSession) Logout() error { return nil }

// startSMTP serves be on a loopback port and returns its address.
func startSMTP(t *testing.T, be *countingBackend, tlsConfig *tls.Config) string {
	t.Helper()
	be.markers = map[string]bool{}
	be.rcpts = map[string]int{}
	be.conns = map[*smtp.Conn]bool{}
	be.sources = map[string]bool{}
	srv := smtp.NewServer(be)
	srv.Domain = "mx.test"
	srv.TLSConfig = tlsConfig
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestRunSMTP(t *testing.T) {
	tests := []struct {
		name     string
		starttls bool
		auth     bool
	}{
		{"mx plain", false, false},
		{"submission starttls auth", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := &countingBackend{}
			var tlsConfig *tls.Config
			if tt.starttls {
				tlsConfig = selfSignedTLS(t)
			}
			if tt.auth {
				be.user, be.pass = "alice@example.org", "s3cret"
			}
			addr := startSMTP(t, be, tlsConfig)
			o := SMTPOptions{
				Options: Options{
					Addr: addr, User: "alice@example.org", Pass: "s3cret",
					Concurrency: 3, Messages: 20, Size: 3000,
					StartTLS: tt.starttls, Insecure: tt.starttls, Timeout: time.Minute,
				},
				Auth: tt.auth,
			}
			var out bytes.Buffer
			res, err := RunSMTP(context.Background(), o, &out)
			if err != nil {
				t.Fatalf("RunSMTP: %v\n%s", err, out.String())
			}
			if res.Ops != 20 || res.Errors != 0 {
				t.Fatalf("delivered %d, errors %d (first: %s); want 20, 0", res.Ops, res.Errors, res.FirstErr)
			}
			var want int64
			for i := range 20 {
				want += int64(len(Message(i, 3000, "bench@example.com", "alice@example.org")))
			}
			be.mu.Lock()
			defer be.mu.Unlock()
			if be.messages != 20 || len(be.markers) != 20 {
				t.Errorf("server got %d messages with %d distinct markers, want 20", be.messages, len(be.markers))
			}
			if res.Bytes != want || be.bytes != want {
				t.Errorf("bytes: reported %d, server got %d, sent %d", res.Bytes, be.bytes, want)
			}
			if be.rcpts["alice@example.org"] != 20 {
				t.Errorf("recipients %v, want alice@example.org (the --user) ×20", be.rcpts)
			}
			// One connection per worker carries many messages.
			if len(be.conns) != 3 {
				t.Errorf("server saw %d connections, want 3", len(be.conns))
			}
			if tt.auth && be.authed != 3 {
				t.Errorf("%d sessions authenticated, want 3", be.authed)
			}
			if len(res.Latencies) != 20 {
				t.Errorf("%d latencies, want 20", len(res.Latencies))
			}
			if !strings.Contains(out.String(), "smtp: 20 messages ok, 0 errors") {
				t.Errorf("report:\n%s", out.String())
			}
		})
	}
}

func TestRunSMTPRejected(t *testing.T) {
	be := &countingBackend{rejectRcpt: true}
	addr := startSMTP(t, be, nil)
	o := SMTPOptions{
		Options: Options{Addr: addr, Concurrency: 2, Messages: 6, Size: 1000, Timeout: time.Minute, JSON: true},
		To:      "nobody@example.org",
	}
	var out bytes.Buffer
	res, err := RunSMTP(context.Background(), o, &out)
	if err == nil || !errors.Is(errors.Unavailable, err) {
		t.Errorf("RunSMTP error = %v, want an Unavailable error when everything fails", err)
	}
	if res == nil || res.Ops != 0 || res.Errors != 6 {
		t.Fatalf("result %+v, want 0 delivered and 6 errors", res)
	}
	if !strings.Contains(res.FirstErr, "550") {
		t.Errorf("first error %q, want the 550", res.FirstErr)
	}
	// A refused transaction does not cost the connection.
	be.mu.Lock()
	defer be.mu.Unlock()
	if len(be.conns) != 2 {
		t.Errorf("server saw %d connections, want 2", len(be.conns))
	}
	if !strings.Contains(out.String(), `"errors": 6`) {
		t.Errorf("JSON report:\n%s", out.String())
	}
}

func TestRunSMTPUnreachable(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	res, err := RunSMTP(context.Background(), SMTPOptions{
		Options: Options{Addr: addr, User: "u@example.org", Concurrency: 2, Messages: 10, Size: 1000, Timeout: time.Minute},
	}, nil)
	if err == nil {
		t.Fatal("RunSMTP against a closed port succeeded")
	}
	if res.Ops != 0 || res.Errors != 10 {
		t.Errorf("ops %d errors %d, want 0 and 10", res.Ops, res.Errors)
	}
}

func TestSMTPOptionsInvalid(t *testing.T) {
	tests := []struct {
		name string
		o    SMTPOptions
	}{
		{"no addr", SMTPOptions{Options: Options{User: "u@x", Size: 10}}},
		{"bad addr", SMTPOptions{Options: Options{Addr: "nohost", User: "u@x", Size: 10}}},
		{"no recipient", SMTPOptions{Options: Options{Addr: "127.0.0.1:25", Size: 10}}},
		{"auth without tls", SMTPOptions{Options: Options{Addr: "127.0.0.1:25", User: "u@x", Size: 10}, Auth: true}},
		{"tls and starttls", SMTPOptions{Options: Options{Addr: "127.0.0.1:25", User: "u@x", Size: 10, TLS: true, StartTLS: true}}},
		{"zero size", SMTPOptions{Options: Options{Addr: "127.0.0.1:25", User: "u@x"}}},
		{"bad from", SMTPOptions{Options: Options{Addr: "127.0.0.1:25", User: "u@x", Size: 10}, From: "a\r\nRCPT TO:<x>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunSMTP(context.Background(), tt.o, nil)
			if !errors.Is(errors.Invalid, err) {
				t.Errorf("RunSMTP = %v, want an Invalid error", err)
			}
		})
	}
}

// TestRunSMTPSources: --sources spreads the connections over that many
// loopback addresses.
func TestRunSMTPSources(t *testing.T) {
	be := &countingBackend{}
	addr := startSMTP(t, be, nil)
	o := SMTPOptions{Options: Options{Addr: addr, Concurrency: 6, Messages: 12, Size: 1000, Sources: 3, Timeout: time.Minute}, To: "bob@example.org"}
	var out bytes.Buffer
	if _, err := RunSMTP(context.Background(), o, &out); err != nil {
		t.Fatalf("RunSMTP: %v\n%s", err, out.String())
	}
	want := map[string]bool{"127.0.0.1": true, "127.0.0.2": true, "127.0.0.3": true}
	if !maps.Equal(be.sources, want) {
		t.Errorf("connections came from %v, want %v", be.sources, want)
	}
}
