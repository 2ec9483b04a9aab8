// Package web is Sealpost's small server-rendered web app and its JSON API:
// the legal console, where legal officers file and review government
// demands (docs/LEGAL.md); and, once EnableTransparency is called, each
// account owner's privacy page (/me) and the public transparency pages
// (/log/, /transparency, /canary); once EnableMTASTS is called, the MTA-STS
// policy of each hosted domain (RFC 8461, at mta-sts.DOMAIN). Pages are Go
// html/template: they work in any browser, with a screen reader, and on a
// phone. The one script, /static/verify.js, only checks in the reader's
// browser the log proofs the privacy page shows; without it the page says
// the proofs are unchecked.
//
// The API (under /api/v1/) and the console share one gateway and one rule:
// only legal officers act on demands. The API takes an officer's name and
// password by HTTP Basic authentication on every request; the console logs
// in once and keeps a session cookie (HttpOnly, SameSite=Strict, with a
// CSRF token in every form).
package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/demand"
	"github.com/sealpost/sealpost/legal/disclose"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/legal/store"
	"github.com/sealpost/sealpost/legal/workflow"
	"github.com/sealpost/sealpost/mlog"
)

// maxBody bounds a request body: a demand with its documents.
const maxBody = 32 << 20

// Server is the web app.
type Server struct {
	gw       *gateway.Gateway
	log      *slog.Logger
	sessions *sessions
	mux      *http.ServeMux

	// The privacy page and the public transparency pages, once
	// EnableTransparency is called (privacy.go, public.go).
	owners   Owners
	tl       Log
	ownerSes *sessions
	reports  reportCache
	now      func() time.Time
}

// SetNow sets the clock the privacy and report pages use (time.Now by
// default): the same clock as the gateway and the ledger, when a test or a
// demonstration moves it ahead.
func (s *Server) SetNow(now func() time.Time) { s.now = now }

// New returns the web app over a gateway.
func New(gw *gateway.Gateway, log *slog.Logger) *Server {
	if log == nil {
		log = mlog.Discard()
	}
	s := &Server{gw: gw, log: log, sessions: newSessions(sessionTTL), mux: http.NewServeMux(), now: time.Now}
	s.routesAPI()
	s.routesConsole()
	return s
}

// ServeHTTP serves the app.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routesAPI() {
	s.mux.HandleFunc("GET /api/v1/key", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"key": disclose.EncodePublicKey(s.gw.PublicKey())})
	})
	// An account owner (mail credentials, not an officer's) reads the
	// notices sent to them about demands naming them.
	s.mux.HandleFunc("GET /api/v1/me/notices", func(w http.ResponseWriter, r *http.Request) {
		addr, pass, ok := r.BasicAuth()
		if !ok {
			unauthorized(w)
			return
		}
		ns, err := s.gw.MyNotices(r.Context(), addr, pass)
		if err != nil {
			unauthorized(w)
			return
		}
		if ns == nil {
			ns = []store.Notice{}
		}
		writeJSON(w, http.StatusOK, ns)
	})
	s.mux.HandleFunc("POST /api/v1/explain", s.api(func(ctx context.Context, _ workflow.Actor, r *http.Request) (any, error) {
		d, _, err := s.readDemand(r)
		if err != nil {
			return nil, err
		}
		decisions, err := s.gw.Explain(ctx, d)
		return map[string]any{"decisions": decisions}, err
	}))
	s.mux.HandleFunc("GET /api/v1/demands", s.api(func(ctx context.Context, _ workflow.Actor, _ *http.Request) (any, error) {
		sums, err := s.gw.Store().Demands(ctx)
		if sums == nil {
			sums = []store.Summary{}
		}
		return sums, err
	}))
	s.mux.HandleFunc("POST /api/v1/demands", s.api(func(ctx context.Context, officer workflow.Actor, r *http.Request) (any, error) {
		d, docs, err := s.readDemand(r)
		if err != nil {
			return nil, err
		}
		d, decisions, err := s.gw.File(ctx, officer, d, docs)
		if err != nil {
			return nil, err
		}
		return map[string]any{"id": d.ID, "decisions": decisions}, nil
	}))
	s.mux.HandleFunc("GET /api/v1/demands/{id}", s.api(func(ctx context.Context, _ workflow.Actor, r *http.Request) (any, error) {
		return s.gw.Store().Demand(ctx, r.PathValue("id"))
	}))
	s.mux.HandleFunc("POST /api/v1/demands/{id}/transitions", s.api(func(ctx context.Context, officer workflow.Actor, r *http.Request) (any, error) {
		var body struct {
			To   legal.State `json:"to"`
			Note string      `json:"note"`
		}
		if err := decodeJSON(r, &body); err != nil {
			return nil, err
		}
		return s.gw.Transition(ctx, officer, r.PathValue("id"), body.To, body.Note)
	}))
	s.mux.HandleFunc("POST /api/v1/demands/{id}/approvals", s.api(func(ctx context.Context, officer workflow.Actor, r *http.Request) (any, error) {
		var body struct {
			Note string `json:"note"`
		}
		if err := decodeJSON(r, &body); err != nil {
			return nil, err
		}
		return map[string]string{"approved_by": officer.Name}, s.gw.Approve(ctx, officer, r.PathValue("id"), body.Note)
	}))
	s.mux.HandleFunc("POST /api/v1/demands/{id}/disclosure", func(w http.ResponseWriter, r *http.Request) {
		officer, err := s.basicAuth(r)
		if err != nil {
			unauthorized(w)
			return
		}
		var buf bytes.Buffer
		if _, err := s.gw.Disclose(r.Context(), officer, r.PathValue("id"), &buf); err != nil {
			writeError(w, s.log, err)
			return
		}
		w.Header().Set("Content-Type", "application/x-tar")
		w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("id")+`.tar"`)
		w.Write(buf.Bytes())
	})
}

