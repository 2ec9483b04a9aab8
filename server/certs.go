package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sealpost/sealpost/certs"
	"github.com/sealpost/sealpost/errors"
)

// serverCerts is where the public listeners' certificates come from
// ([tls]: package certs): files, ACME, or the demo's self-signed one.
type serverCerts struct {
	src   certs.Source
	files *certs.Files // when [tls] names cert and key files
	acme  *certs.ACME  // when [tls.acme]
}

// ACMEDir is where ACME keeps its account key and the certificates with
// their private keys: data_dir/acme (0700, files 0600).
func ACMEDir(dataDir string) string { return filepath.Join(dataDir, "acme") }

// openTLS builds the certificate source [tls] chooses and the TLS
// configuration every public listener shares, which asks the source at
// each handshake.
func (s *Server) openTLS() (*tls.Config, error) {
	const op = "server.openTLS"
	t := s.cfg.TLS
	c := &serverCerts{}
	switch {
	case t.ACME != nil:
		var roots *x509.CertPool
		if t.ACME.DirectoryCA != "" {
			pem, err := os.ReadFile(t.ACME.DirectoryCA)
			if err != nil {
				return nil, errors.E(op, errors.Invalid, err)
			}
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				return nil, errors.E(op, errors.Invalid, errors.Errorf("%s holds no PEM certificate", t.ACME.DirectoryCA))
			}
		}
		a, err := certs.NewACME(certs.ACMEOptions{
			DirectoryURL: t.ACME.DirectoryURL(), Email: t.ACME.Email,
			CacheDir: ACMEDir(s.cfg.DataDir), Default: s.cfg.Hostname,
			Policy: certs.Policy{Names: t.ACME.Names, Prefixes: []string{"mta-sts.", "autoconfig.", "autodiscover."}, Hosted: s.hostedDomain},
			Roots:  roots, RenewBefore: t.ACME.RenewBefore.D(), Log: s.log,
		})
		if err != nil {
			return nil, errors.E(op, err)
		}
		c.src, c.acme = a, a
	case t.SelfSigned:
		cert, err := selfSigned(filepath.Join(s.cfg.DataDir, "tls"), s.cfg.Hostname)
		if err != nil {
			return nil, errors.E(op, errors.Invalid, err)
		}
		c.src = certs.NewStatic(cert)
	default:
		f, err := certs.OpenFiles(t.Cert, t.Key, s.log)
		if err != nil {
			return nil, errors.E(op, err)
		}
		c.src, c.files = f, f
	}
	s.certs = c
	return publicTLS(c.src), nil
}

// hostedDomain is the ACME policy's question: is domain hosted here?
func (s *Server) hostedDomain(ctx context.Context, domain string) (bool, error) {
	_, err := s.Dir.Domain(ctx, domain)
	if errors.Is(errors.NotExist, err) {
		return false, nil
	}
	return err == nil, err
}

// certListeners adds the HTTP-01 responder ([tls.acme] http) to the
// listeners Start binds.
func (s *Server) certListeners(add func(name, addr string, implicit bool, serve func(net.Listener) error, close func() error)) {
	if s.certs.acme == nil || s.cfg.TLS.ACME.HTTP == "" {
		return
	}
	srv := &http.Server{Handler: s.certs.acme.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10}
	add("acme-http", s.cfg.TLS.ACME.HTTP, false, srv.Serve, srv.Close)
}

// startCerts, once the listeners are bound: certificate files are checked
// for a change every reload_every and read again on SIGHUP (which never
// ends the process, whatever the source); with ACME the
// host name's certificate (and [tls.acme] names') is got now, in the
// background, rather than by the first client.
func (s *Server) startCerts() {
	c := s.certs
	s.closers = append(s.closers, c.src.Close)
	if c.files != nil {
		c.files.Watch(s.cfg.TLS.ReloadEvery.D())
	}
	// SIGHUP (systemctl reload) reads the certificate files again; with
	// other sources there is nothing to read, and the signal must not end
	// the process as it would by default.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stop := make(chan struct{})
	s.closers = append(s.closers, func() error { signal.Stop(hup); close(stop); return nil })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-hup:
				if c.files == nil {
					s.log.Info("tls: SIGHUP: no certificate files to read again")
					continue
				}
				s.log.Info("tls: SIGHUP: reading the certificate files again")
				c.files.Reload() // logs a failure itself
			}
		}
	}()
	if c.acme != nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.closers = append(s.closers, func() error { cancel(); return nil })
		// Not waited for by Close: a closed source fails its next request
		// to the CA at once.
		go c.acme.Warm(ctx, append([]string{s.cfg.Hostname}, s.cfg.TLS.ACME.Names...)...)
	}
}
