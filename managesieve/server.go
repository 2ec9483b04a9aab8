// Package managesieve is Sealpost's ManageSieve server (RFC 5804): how an
// owner's mail client lists, uploads, checks, activates, renames and
// deletes the Sieve scripts that file their incoming mail. It owns the
// protocol session only: login through a Backend (the region router in
// the real server, which throttles password checks as for IMAP), then
// each command as a call on the owner's Account, and the mapping of the
// Account's error kinds to RFC 5804 response codes (reply.go).
//
// It is built on an in-tree copy of github.com/migadu/go-managesieve
// (third_party/go-managesieve, its patches listed in
// third_party/README.md), which parses commands and literals, runs the
// RFC 5804 state machine, SASL PLAIN, STARTTLS, and the bounds on what a
// client may send: line length, literal sizes (an oversized literal is
// refused before any of it is read), idle and per-command time, errors per
// connection, commands before authentication (our patch 71). This package
// adds UNAUTHENTICATE (patch 70), checks that PLAIN's authorization
// identity is empty or the user's own, closes a connection after
// Options.MaxLoginFailures wrong passwords, refuses to delete the active
// script (RFC 5804 2.10) and bounds the number of scripts.
//
// Every port faces the internet: nothing a client sends reaches the log
// (neither passwords nor scripts; the user's name only under mlog's
// redacted "user" key), replies to failed logins never tell whether the
// account exists, and an Account's internal errors reach the client only as
// a generic NO. The library recovers a panic at the connection boundary,
// logs it and closes that connection.
package managesieve

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	msieve "github.com/migadu/go-managesieve/managesieve"
	"github.com/migadu/go-managesieve/managesieveserver"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mlog"
)

// Backend logs an owner in. In the real server it is the region router,
// which sends the check to the account's home region and delays and
// refuses repeated failures (internal/authguard).
type Backend interface {
	// Login checks addr's password and opens its account. A wrong
	// password and an unknown address both fail with errors.Permission;
	// a throttled attempt fails with errors.Unavailable. The context
	// carries the sealpost.Client (source address, service).
	Login(ctx context.Context, addr, password string) (Account, error)
}

// Script is one of an account's scripts, as LISTSCRIPTS shows it.
type Script struct {
	Name   string
	Active bool // at most one script of an account is active
}

// Account is a logged-in owner's Sieve scripts. Its methods are called
// from one goroutine at a time (the connection's), with a context that
// ends when the command's time is up or the server closes. The error kinds
// each method may return, and what the client is told (reply.go):
//
//   - errors.Invalid: the input is wrong (a script that does not compile,
//     a bad name). The client sees the innermost cause's text, so it must
//     be meant for the owner: for a script, the compile error with its
//     line:col. Only Invalid errors' texts reach the client.
//   - errors.NotExist: no script of that name: NO (NONEXISTENT).
//   - errors.Exist: RenameScript's new name is taken: NO (ALREADYEXISTS).
//   - errors.OverQuota: too many scripts, or the account's storage is
//     full: NO (QUOTA/MAXSCRIPTS).
//   - errors.TooLarge: the script is over the size the account allows:
//     NO (QUOTA/MAXSIZE).
//   - errors.Permission from DeleteScript: the script is active: NO
//     (ACTIVE) (RFC 5804 2.10).
//   - errors.Unavailable: a transient failure: NO (TRYLATER).
//   - anything else: NO "Internal error"; the error goes to the log only.
type Account interface {
	// Scripts lists the account's scripts.
	Scripts(ctx context.Context) ([]Script, error)
	// GetScript returns a script's source as it was stored.
	GetScript(ctx context.Context, name string) ([]byte, error)
	// PutScript compiles src and, if it compiles, stores it under name,
	// creating the script or replacing its source (an active script stays
	// active). Nothing is stored when it fails. OK is sent only after it
	// returns nil, so it must return only once the script is durable.
	PutScript(ctx context.Context, name string, src []byte) error
	// CheckScript compiles src without storing it.
	CheckScript(ctx context.Context, src []byte) error
	// DeleteScript deletes a script that is not active.
	DeleteScript(ctx context.Context, name string) error
	// RenameScript renames a script, keeping whether it is active.
	RenameScript(ctx context.Context, oldName, newName string) error
	// SetActive makes the named script the active one (and the one active
	// before it inactive); "" leaves no script active.
	SetActive(ctx context.Context, name string) error
	// HaveSpace reports whether a script of that name and size could be
	// stored now: nil, or errors.OverQuota or errors.TooLarge.
	HaveSpace(ctx context.Context, name string, size int64) error
	// Close releases the account (its unlocked keys, if any). It is
	// called once, on UNAUTHENTICATE, LOGOUT or when the connection ends.
	Close()
}

