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
// CSRF token in every form; session.go). Every password check, of either,
// runs through the server's login throttle (throttle.go); what the app
// does against hostile clients is in docs/SECURITY.md.
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

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/demand"
	"github.com/sealpost/sealpost/legal/disclose"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/legal/store"
	"github.com/sealpost/sealpost/legal/workflow"
	"github.com/sealpost/sealpost/mlog"
)

// Server is the web app.
type Server struct {
	gw          *gateway.Gateway
	log         *slog.Logger
	console     *door // the legal console's sign-in and sessions
	mux         *http.ServeMux
	crossOrigin *http.CrossOriginProtection
	throttle    Throttle

	// The privacy page and the public transparency pages, once
	// EnableTransparency is called (privacy.go, public.go).
	owners  Owners
	tl      Log
	me      *door // the privacy page's sign-in and sessions
	reports reportCache
	now     func() time.Time
}

// SetNow sets the clock the privacy and report pages and the sessions'
// expiry use (time.Now by default): the same clock as the gateway and the
// ledger, when a test or a demonstration moves it ahead.
func (s *Server) SetNow(now func() time.Time) { s.now = now }

// clock is the time now by the clock SetNow set.
func (s *Server) clock() time.Time { return s.now() }

// New returns the web app over a gateway.
func New(gw *gateway.Gateway, log *slog.Logger) *Server {
	if log == nil {
		log = mlog.Discard()
	}
	s := &Server{gw: gw, log: log, mux: http.NewServeMux(),
		crossOrigin: http.NewCrossOriginProtection(), throttle: noThrottle, now: time.Now}
	s.console = newConsoleDoor(s.clock)
	s.routesAPI()
	s.routesConsole()
	return s
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
			unauthorized(w, ownerRealm)
			return
		}
		var ns []store.Notice
		err := s.checkPassword(r, LoginOwnerAPI, sealpost.NormalizeAddress(addr), func(ctx context.Context) error {
			var err error
			ns, err = s.gw.MyNotices(ctx, addr, pass)
			return err
		})
		if err != nil {
			s.apiRefused(w, err, LoginOwnerAPI, ownerRealm)
			return
		}
		if ns == nil {
			ns = []store.Notice{}
		}
		writeJSON(w, http.StatusOK, ns)
	})
	s.mux.HandleFunc("POST /api/v1/explain", s.api(maxBody, func(ctx context.Context, _ workflow.Actor, r *http.Request) (any, error) {
		d, _, err := s.readDemand(r)
		if err != nil {
			return nil, err
		}
		decisions, err := s.gw.Explain(ctx, d)
		return map[string]any{"decisions": decisions}, err
	}))
	s.mux.HandleFunc("GET /api/v1/demands", s.api(0, func(ctx context.Context, _ workflow.Actor, _ *http.Request) (any, error) {
		sums, err := s.gw.Store().Demands(ctx)
		if sums == nil {
			sums = []store.Summary{}
		}
		return sums, err
	}))
	s.mux.HandleFunc("POST /api/v1/demands", s.api(maxBody, func(ctx context.Context, officer workflow.Actor, r *http.Request) (any, error) {
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
	s.mux.HandleFunc("GET /api/v1/demands/{id}", s.api(0, func(ctx context.Context, _ workflow.Actor, r *http.Request) (any, error) {
		return s.gw.Store().Demand(ctx, r.PathValue("id"))
	}))
	s.mux.HandleFunc("POST /api/v1/demands/{id}/transitions", s.api(maxForm, func(ctx context.Context, officer workflow.Actor, r *http.Request) (any, error) {
		var body struct {
			To   legal.State `json:"to"`
			Note string      `json:"note"`
		}
		if err := decodeJSON(r, &body); err != nil {
			return nil, err
		}
		return s.gw.Transition(ctx, officer, r.PathValue("id"), body.To, body.Note)
	}))
	s.mux.HandleFunc("POST /api/v1/demands/{id}/approvals", s.api(maxForm, func(ctx context.Context, officer workflow.Actor, r *http.Request) (any, error) {
		var body struct {
			Note string `json:"note"`
		}
		if err := decodeJSON(r, &body); err != nil {
			return nil, err
		}
		return map[string]string{"approved_by": officer.Name}, s.gw.Approve(ctx, officer, r.PathValue("id"), body.Note)
	}))
	s.mux.HandleFunc("POST /api/v1/demands/{id}/disclosure", bounded(maxForm, func(w http.ResponseWriter, r *http.Request) {
		officer, ok := s.basicAuth(w, r)
		if !ok {
			return
		}
		var buf bytes.Buffer
		if _, err := s.gw.Disclose(r.Context(), officer, r.PathValue("id"), &buf); err != nil {
			writeError(w, s.log, err)
			return
		}
		attachment(w, "application/x-tar", r.PathValue("id")+".tar")
		w.Write(buf.Bytes())
	}))
}

// api wraps a handler that needs an officer and answers JSON; its request
// body, read only once the officer is known, may be at most limit bytes.
func (s *Server) api(limit int64, fn func(context.Context, workflow.Actor, *http.Request) (any, error)) http.HandlerFunc {
	return bounded(limit, func(w http.ResponseWriter, r *http.Request) {
		officer, ok := s.basicAuth(w, r)
		if !ok {
			return
		}
		v, err := fn(r.Context(), officer, r)
		if err != nil {
			writeError(w, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// The realms of HTTP Basic authentication (RFC 7617), and what a request
// without valid credentials is told.
const (
	officerRealm = `Basic realm="sealpost legal", charset="UTF-8"`
	ownerRealm   = `Basic realm="sealpost mail", charset="UTF-8"`
)

// unauthorized answers a request without valid credentials for realm; it
// does not say whether the name or the password was wrong.
func unauthorized(w http.ResponseWriter, realm string) {
	w.Header().Set("WWW-Authenticate", realm)
	msg := "a legal officer's name and password are required"
	if realm == ownerRealm {
		msg = "the account's address and password are required"
	}
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": msg})
}

// apiRefused answers an API request whose credentials were refused: 401
// the same for a wrong password as for an unknown name, 503 when the
// throttle refused the attempt or the check could not be made.
func (s *Server) apiRefused(w http.ResponseWriter, err error, login Login, realm string) {
	if code, _ := s.refused(w, err, login, ""); code == http.StatusUnauthorized {
		unauthorized(w, realm)
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": errors.Unavailable.String(),
		"message": "authentication is not possible just now; try again later"})
}

// basicAuth returns the officer r's HTTP Basic credentials name, checked
// through the throttle; if they are missing or refused it answers w and
// returns false.
func (s *Server) basicAuth(w http.ResponseWriter, r *http.Request) (workflow.Actor, bool) {
	name, pass, ok := r.BasicAuth()
	if !ok {
		unauthorized(w, officerRealm)
		return workflow.Actor{}, false
	}
	var officer workflow.Actor
	err := s.checkPassword(r, LoginOfficerAPI, name, func(ctx context.Context) error {
		var err error
		officer, err = s.gw.Officer(ctx, name, pass)
		return err
	})
	if err != nil {
		s.apiRefused(w, err, LoginOfficerAPI, officerRealm)
		return workflow.Actor{}, false
	}
	return officer, true
}

// readDemand reads a demand from a request: either the demand document
// itself (JSON or YAML), or JSON {"demand": {...}, "documents": {"name":
// "base64", ...}}.
func (s *Server) readDemand(r *http.Request) (legal.Demand, map[string][]byte, error) {
	body, err := io.ReadAll(r.Body) // bounded by api
	if err != nil {
		return legal.Demand{}, nil, bodyError("web.readDemand", err)
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

// decodeJSON decodes r's body (bounded by api) into v.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError("web.decode", err)
	}
	return nil
}

// bodyError is the error of op reading or decoding a request body: of kind
// TooLarge past the body's bound (413), else Invalid.
func bodyError(op string, err error) error {
	if tooLarge(err) {
		return errors.E(op, errors.TooLarge, errors.Str("the request body is too large"))
	}
	return errors.E(op, errors.Invalid, err)
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
