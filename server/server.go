// Package server wires Sealpost together from its configuration: it opens
// the region's stores under the data folder, builds the postbox service and
// starts the SMTP and IMAP listeners. It owns no protocol or storage logic.
package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/fs"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/imapserver"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/seal"
	"github.com/sealpost/sealpost/smtpserver"
	"github.com/sealpost/sealpost/store/sqlite"
)

// Server is a running (or ready to run) Sealpost process.
type Server struct {
	cfg config.Config
	log *slog.Logger
	Svc *postbox.Service
	tls *tls.Config

	store      *sqlite.Store
	closeBlobs func() error

	mu        sync.Mutex
	listeners []*listener
	closers   []func() error
	wg        sync.WaitGroup
}

type listener struct {
	name string
	ln   net.Listener
}

// Params returns the Argon2id parameters of the configuration.
func Params(c config.Config) seal.Params {
	return seal.Params{Time: c.Argon2.Time, MemoryKiB: c.Argon2.MemoryKiB, Threads: c.Argon2.Threads}
}

// Open opens the data folder (creating it if needed) and builds the service,
// without listening.
func Open(cfg config.Config, log *slog.Logger) (*Server, error) {
	const op = "server.Open"
	if err := cfg.Validate(); err != nil {
		return nil, errors.E(op, err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	closeBlobs := func() error { return nil }
	store, err := sqlite.Open(filepath.Join(cfg.DataDir, "meta.db"))
	if err != nil {
		return nil, errors.E(op, err)
	}
	var blobs sealpost.BlobStore
	switch cfg.BlobStore {
	case "files":
		blobs, err = fs.Open(filepath.Join(cfg.DataDir, "blobs"))
	default:
		var p *pack.Store
		p, err = pack.Open(filepath.Join(cfg.DataDir, "blobs"))
		if err == nil {
			blobs, closeBlobs = p, p.Close
		}
	}
	if err != nil {
		store.Close()
		return nil, errors.E(op, err)
	}
	qk, err := queueKey(filepath.Join(cfg.DataDir, "keys"), Params(cfg))
	if err != nil {
		store.Close()
		closeBlobs()
		return nil, errors.E(op, err)
	}
	var cert tls.Certificate
	if cfg.TLS.SelfSigned {
		cert, err = selfSigned(filepath.Join(cfg.DataDir, "tls"), cfg.Hostname)
	} else {
		cert, err = tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	}
	if err != nil {
		store.Close()
		closeBlobs()
		return nil, errors.E(op, errors.Invalid, err)
	}
	svc := postbox.New(store, blobs, postbox.Options{
		Params:         Params(cfg),
		MaxMessageSize: cfg.Limits.MaxMessageSize,
		QueueKey:       qk,
		Logger:         log,
	})
	return &Server{
		closeBlobs: closeBlobs,
		cfg:        cfg,
		log:        log,
		Svc:        svc,
		store:      store,
		tls:        &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}, nil
}

// TLSConfig returns the server's TLS configuration.
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Start binds every configured listener and serves them in the background.
// When it returns nil, every listener accepts connections.
func (s *Server) Start() error {
	l := s.cfg.Listen
	type spec struct {
		name, addr string
		implicit   bool
		serve      func(net.Listener) error
		close      func() error
	}
	var specs []spec
	smtpOpts := func(mode smtpserver.Mode, implicit bool) smtpserver.Options {
		return smtpserver.Options{
			Mode: mode, Hostname: s.cfg.Hostname, TLSConfig: s.tls, ImplicitTLS: implicit,
			MaxMessageSize: s.cfg.Limits.MaxMessageSize, MaxRecipients: s.cfg.Limits.MaxRecipients, Logger: s.log,
		}
	}
	imapOpts := imapserver.Options{TLSConfig: s.tls, Logger: s.log, AppendLimit: uint32(s.cfg.Limits.MaxMessageSize)}
	add := func(name, addr string, implicit bool, serve func(net.Listener) error, close func() error) {
		if addr != "" {
			specs = append(specs, spec{name, addr, implicit, serve, close})
		}
	}
	if l.SMTP != "" {
		srv := smtpserver.New(s.Svc, smtpOpts(smtpserver.MX, false))
		add("smtp", l.SMTP, false, srv.Serve, srv.Close)
	}
	if l.Submission != "" {
		srv := smtpserver.New(s.Svc, smtpOpts(smtpserver.Submission, false))
		add("submission", l.Submission, false, srv.Serve, srv.Close)
	}
	if l.Submissions != "" {
		srv := smtpserver.New(s.Svc, smtpOpts(smtpserver.Submission, true))
		add("submissions", l.Submissions, true, srv.Serve, srv.Close)
	}
	if l.IMAP != "" {
		srv := imapserver.New(s.Svc, imapOpts)
		add("imap", l.IMAP, false, srv.Serve, srv.Close)
	}
	if l.IMAPS != "" {
		srv := imapserver.New(s.Svc, imapOpts)
		add("imaps", l.IMAPS, true, srv.Serve, srv.Close)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range specs {
		ln, err := net.Listen("tcp", sp.addr)
		if err != nil {
			s.closeLocked()
			return errors.E("server.Start", errors.Unavailable, err)
		}
		if sp.implicit {
			ln = tls.NewListener(ln, s.tls)
		}
		s.listeners = append(s.listeners, &listener{sp.name, ln})
		s.closers = append(s.closers, sp.close)
		s.wg.Add(1)
		go func(name string, serve func(net.Listener) error, ln net.Listener) {
			defer s.wg.Done()
			if err := serve(ln); err != nil && !errors.IsErr(err, net.ErrClosed) {
				s.log.Error("listener stopped", "listener", name, "err", err)
			}
		}(sp.name, sp.serve, ln)
	}
	return nil
}

// Addr returns the address a named listener ("smtp", "submission",
// "submissions", "imap", "imaps") is bound to, or "".
func (s *Server) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if l.name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// Listeners returns the names and addresses of the bound listeners.
func (s *Server) Listeners() [][2]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][2]string
	for _, l := range s.listeners {
		out = append(out, [2]string{l.name, l.ln.Addr().String()})
	}
	return out
}

// Close stops the listeners and closes the stores.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closeLocked()
	s.mu.Unlock()
	s.wg.Wait()
	s.Svc.Close()
	s.closeBlobs()
	return s.store.Close()
}

func (s *Server) closeLocked() {
	for _, c := range s.closers {
		c()
	}
	for _, l := range s.listeners {
		l.ln.Close()
	}
	s.closers, s.listeners = nil, nil
}

// EnsureDemo creates the demo domain and accounts if missing and returns
// the addresses it created.
func EnsureDemo(ctx context.Context, svc *postbox.Service, domain string, accounts map[string]string) ([]string, error) {
	if err := svc.AddDomain(ctx, domain); err != nil && !errors.Is(errors.Exist, err) {
		return nil, err
	}
	var created []string
	for addr, pass := range accounts {
		if _, err := svc.LookupAccount(ctx, addr); err == nil {
			continue
		}
		if _, err := svc.CreateAccount(ctx, addr, pass); err != nil {
			return created, err
		}
		created = append(created, addr)
	}
	return created, nil
}
