// Package server wires Sealpost together from its configuration: it opens
// the global directory and the storage of each region it serves, builds
// their postboxes and the router between them, and starts the SMTP and IMAP
// listeners (and, for a regional node, its internal listener). It owns no
// protocol or storage logic.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/directory"
	"github.com/sealpost/sealpost/dkimsign"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/imapserver"
	"github.com/sealpost/sealpost/internal/authguard"
	"github.com/sealpost/sealpost/internal/netlimit"
	"github.com/sealpost/sealpost/internal/spill"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/metrics"
	"github.com/sealpost/sealpost/mtasts"
	"github.com/sealpost/sealpost/outbound"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/resolver"
	"github.com/sealpost/sealpost/smtpserver"
	"github.com/sealpost/sealpost/web"
)

// Options chooses what a process serves.
type Options struct {
	// Regions lists the regions whose storage this process opens and
	// serves; nil means every configured region (one process, several
	// regions, as the demo runs).
	Regions []string
	// FrontDoor makes the process a front door: no region's storage is
	// opened; IMAP and submission are proxied and mail is handed to each
	// recipient's home region over the internal links.
	FrontDoor bool
	// LedgerEvery is how often new events are published to the
	// transparency log (and the canary checked); zero means 2 seconds.
	LedgerEvery time.Duration
	// Now, if set, is the clock of the legal gateway, the transparency
	// log's ledger and the web app (time.Now otherwise): tests and
	// demonstrations move it ahead to show a nondisclosure order lapse.
	Now func() time.Time
}

// Server is a running (or ready to run) Sealpost process.
type Server struct {
	cfg  config.Config
	opts Options
	log  *slog.Logger
	tls  *tls.Config

	certs *serverCerts // where tls's certificates come from (certs.go)

	Dir     *directory.Dir
	Regions map[sealpost.RegionID]*Region // served here
	Gateway *gateway.Gateway              // the lawful-demand gateway, when Start serves the web app
	// Transparency is the transparency log, open when Start serves the
	// web app (which publishes it).
	Transparency *Transparency
	Links        map[sealpost.RegionID]*region.Link
	Router       *region.Router
	// Resolver answers the DNS questions of mail (nil when no server is
	// configured or in /etc/resolv.conf).
	Resolver *resolver.Resolver
	// Delivery delivers each served region's queue, once Start has run.
	Delivery map[sealpost.RegionID]*outbound.Service
	// DKIM holds the hosted domains' DKIM keys; Sign works once the
	// deployment key can be unlocked (server/dkim.go).
	DKIM   *dkimsign.Keys
	deploy *deploymentKey
	spam   postbox.SpamEngine // server/filters.go: rspamd, or nil
	logins *authguard.Queue   // server/auth.go
	guard  *authguard.Guard

	metrics  *metrics.Registry // server/metrics.go; nil when off
	observed bool

	mu        sync.Mutex
	listeners []*listener
	closers   []func() error
	wg        sync.WaitGroup
}

type listener struct {
	name string
	ln   net.Listener
}

