package managesieveserver_test

// Tests of Sealpost patches 70 (UNAUTHENTICATE) and 71
// (Options.MaxUnauthCommands); see third_party/README.md in Sealpost.

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migadu/go-managesieve/managesieveserver"
)

// unauthSession adds UNAUTHENTICATE to a mem store session.
type unauthSession struct {
	managesieveserver.Session
	released *atomic.Int32
}

func (s unauthSession) Unauthenticate(ctx context.Context) error {
	s.released.Add(1)
	return nil
}

func TestSealpostPatch70Unauthenticate(t *testing.T) {
	store := newTestStore()
	var released atomic.Int32
	addr := startServer(t, managesieveserver.Options{
		NewSession: func(c *managesieveserver.Conn) (managesieveserver.Session, error) {
			s, err := store.NewSession(c)
			return unauthSession{s, &released}, err
		},
		InsecureAuth: true,
		IdleTimeout:  5 * time.Second,
	})
	c := dial(t, addr)
	_, caps := c.greet()
	if !contains(caps, `"UNAUTHENTICATE"`) {
		t.Fatalf("UNAUTHENTICATE not advertised: %q", caps)
	}
	c.send("UNAUTHENTICATE")
	if resp, _ := c.readResponse(); !strings.HasPrefix(resp, "NO") {
		t.Fatalf("UNAUTHENTICATE before AUTHENTICATE: %q, want NO", resp)
	}
	c.send(`AUTHENTICATE "PLAIN" "AHVzZXJAZXhhbXBsZS5jb20Ac2VjcmV0"`)
	if resp, _ := c.readResponse(); resp != `OK "Authenticated"` {
		t.Fatalf("AUTHENTICATE: %q", resp)
	}
	c.send("UNAUTHENTICATE extra")
	if resp, _ := c.readResponse(); !strings.HasPrefix(resp, "NO") {
		t.Fatalf("UNAUTHENTICATE with an argument: %q, want NO", resp)
	}
	c.send("UNAUTHENTICATE")
	if resp, _ := c.readResponse(); resp != "OK" || released.Load() != 1 {
		t.Fatalf("UNAUTHENTICATE: %q (released %d times)", resp, released.Load())
	}
	c.send("LISTSCRIPTS")
	if resp, _ := c.readResponse(); !strings.HasPrefix(resp, "NO") {
		t.Fatalf("LISTSCRIPTS after UNAUTHENTICATE: %q, want NO", resp)
	}
	c.send(`AUTHENTICATE "PLAIN" "AHVzZXJAZXhhbXBsZS5jb20Ac2VjcmV0"`)
	if resp, _ := c.readResponse(); resp != `OK "Authenticated"` {
		t.Fatalf("AUTHENTICATE again: %q", resp)
	}

	// Without the interface the command is unknown and not advertised.
	plain := dial(t, startDefaultServer(t, newTestStore()))
	if _, caps := plain.greet(); contains(caps, `"UNAUTHENTICATE"`) {
		t.Fatalf("UNAUTHENTICATE advertised without support: %q", caps)
	}
	plain.send("UNAUTHENTICATE")
	if resp, _ := plain.readResponse(); resp != `NO "Unknown command"` {
		t.Fatalf("UNAUTHENTICATE unsupported: %q", resp)
	}
}

func TestSealpostPatch71MaxUnauthCommands(t *testing.T) {
	store := newTestStore()
	addr := startServer(t, managesieveserver.Options{
		NewSession:        store.NewSession,
		InsecureAuth:      true,
		IdleTimeout:       5 * time.Second,
		MaxUnauthCommands: 3,
	})
	c := dial(t, addr)
	c.greet()
	c.send("NOOP")
	c.readResponse()
	c.send("")
	c.send("CAPABILITY")
	c.readResponse()
	c.send("NOOP")
	if resp, _ := c.readResponse(); !strings.HasPrefix(resp, "BYE") {
		t.Fatalf("fourth line before authentication: %q, want BYE", resp)
	}

	// Authenticated connections are not bounded.
	a := dial(t, addr)
	a.authenticate("user@example.com", "secret")
	for range 10 {
		a.send("NOOP")
		if resp, _ := a.readResponse(); resp != "OK" {
			t.Fatalf("NOOP after authentication: %q", resp)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSealpostPatch72RefusedLiteralNotRunAsCommands(t *testing.T) {
	store := newTestStore()
	addr := startServer(t, managesieveserver.Options{
		NewSession:  store.NewSession,
		IdleTimeout: 5 * time.Second,
		TLSConfig:   nil, // AUTHENTICATE is refused without TLS
	})
	for _, tc := range []struct{ name, in, want string }{
		{"PUTSCRIPT before authentication", "PUTSCRIPT \"x\" {10+}\r\nCAPABILITY\r\n", `NO "Not authenticated"`},
		{"CHECKSCRIPT before authentication", "CHECKSCRIPT {10+}\r\nCAPABILITY\r\n", `NO "Not authenticated"`},
		{"AUTHENTICATE without TLS", "AUTHENTICATE \"PLAIN\" {10}\r\nCAPABILITY\r\n", `NO "Authentication not permitted on insecure connection. Use STARTTLS first."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.greet()
			c.sendRaw(tc.in)
			if got := c.readLine(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if line, err := c.r.ReadString('\n'); err == nil {
				t.Fatalf("the literal's bytes were run as a command: %q", line)
			}
		})
	}

	// A synchronizing literal is not sent before the "+", so the
	// connection stays.
	c := dial(t, addr)
	c.greet()
	c.send(`PUTSCRIPT "x" {10}`)
	if resp, _ := c.readResponse(); resp != `NO "Not authenticated"` {
		t.Fatalf("PUTSCRIPT {10}: %q", resp)
	}
	c.send("NOOP")
	if resp, _ := c.readResponse(); resp != "OK" {
		t.Fatalf("NOOP after a refused synchronizing literal: %q", resp)
	}
}
