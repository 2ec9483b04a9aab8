package web

import (
	"io"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/sealpost/sealpost/errors"
)

// This file is what every response of the app shares: its headers, the
// bounds on request bodies, and the refusal of cross-origin posts.

// Body limits (docs/SECURITY.md). ServeHTTP bounds every request body to
// maxForm; a route that takes more says so with its own bound (bounded,
// readForm). Reading past the bound fails (tooLarge): the request is
// answered 413 and its connection closed.
const (
	// maxForm bounds a form: a sign-in, a sign-out, a step of a demand, a
	// mailbox move; and the API's small JSON bodies.
	maxForm = 64 << 10
	// maxBody bounds a demand with its documents: the console's filing
	// form (multipart) and the API's demand bodies (documents in base64).
	maxBody = 32 << 20
)

// hsts is the Strict-Transport-Security of a response over TLS (RFC 6797):
// a year, for this host only (other hosts of the domain may not have TLS).
const hsts = "max-age=31536000"

// defaultCSP is the Content-Security-Policy of a response that sets none
// itself (errors, redirects, files): nothing may load, nothing may frame it.
// Pages set their own (consoleCSP, ownerCSP).
const defaultCSP = "default-src 'none'; frame-ancestors 'none'"

// ServeHTTP serves the app.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", defaultCSP)
	r.Body = &body{ReadCloser: http.MaxBytesReader(w, r.Body, maxForm), raw: r.Body}
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", hsts)
	}
	if !public(r.URL.Path) {
		// Console and owner pages, the API: personal data, never kept
		// by a browser or a proxy. Public pages set their own.
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	// A browser's post from another origin (Sec-Fetch-Site, else Origin
	// against Host) is refused whatever it carries: defence in depth
	// beside the CSRF tokens, and what stops a sibling subdomain from
	// planting a sign-in token cookie. Clients that are not browsers
	// send neither header and pass.
	if err := s.crossOrigin.Check(r); err != nil {
		s.log.Info("web cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		http.Error(w, "Cross-origin requests are refused.", http.StatusForbidden)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// public reports whether the page at p is public: the same for everyone,
// so caching is left to its handler (the log's tiles are immutable).
// Anything else is private and not stored.
func public(p string) bool {
	p = path.Clean("/" + p)
	switch p {
	case "/style.css", "/transparency", "/canary", "/.well-known/mta-sts.txt":
		return true
	}
	for _, prefix := range []string{"/log/", "/static/", "/transparency/"} {
		if strings.HasPrefix(p+"/", prefix) {
			return true
		}
	}
	return false
}

// A body is a request body as ServeHTTP bounds it, with the body it bounds,
// so that a route may bound it otherwise (limitBody).
type body struct {
	io.ReadCloser // the bounded body
	raw           io.ReadCloser
}

// limitBody bounds r's body, unread yet, to limit bytes instead of
// ServeHTTP's maxForm.
func limitBody(w http.ResponseWriter, r *http.Request, limit int64) {
	raw := r.Body
	if b, ok := r.Body.(*body); ok {
		raw = b.raw
	}
	r.Body = &body{ReadCloser: http.MaxBytesReader(w, raw, limit), raw: raw}
}

// readForm bounds r's body to limit bytes and reads its form (URL-encoded
// or multipart) into r.PostForm (and r.MultipartForm); the form's values
// are read only from there, never from the URL. On failure it answers 413
// (too large) or 400 and returns false.
func readForm(w http.ResponseWriter, r *http.Request, limit int64) bool {
	limitBody(w, r, limit)
	var err error
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		err = r.ParseMultipartForm(limit)
	} else {
		err = r.ParseForm()
	}
	if err == nil {
		return true
	}
	if tooLarge(err) {
		http.Error(w, "The form is too large.", http.StatusRequestEntityTooLarge)
	} else {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
	}
	return false
}

// bounded wraps h so that its request body may be at most limit bytes
// (instead of ServeHTTP's maxForm).
func bounded(limit int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limitBody(w, r, limit)
		h(w, r)
	}
}

// tooLarge reports whether err is a body's exceeding its bound.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