// Open opens the directory and the storage of the regions this process
// serves (creating what is missing) and builds the services, without
// listening.
func Open(cfg config.Config, log *slog.Logger, opts Options) (_ *Server, err error) {
	const op = "server.Open"
	if err := cfg.Validate(); err != nil {
		return nil, errors.E(op, err)
	}
	for _, id := range opts.Regions {
		if _, ok := cfg.RegionByID(id); !ok {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("region %q is not configured", id))
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	if err := os.MkdirAll(TempDir(cfg), 0o700); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	// Messages in transit wait there in unnamed files, which a crash
	// cannot leave behind; only a file system without O_TMPFILE names
	// them, for one system call. Remove any such name a crash left.
	if err := spill.Sweep(TempDir(cfg)); err != nil {
		return nil, errors.E(op, err)
	}
	ctx := context.Background()
	s := &Server{cfg: cfg, opts: opts, log: log,
		Regions: map[sealpost.RegionID]*Region{}, Links: map[sealpost.RegionID]*region.Link{}}
	defer func() {
		if err != nil {
			s.closeStores()
		}
	}()
	if s.Dir, err = directory.Open(cfg.Directory); err != nil {
		return nil, errors.E(op, err)
	}
	qk, err := queueKey(filepath.Join(cfg.DataDir, "keys"), cfg.Argon2.Params())
	if err != nil {
		return nil, errors.E(op, err)
	}
	if err := s.openDKIM(ctx, qk); err != nil {
		return nil, errors.E(op, err)
	}
	if s.tls, err = s.openTLS(); err != nil { // certs.go: files, ACME or self-signed
		return nil, errors.E(op, err)
	}
	if s.Resolver, err = openResolver(cfg, log); err != nil {
		return nil, errors.E(op, err)
	}

	s.openMetrics()
	s.loginBounds(cfg.Auth)
	if err := s.openSpam(); err != nil {
		return nil, errors.E(op, err)
	}
	local := map[sealpost.RegionID]*postbox.Service{}
	for _, rc := range cfg.Regions {
		if !s.serves(rc.ID) {
			continue
		}
		r, err := openRegion(ctx, cfg, rc, s.Dir, qk, s.logins, log, s.filterOptions, s.observeStorage)
		if err != nil {
			return nil, errors.E(op, err)
		}
		s.Regions[r.Info.ID] = r
		local[r.Info.ID] = r.Svc
	}
	if err := s.openLinks(); err != nil {
		return nil, errors.E(op, err)
	}
	s.Router = region.NewRouter(s.Dir, local, s.Links, cfg.Limits.MaxMessageSize, region.WithGuard(s.guard))
	for _, svc := range local {
		svc.SetRelay(s.Router) // what filters send on reaches every region (postbox/followup.go)
	}
	return s, nil
}

// serves reports whether this process opens the region's storage.
func (s *Server) serves(id string) bool {
	if s.opts.FrontDoor {
		return false
	}
	if s.opts.Regions == nil {
		return true
	}
	for _, r := range s.opts.Regions {
		if r == id {
			return true
		}
	}
	return false
}

// RegionInfos returns every configured region, in configuration order.
func (s *Server) RegionInfos() []sealpost.Region {
	out := make([]sealpost.Region, len(s.cfg.Regions))
	for i, rc := range s.cfg.Regions {
		out[i] = Info(rc)
	}
	return out
}

// Config returns the configuration the server was opened with.
func (s *Server) Config() config.Config { return s.cfg }

// TLSConfig returns the server's TLS configuration.
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Start binds every configured listener and serves them in the background.
// When it returns nil, every listener accepts connections.
func (s *Server) Start() error {
	l := s.cfg.Listen
	type spec struct {
		name, addr string
		implicit   bool // TLS from the first byte, here (else the server does it, if at all)
		serve      func(net.Listener) error
		close      func() error
	}
	var specs []spec
	smtpOpts := func(mode smtpserver.Mode, implicit bool) smtpserver.Options {
		return smtpserver.Options{
			Mode: mode, Hostname: s.cfg.Hostname, TLSConfig: s.tls, ImplicitTLS: implicit,
			MaxMessageSize: s.cfg.Limits.MaxMessageSize, MaxRecipients: s.cfg.Limits.MaxRecipients, Logger: s.log,
			TempDir: TempDir(s.cfg),
		}
	}
	imapOpts := imapserver.Options{TLSConfig: s.tls, Logger: s.log, AppendLimit: uint32(s.cfg.Limits.MaxMessageSize),
		TempDir: TempDir(s.cfg)}
	add := func(name, addr string, implicit bool, serve func(net.Listener) error, close func() error) {
		if addr != "" {
			specs = append(specs, spec{name, addr, implicit, serve, close})
		}
	}
	if l.SMTP != "" {
		checker, err := s.mxChecker()
		if err != nil {
			return err
		}
		opts := smtpOpts(smtpserver.MX, false)
		opts.Checker = checker
		closeScreens, err := s.mxScreens(&opts) // screens.go: DNSBL, greylisting
		if err != nil {
			return err
		}
		srv := smtpserver.New(s.Router, opts)
		s.observeSMTP("smtp", srv)
		add("smtp", l.SMTP, false, srv.Serve, func() error {
			err := srv.Close()
			closeScreens()
			return err
		})
	}
	if s.opts.FrontDoor {
		fd := s.frontDoor()
		if l.Submission != "" {
			add("submission", l.Submission, false, func(ln net.Listener) error { return fd.ServeSubmission(ln, false) }, fd.Close)
		}
		if l.Submissions != "" {
			add("submissions", l.Submissions, false, func(ln net.Listener) error { return fd.ServeSubmission(ln, true) }, fd.Close)
		}
		if l.IMAP != "" {
			add("imap", l.IMAP, false, func(ln net.Listener) error { return fd.ServeIMAP(ln, false) }, fd.Close)
		}
		if l.IMAPS != "" {
			add("imaps", l.IMAPS, false, func(ln net.Listener) error { return fd.ServeIMAP(ln, true) }, fd.Close)
		}
		if l.ManageSieve != "" {
			add("managesieve", l.ManageSieve, false, fd.ServeManageSieve, fd.Close)
		}
	} else {
		if l.Submission != "" {
			srv := smtpserver.New(s.Router, smtpOpts(smtpserver.Submission, false))
			s.observeSMTP("submission", srv)
			add("submission", l.Submission, false, srv.Serve, srv.Close)
		}
		if l.Submissions != "" {
			srv := smtpserver.New(s.Router, smtpOpts(smtpserver.Submission, true))
			s.observeSMTP("submissions", srv)
			add("submissions", l.Submissions, true, srv.Serve, srv.Close)
		}
		if l.IMAP != "" {
			srv := imapserver.New(s.Router, imapOpts)
			add("imap", l.IMAP, false, srv.Serve, srv.Close)
		}
		if l.IMAPS != "" {
			srv := imapserver.New(s.Router, imapOpts)
			add("imaps", l.IMAPS, true, srv.Serve, srv.Close)
		}
		if l.ManageSieve != "" {
			srv := s.manageSieve(l.ManageSieve)
			add("managesieve", l.ManageSieve, false, srv.Serve, srv.Close)
		}
	}
	s.certListeners(add) // certs.go: the ACME HTTP-01 responder
	if l := s.cfg.Legal.Web; l != "" && !s.opts.FrontDoor {
		if s.Gateway == nil {
			gw, err := s.OpenGateway()
			if err != nil {
				return err
			}
			s.Gateway = gw
		}
		if s.opts.Now != nil {
			s.Gateway.SetNow(s.opts.Now)
		}
		if s.Transparency == nil {
			t, err := s.OpenTransparency(context.Background(), s.Gateway)
			if err != nil {
				return err
			}
			s.Transparency = t
		}
		app := web.New(s.Gateway, s.log)
		app.SetThrottle(s.webThrottle())
		if s.opts.Now != nil {
			app.SetNow(s.opts.Now)
		}
		app.EnableTransparency(s.Owners(), s.Transparency.Ledger)
		// RFC 8461: every hosted domain's policy names this server as its
		// MX; operators publish its _mta-sts record and route
		// mta-sts.DOMAIN here with a certificate valid for that name.
		policy, err := mtasts.PolicyText(mtasts.Mode(s.cfg.MTASTS.Mode), []string{s.cfg.Hostname}, s.cfg.MTASTS.MaxAge.D())
		if err != nil {
			return errors.E("server.Start", errors.Invalid, err)
		}
		app.EnableMTASTS(s.Router, policy)
		app.EnableAutoconfig(s.Router, s.clientServices) // server/autoconfig.go
		// Every phase of a request is bounded (a slow body, an idle
		// keep-alive); the app's pages and bodies are small.
		lim := s.cfg.Limits
		srv := &http.Server{Handler: app, ReadHeaderTimeout: min(10*time.Second, lim.WebReadTime.D()), ReadTimeout: lim.WebReadTime.D(),
			WriteTimeout: 2 * time.Minute, IdleTimeout: lim.WebIdleTime.D(), MaxHeaderBytes: 64 << 10}
		// Officers' and owners' passwords cross this listener: plain HTTP
		// only on loopback (the demo), TLS with the server's certificate
		// anywhere else.
		add("web", l, !loopback(l), srv.Serve, srv.Close)
		s.startNotifier()
		s.startLedger(s.Transparency, cmp.Or(s.opts.LedgerEvery, 2*time.Second))
	}
	if ms := s.metricsServer(); ms != nil { // server/metrics.go
		add("metrics", s.cfg.Metrics.Listen, false, ms.Serve, ms.Close)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startInternal(); err != nil {
		s.closeLocked()
		return err
	}

	pool := s.connectionPool()
	for _, sp := range specs {
		ln, err := net.Listen("tcp", sp.addr)
		if err != nil {
			s.closeLocked()
			return errors.E("server.Start", errors.Unavailable, err)
		}
		o := s.listenerLimits(sp.name, pool)
		if sp.implicit {
			o.TLS = s.tls
		}
		wl := netlimit.Wrap(ln, o)
		s.observeListener(sp.name, wl)
		ln = wl
		s.listeners = append(s.listeners, &listener{sp.name, ln})
		s.closers = append(s.closers, sp.close)
		s.wg.Add(1)
		go func(name string, serve func(net.Listener) error, ln net.Listener) {
			defer s.wg.Done()
			if err := serve(ln); err != nil && !errors.IsErr(err, net.ErrClosed) && !errors.IsErr(err, http.ErrServerClosed) {
				s.log.Error("listener stopped", "listener", name, "err", err)
			}
		}(sp.name, sp.serve, ln)
	}
	s.startCerts() // certs.go: file reloads, SIGHUP, ACME's first certificates
	if !s.opts.FrontDoor {
		if err := s.startCtl(); err != nil {
			s.closeLocked()
			return err
		}
		mx := s.cfg.Listen.SMTP
		for _, l := range s.listeners {
			if l.name == "smtp" {
				mx = l.ln.Addr().String()
			}
		}
		if err := s.startDelivery(mx); err != nil {
			s.closeLocked()
			return err
		}
	}
	s.observeRunning()
	return nil
}

// loopback reports whether a listen address is on the loopback interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startNotifier sends, every minute, the notices whose nondisclosure
// orders have lapsed, until Close.
func (s *Server) startNotifier() {
	stop := make(chan struct{})
	s.closers = append(s.closers, func() error { close(stop); return nil })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			if n, err := s.Gateway.NotifyDue(context.Background()); err != nil {
				s.log.Error("sending due notices", "err", err)
			} else if n > 0 {
				s.log.Info("notices sent", "count", n)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
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
	return s.closeStores()
}

func (s *Server) closeStores() error {
	var err error
	for _, r := range s.Regions {
		if cerr := r.Close(); err == nil {
			err = cerr
		}
	}
	for _, l := range s.Links {
		l.Close()
	}
	if s.Transparency != nil {
		if cerr := s.Transparency.Close(); err == nil {
			err = cerr
		}
	}
	if s.Gateway != nil {
		s.Gateway.Store().Close()
	}
	if s.Dir != nil {
		if cerr := s.Dir.Close(); err == nil {
			err = cerr
		}
	}
	if s.deploy != nil {
		s.deploy.wipe()
	}
	return err
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

// DemoAccount is an account the demo makes, in a given region.
type DemoAccount struct {
	Address, Password string
	Region            sealpost.RegionID
}

// EnsureDemo hosts the demo domain (default region: the first account's)
// with its DKIM keys, and creates the demo accounts that are missing, each
// in its region. It returns the addresses it created.
func (s *Server) EnsureDemo(ctx context.Context, domain string, accounts []DemoAccount) ([]string, error) {
	if len(accounts) == 0 {
		return nil, nil
	}
	if err := s.AddDomain(ctx, domain, accounts[0].Region); err != nil && !errors.Is(errors.Exist, err) {
		return nil, err
	}
	rt := s.Router
	var created []string
	for _, a := range accounts {
		if svc, _, err := rt.Postbox(ctx, a.Address); err == nil {
			if _, err := svc.LookupAccount(ctx, a.Address); err == nil {
				continue
			}
		}
		if _, _, err := rt.CreateAccount(ctx, a.Address, a.Password, a.Region); err != nil {
			return created, err
		}
		created = append(created, a.Address)
	}
	return created, nil
}

// TempDir is where messages in transit wait, sealed under keys held only in
// memory (seal.Temp), between their arrival and their sealing to each
// recipient: data_dir/tmp.
func TempDir(c config.Config) string { return filepath.Join(c.DataDir, "tmp") }