// api wraps a handler that needs an officer and answers JSON.
func (s *Server) api(fn func(context.Context, workflow.Actor, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		officer, err := s.basicAuth(r)
		if err != nil {
			unauthorized(w)
			return
		}
		v, err := fn(r.Context(), officer, r)
		if err != nil {
			writeError(w, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// unauthorized answers a request without valid officer credentials; it
// does not say whether the name or the password was wrong.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="sealpost legal", charset="UTF-8"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a legal officer's name and password are required"})
}

func (s *Server) basicAuth(r *http.Request) (workflow.Actor, error) {
	name, pass, ok := r.BasicAuth()
	if !ok {
		return workflow.Actor{}, errors.E("web.auth", errors.Permission, errors.Str("a legal officer's credentials are required"))
	}
	return s.gw.Officer(r.Context(), name, pass)
}

// readDemand reads a demand from a request: either the demand document
// itself (JSON or YAML), or JSON {"demand": {...}, "documents": {"name":
// "base64", ...}}.
func (s *Server) readDemand(r *http.Request) (legal.Demand, map[string][]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return legal.Demand{}, nil, errors.E("web.readDemand", errors.TooLarge, err)
	}
	var env struct {
		Demand    json.RawMessage   `json:"demand"`
		Documents map[string]string `json:"documents"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) && json.Unmarshal(body, &env) == nil && len(env.Demand) > 0 {
		d, err := s.gw.Parse(env.Demand)
		if err != nil {
			return d, nil, err
		}
		docs := make(map[string][]byte, len(env.Documents))
		for name, b64 := range env.Documents {
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return d, nil, errors.E("web.readDemand", errors.Invalid, errors.Errorf("document %s: not base64", name))
			}
			docs[name] = b
		}
		return d, docs, nil
	}
	d, err := s.gw.Parse(body)
	return d, nil, err
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.E("web.decode", errors.Invalid, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

var statusOf = map[errors.Kind]int{
	errors.Invalid:    http.StatusBadRequest,
	errors.Permission: http.StatusForbidden,
	errors.NotExist:   http.StatusNotFound,
	errors.Exist:      http.StatusConflict,
	errors.TooLarge:   http.StatusRequestEntityTooLarge,
}

// writeError answers an error as JSON: its kind, a message, and for an
// invalid demand each field's error. Internal errors are logged and
// answered generically.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	kind := errors.KindOf(err)
	code, ok := statusOf[kind]
	body := map[string]any{"error": kind.String()}
	if ok {
		body["message"] = lastCause(err)
	} else {
		code = http.StatusInternalServerError
		log.Error("web", "err", err)
	}
	var fe demand.Errors
	if errors.As(err, &fe) {
		body["fields"] = fe
	}
	writeJSON(w, code, body)
}

// lastCause is the innermost message of an error chain, without the
// operations: what a person needs to read.
func lastCause(err error) string {
	var e *errors.Error
	for errors.As(err, &e) && e.Err != nil {
		err = e.Err
	}
	return err.Error()
}