// Options configures a Server. The zero value serves plaintext-only
// connections on which nobody can log in; a real listener sets TLS.
type Options struct {
	// TLS enables STARTTLS (RFC 5804 2.2), offered before TLS as Dovecot
	// Pigeonhole does on port 4190. Without TLS (STARTTLS, or an
	// implicit-TLS listener passed to Serve) AUTHENTICATE is refused and
	// the SASL capability lists no mechanism, unless AllowPlaintext.
	TLS *tls.Config
	// AllowPlaintext allows AUTHENTICATE without TLS: the loopback demo
	// and tests only.
	AllowPlaintext bool
	// Extensions is the SIEVE capability: the Sieve extensions the
	// account's compiler accepts, in the caller's order.
	Extensions []string
	// NotifyMethods is the NOTIFY capability (RFC 5804 1.7), the URI
	// schemes the "enotify" extension may use; not advertised when empty.
	NotifyMethods []string
	// MaxRedirects is the MAXREDIRECTS capability, the number of redirect
	// actions a script may perform; not advertised when 0.
	MaxRedirects int
	// Implementation is the IMPLEMENTATION capability (default
	// "Sealpost").
	Implementation string
	// MaxScriptSize bounds a script in bytes (default 1 MiB, Pigeonhole's
	// sieve_max_script_size), advertised as MAXSCRIPTSIZE; a larger
	// literal is refused NO (QUOTA/MAXSIZE) before any of it is read.
	MaxScriptSize int64
	// MaxScripts bounds an account's scripts (default 100): a PUTSCRIPT
	// or HAVESPACE for one more is refused NO (QUOTA/MAXSCRIPTS). The
	// Account may bound them further.
	MaxScripts int
	// IdleTimeout is how long an authenticated connection may wait
	// between commands (default 30 minutes). Before authentication the
	// bound is the shorter of it and PreAuthTimeout.
	IdleTimeout time.Duration
	// PreAuthTimeout bounds the wait for each command (and literal, and
	// TLS handshake) before authentication (default 1 minute).
	PreAuthTimeout time.Duration
	// CommandTimeout bounds a command's Account call (default 1 minute).
	CommandTimeout time.Duration
	// MaxLoginFailures closes a connection after that many failed logins
	// (default 3).
	MaxLoginFailures int
	// MaxErrors closes a connection with BYE after that many protocol
	// errors (unknown commands, bad syntax, failed logins; default 10).
	MaxErrors int
	// MaxUnauthCommands closes a connection with BYE at its next command
	// line after that many before authentication (default 30).
	MaxUnauthCommands int
	// Log receives structured logs; never passwords or scripts.
	Log *slog.Logger
}

// The defaults of Options.
const (
	defaultImplementation    = "Sealpost"
	defaultMaxScriptSize     = 1 << 20
	defaultMaxScripts        = 100
	defaultIdleTimeout       = 30 * time.Minute
	defaultPreAuthTimeout    = time.Minute
	defaultCommandTimeout    = time.Minute
	defaultMaxLoginFailures  = 3
	defaultMaxErrors         = 10
	defaultMaxUnauthCommands = 30
)

// Server serves ManageSieve over a Backend.
type Server struct {
	be   Backend
	opts Options
	log  *slog.Logger
	lib  *managesieveserver.Server

	mu        sync.Mutex
	listeners map[net.Listener]bool
	closed    bool
	conns     sync.WaitGroup // connections being served

	panics atomic.Int64 // connections ended by a recovered panic
}

