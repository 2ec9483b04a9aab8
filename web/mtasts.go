package web

import (
	"context"
	"net"
	"net/http"
	"strings"
)

// Domains says which mail domains this server hosts; the server implements
// it over the directory.
type Domains interface {
	// IsHostedDomain reports whether domain (lower-case, without a
	// trailing dot) is hosted here; an error only when that cannot be
	// known now.
	IsHostedDomain(ctx context.Context, domain string) (bool, error)
}

// EnableMTASTS serves policy, an MTA-STS policy file (RFC 8461 3.2, as
// mtasts.PolicyText makes it), at GET /.well-known/mta-sts.txt to requests
// whose Host is mta-sts.DOMAIN for a domain d hosts (RFC 8461 3.3), as
// text/plain; any other host gets 404. Call it once, before serving.
func (s *Server) EnableMTASTS(d Domains, policy []byte) {
	s.mux.HandleFunc("GET /.well-known/mta-sts.txt", func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		domain, ok := strings.CutPrefix(strings.ToLower(strings.TrimSuffix(host, ".")), "mta-sts.")
		if !ok || domain == "" {
			http.NotFound(w, r)
			return
		}
		hosted, err := d.IsHostedDomain(r.Context(), domain)
		if err != nil {
			s.log.Error("web mta-sts", "domain", domain, "err", err)
			http.Error(w, "The policy is not available just now.", http.StatusServiceUnavailable)
			return
		}
		if !hosted {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(policy)
	})
}
