package web

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/sealpost/sealpost/autoconfig"
	"github.com/sealpost/sealpost/errors"
)

// This file serves what mail clients configure themselves from, for hosted
// domains only (package autoconfig builds the documents): Thunderbird's
// autoconfig file, Microsoft's autodiscover, and the owner's Apple
// profile on the privacy page.

// ClientServices returns the mail services clients of a hosted domain use
// (the server's name and the ports it serves).
type ClientServices func(domain string) autoconfig.Services

// EnableAutoconfig serves, for every domain d hosts:
//
//   - Thunderbird's autoconfig file (clientConfig 1.1) at GET
//     /.well-known/autoconfig/mail/config-v1.1.xml on any host, and at GET
//     /mail/config-v1.1.xml on autoconfig.DOMAIN, for the domain of the
//     emailaddress parameter or else of the host (DOMAIN or
//     autoconfig.DOMAIN);
//   - Microsoft's autodiscover at POST /autodiscover/autodiscover.xml (and
//     /Autodiscover/Autodiscover.xml) on any host, for the address the
//     request names (at most autoconfig.MaxRequest bytes);
//   - once EnableTransparency was called, the signed-in owner's Apple
//     profile at GET /me/mobileconfig.
//
// Anything about a domain not hosted is 404. Call it once, before serving,
// after EnableTransparency.
func (s *Server) EnableAutoconfig(d Domains, services ClientServices) {
	thunderbird := func(autoconfigHost bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			host := requestHost(r)
			sub, isSub := strings.CutPrefix(host, "autoconfig.")
			if autoconfigHost && !isSub {
				http.NotFound(w, r)
				return
			}
			domain := host
			if isSub {
				domain = sub
			}
			if addr := r.URL.Query().Get("emailaddress"); addr != "" {
				_, ad, err := autoconfig.Address(addr)
				if err != nil {
					http.Error(w, "The emailaddress parameter is not a mail address.", http.StatusBadRequest)
					return
				}
				domain = ad
			}
			if !s.hosted(w, r, d, domain) {
				return
			}
			doc, err := autoconfig.Thunderbird(services(domain))
			s.writeDoc(w, "thunderbird", "text/xml; charset=utf-8", doc, err)
		}
	}
	s.mux.HandleFunc("GET /.well-known/autoconfig/mail/config-v1.1.xml", thunderbird(false))
	s.mux.HandleFunc("GET /mail/config-v1.1.xml", thunderbird(true))

	autodiscover := bounded(autoconfig.MaxRequest, func(w http.ResponseWriter, r *http.Request) {
		req, err := autoconfig.ParseRequest(r.Body)
		if err != nil {
			if tooLarge(err) || errors.Is(errors.TooLarge, err) {
				http.Error(w, "The request is too large.", http.StatusRequestEntityTooLarge)
			} else {
				http.Error(w, "The body is not an autodiscover request naming a mail address.", http.StatusBadRequest)
			}
			return
		}
		_, domain, _ := strings.Cut(req.Address, "@")
		if !s.hosted(w, r, d, domain) {
			return
		}
		doc, err := autoconfig.Autodiscover(services(domain), req)
		s.writeDoc(w, "autodiscover", "text/xml; charset=utf-8", doc, err)
	})
	s.mux.HandleFunc("POST /autodiscover/autodiscover.xml", autodiscover)
	s.mux.HandleFunc("POST /Autodiscover/Autodiscover.xml", autodiscover)

	if s.me == nil {
		return
	}
	s.mux.HandleFunc("GET /me/mobileconfig", s.ownerPage(func(w http.ResponseWriter, r *http.Request, sess *session) {
		_, domain, err := autoconfig.Address(sess.owner)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		doc, err := autoconfig.MobileConfig(services(domain), sess.owner, "")
		if err == nil {
			attachment(w, autoconfig.MobileConfigType, domain+".mobileconfig")
		}
		s.writeDoc(w, "mobileconfig", "", doc, err)
	}))
}

// requestHost is r's Host, lower-case, without port or trailing dot.
func requestHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// hosted reports whether domain is hosted here; if not (or if that cannot
// be known) it has answered 404 (or 503).
func (s *Server) hosted(w http.ResponseWriter, r *http.Request, d Domains, domain string) bool {
	ok, err := d.IsHostedDomain(r.Context(), domain)
	if err != nil && !errors.IsErr(err, context.Canceled) {
		s.log.Error("web autoconfig", "err", err)
		http.Error(w, "The settings are not available just now.", http.StatusServiceUnavailable)
		return false
	}
	if !ok {
		http.NotFound(w, r)
	}
	return ok && err == nil
}

// writeDoc writes a document made for a hosted domain; an error making it
// is ours (the services as configured).
func (s *Server) writeDoc(w http.ResponseWriter, what, typ string, doc []byte, err error) {
	if err != nil {
		s.log.Error("web autoconfig", "document", what, "err", err)
		http.Error(w, "The settings are not available.", http.StatusInternalServerError)
		return
	}
	if typ != "" {
		w.Header().Set("Content-Type", typ)
	}
	w.Write(doc)
}
