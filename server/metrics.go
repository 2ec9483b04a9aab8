package server

import (
	"net/http"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/netlimit"
	"github.com/sealpost/sealpost/metrics"
	"github.com/sealpost/sealpost/smtpserver"
)

// metricsPerSource bounds one source's connections to the metrics
// listener: a scraper or two.
const metricsPerSource = 4

// openMetrics makes the process's metrics registry when [metrics] listen
// is set; the observe methods below do nothing without it.
func (s *Server) openMetrics() {
	if l := s.cfg.Metrics.Listen; l != "" {
		s.metrics = metrics.New()
		if !loopback(l) {
			// Nothing secret is there, but the load and the mail volume
			// are the operator's to share.
			s.log.Warn("metrics are served in plain HTTP beyond loopback: let only the scraper reach it", "addr", l)
		}
	}
}

// Metrics is the process's metrics registry, nil when metrics are off.
func (s *Server) Metrics() *metrics.Registry { return s.metrics }

// loginWaited is the login queue's Waited: the Argon2 queue's wait into
// its histogram (nil without metrics).
func (s *Server) loginWaited() func(time.Duration) {
	if s.metrics == nil {
		return nil
	}
	return s.metrics.ArgonWaited
}

// observeStorage puts a region's store and blob store, as its postbox
// sees them, behind the metrics' timing (unchanged without metrics).
func (s *Server) observeStorage(id sealpost.RegionID, st sealpost.Store, b sealpost.BlobStore) (sealpost.Store, sealpost.BlobStore) {
	if s.metrics == nil {
		return st, b
	}
	return s.metrics.Store(id, st), s.metrics.Blobs(id, b)
}

// metricsServer is the HTTP server of the metrics listener, nil when
// metrics are off: only GET /metrics, every phase of a request bounded.
func (s *Server) metricsServer() *http.Server {
	if s.metrics == nil {
		return nil
	}
	return &http.Server{Handler: s.metrics.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
}

// observeListener adds a bound listener's connections and sessions.
func (s *Server) observeListener(name string, l *netlimit.Listener) {
	if s.metrics == nil {
		return
	}
	kind := metrics.NoSessions
	switch name {
	case "smtp":
		kind = metrics.EveryConnection
	case "submission", "submissions", "imap", "imaps", "managesieve":
		kind = metrics.Authenticated
	}
	s.metrics.Listener(name, l, kind)
}

// observeSMTP adds an SMTP listener's results.
func (s *Server) observeSMTP(name string, srv *smtpserver.Server) {
	if s.metrics != nil {
		s.metrics.SMTP(name, srv.Stats())
	}
}

// observeRunning adds what Start has made: the login guard and queue,
// each region's queue and delivery, the transparency log. Once.
func (s *Server) observeRunning() {
	if s.metrics == nil || s.observed {
		return
	}
	s.observed = true
	s.metrics.Logins(s.guard, s.logins)
	for id, r := range s.Regions {
		s.metrics.Queue(id, r.Store)
		if svc := s.Delivery[id]; svc != nil {
			s.metrics.Outbound(id, svc)
		}
	}
	if t := s.Transparency; t != nil {
		s.metrics.TreeSize(t.Log.Size)
	}
}