// New returns a Server over be.
func New(be Backend, opts Options) *Server {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if opts.Implementation == "" {
		opts.Implementation = defaultImplementation
	}
	if opts.MaxScriptSize <= 0 {
		opts.MaxScriptSize = defaultMaxScriptSize
	}
	def(&opts.MaxScripts, defaultMaxScripts)
	def(&opts.MaxLoginFailures, defaultMaxLoginFailures)
	def(&opts.MaxErrors, defaultMaxErrors)
	def(&opts.MaxUnauthCommands, defaultMaxUnauthCommands)
	defD(&opts.IdleTimeout, defaultIdleTimeout)
	defD(&opts.PreAuthTimeout, defaultPreAuthTimeout)
	defD(&opts.CommandTimeout, defaultCommandTimeout)
	if opts.Log == nil {
		opts.Log = mlog.Discard()
	}
	s := &Server{be: be, opts: opts, log: opts.Log.With("proto", "managesieve"), listeners: make(map[net.Listener]bool)}
	s.lib = managesieveserver.New(managesieveserver.Options{
		NewSession:        s.newSession,
		TLSConfig:         opts.TLS,
		InsecureAuth:      opts.AllowPlaintext,
		Implementation:    opts.Implementation,
		Greeting:          msieve.Quote(opts.Implementation + " ManageSieve ready"),
		SieveExtensions:   opts.Extensions,
		ExtraCapabilities: extraCapabilities(opts),
		MaxScriptSize:     opts.MaxScriptSize,
		IdleTimeout:       opts.IdleTimeout,
		AuthIdleTimeout:   min(opts.IdleTimeout, opts.PreAuthTimeout),
		CommandTimeout:    opts.CommandTimeout,
		MaxErrors:         opts.MaxErrors,
		MaxUnauthCommands: opts.MaxUnauthCommands,
		// Every error an Account returns is mapped to an *Error here
		// (reply.go); this masks any that would slip through.
		StrictSessionErrors: true,
		OnPanic: func(r any, stack []byte) {
			s.panics.Add(1)
			s.log.Error("recovered panic", "stack", string(stack))
		},
		Logger: s.log,
	})
	return s
}

// extraCapabilities are the capabilities of RFC 5804 1.7 the library does
// not write itself: NOTIFY and MAXREDIRECTS, when configured. (It writes
// IMPLEMENTATION, VERSION "1.0", SIEVE, STARTTLS before TLS, SASL,
// MAXSCRIPTSIZE and, with our patch 70, UNAUTHENTICATE.)
func extraCapabilities(o Options) []msieve.Capability {
	var caps []msieve.Capability
	if len(o.NotifyMethods) > 0 {
		caps = append(caps, msieve.Capability{Name: "NOTIFY", Value: strings.Join(o.NotifyMethods, " "), HasValue: true})
	}
	if o.MaxRedirects > 0 {
		caps = append(caps, msieve.Capability{Name: "MAXREDIRECTS", Value: strconv.Itoa(o.MaxRedirects), HasValue: true})
	}
	return caps
}

// Serve accepts connections on ln until Close; for implicit TLS, ln is a
// tls.Listener (or a netlimit.Listener with TLS set). It may be called for
// several listeners at once. It returns nil after Close, and ln's error if
// ln fails otherwise.
//
// The accept loop is ours, each connection handed to the library's
// ServeConn: the library's Serve keeps only the last listener it was given,
// unsynchronized with its Close.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln, true) {
		ln.Close()
		return nil
	}
	defer s.track(ln, false)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			if errors.IsErr(err, net.ErrClosed) {
				return err
			}
			// A transient failure (out of descriptors): wait, as
			// net/http does, at most a second.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.conns.Done()
			s.lib.ServeConn(c)
		}()
	}
}

// track adds ln to the listeners Close closes (or removes it); adding
// fails once the server is closed.
func (s *Server) track(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.closed {
		return false
	}
	s.listeners[ln] = true
	return true
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, says BYE (TRYLATER) to every connection, and
// waits for the connections to end and their accounts to be closed.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	// The library cancels every connection's context and ends the read
	// each is waiting in; a connection accepted just now sees the
	// canceled context before its first command.
	err := s.lib.Close()
	s.conns.Wait()
	return err
}

// newSession is the library's NewSession: one session per connection.
func (s *Server) newSession(c *managesieveserver.Conn) (managesieveserver.Session, error) {
	return &session{srv: s, conn: c, log: s.log.With("remote", c.NetConn().RemoteAddr().String())}, nil
}
