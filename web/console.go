package web

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/demand"
	"github.com/sealpost/sealpost/legal/disclose"
	"github.com/sealpost/sealpost/legal/store"
	"github.com/sealpost/sealpost/legal/workflow"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"nice": func(v any) string { return strings.ReplaceAll(fmt.Sprint(v), "_", " ") },
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}).ParseFS(templateFS, "templates/*.html"))

// sessionTTL bounds a console session.
const sessionTTL = 8 * time.Hour

// A session is one signed-in person: an officer of the console, or an
// account's owner on the privacy page (each kind in its own sessions, under
// its own cookie).
type session struct {
	officer workflow.Actor
	owner   string // the owner's normalized address
	csrf    string
	expires time.Time
}

// sessions are the signed-in officers or owners, in memory only: a restart
// logs everyone out.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{m: make(map[string]*session), ttl: ttl}
}

func token() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// start begins a session for who (its officer or owner), with a new ID and
// CSRF token.
func (ss *sessions) start(who session) (id string, s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := time.Now()
	for k, v := range ss.m {
		if now.After(v.expires) {
			delete(ss.m, k)
		}
	}
	id = token()
	s = &session{officer: who.officer, owner: who.owner, csrf: token(), expires: now.Add(ss.ttl)}
	ss.m[id] = s
	return id, s
}

func (ss *sessions) get(id string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil || time.Now().After(s.expires) {
		delete(ss.m, id)
		return nil
	}
	return s
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

const cookieName = "sealpost_session"

// fromRequest returns the session whose cookie (named cookie) r carries;
// for a POST it also checks the form's CSRF token.
func (ss *sessions) fromRequest(r *http.Request, cookie string) *session {
	c, err := r.Cookie(cookie)
	if err != nil {
		return nil
	}
	sess := ss.get(c.Value)
	if sess == nil {
		return nil
	}
	if r.Method == http.MethodPost && subtle.ConstantTimeCompare([]byte(r.FormValue("csrf")), []byte(sess.csrf)) != 1 {
		return nil
	}
	return sess
}

// officer returns the session of a console request (CSRF checked on POST).
func (s *Server) officer(r *http.Request) *session { return s.sessions.fromRequest(r, cookieName) }

// area is the part of the app a page belongs to, for its header and footer.
type area struct {
	Name, Home, Logout string
	User               string // signed in, "" if no one
	Footer             template.HTML
}

type pageData struct {
	Title   string
	Officer string
	CSRF    string
	Error   string
	Flash   string
	Fields  any
	Demands []store.Summary
	Rec     *store.Record
	Next    []legal.State
	Key     string
}

// Area puts a console page in the legal console.
func (d pageData) Area() area {
	return area{Name: "legal console", Home: "/console", Logout: "/console/logout", User: d.Officer,
		Footer: "Every step here is recorded, with who took it and when. Sealed content can only ever be handed over as ciphertext."}
}

// FieldErrors are a filing's field-level errors.
func (d pageData) FieldErrors() any { return d.Fields }

func (s *Server) render(w http.ResponseWriter, name string, code int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(code)
	if err := pages.ExecuteTemplate(w, name, d); err != nil {
		s.log.Error("web render", "page", name, "err", err)
	}
}

func (s *Server) routesConsole() {
	s.mux.HandleFunc("GET /style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		b, _ := templateFS.ReadFile("templates/style.css")
		w.Write(b)
	})
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// With the privacy page enabled, the front page is the owners'
		// (there are many more of them than officers).
		to := "/console"
		if s.owners != nil {
			to = "/me"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
	s.mux.HandleFunc("GET /console/login", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, "login.html", http.StatusOK, pageData{Title: "Legal console: sign in"})
	})
	s.mux.HandleFunc("POST /console/login", func(w http.ResponseWriter, r *http.Request) {
		officer, err := s.gw.Officer(r.Context(), r.FormValue("name"), r.FormValue("password"))
		if err != nil {
			s.render(w, "login.html", http.StatusUnauthorized, pageData{Title: "Legal console: sign in", Error: "Wrong name or password, or not a legal officer."})
			return
		}
		id, _ := s.sessions.start(session{officer: officer})
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
			Secure: r.TLS != nil, MaxAge: int(sessionTTL / time.Second)})
		http.Redirect(w, r, "/console", http.StatusSeeOther)
	})
	s.mux.HandleFunc("POST /console/logout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(cookieName); err == nil && s.officer(r) != nil {
			s.sessions.end(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1})
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
	})
	s.mux.HandleFunc("GET /console", s.page(func(w http.ResponseWriter, r *http.Request, sess *session) {
		sums, err := s.gw.Store().Demands(r.Context())
		d := pageData{Title: "Legal console", Demands: sums, Key: keyText(s)}
		if err != nil {
			d.Error = err.Error()
		}
		s.render(w, "console.html", http.StatusOK, s.with(d, sess))
	}))
	s.mux.HandleFunc("POST /console/demands", s.page(func(w http.ResponseWriter, r *http.Request, sess *session) {
		r.ParseMultipartForm(maxBody)
		d, err := s.gw.Parse([]byte(r.FormValue("demand")))
		var docs map[string][]byte
		if err == nil && r.MultipartForm != nil {
			docs = map[string][]byte{}
			for _, fhs := range r.MultipartForm.File {
				for _, fh := range fhs {
					f, ferr := fh.Open()
					if ferr != nil {
						continue
					}
					b, rerr := io.ReadAll(io.LimitReader(f, maxBody))
					f.Close()
					if rerr != nil {
						continue
					}
					docs[fh.Filename] = b
				}
			}
		}
		if err == nil {
			d, _, err = s.gw.File(r.Context(), sess.officer, d, docs)
		}
		if err != nil {
			sums, _ := s.gw.Store().Demands(r.Context())
			pd := s.with(pageData{Title: "Legal console", Demands: sums, Error: lastCause(err), Key: keyText(s)}, sess)
			var fe demand.Errors
			if errors.As(err, &fe) {
				pd.Fields = fe
			}
			s.render(w, "console.html", http.StatusBadRequest, pd)
			return
		}
		http.Redirect(w, r, "/console/demands/"+d.ID, http.StatusSeeOther)
	}))
	s.mux.HandleFunc("GET /console/demands/{id}", s.page(func(w http.ResponseWriter, r *http.Request, sess *session) {
		s.showDemand(w, r, sess, "", "")
	}))
	s.mux.HandleFunc("POST /console/demands/{id}/transition", s.page(func(w http.ResponseWriter, r *http.Request, sess *session) {
		_, err := s.gw.Transition(r.Context(), sess.officer, r.PathValue("id"), legal.State(r.FormValue("to")), r.FormValue("note"))
		s.after(w, r, sess, err, "Moved to "+strings.ReplaceAll(r.FormValue("to"), "_", " ")+".")
	}))
	s.mux.HandleFunc("POST /console/demands/{id}/approve", s.page(func(w http.ResponseWriter, r *http.Request, sess *session) {
		err := s.gw.Approve(r.Context(), sess.officer, r.PathValue("id"), r.FormValue("note"))
		s.after(w, r, sess, err, "Approved by "+sess.officer.Name+".")
	}))
	s.mux.HandleFunc("POST /console/demands/{id}/disclose", s.page(func(w http.ResponseWriter, r *http.Request, sess *session) {
		w2 := &bufferedResponse{}
		if _, err := s.gw.Disclose(r.Context(), sess.officer, r.PathValue("id"), w2); err != nil {
			s.after(w, r, sess, err, "")
			return
		}
		w.Header().Set("Content-Type", "application/x-tar")
		w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("id")+`.tar"`)
		w.Write(w2.b)
	}))
}

type bufferedResponse struct{ b []byte }

func (b *bufferedResponse) Write(p []byte) (int, error) { b.b = append(b.b, p...); return len(p), nil }

func keyText(s *Server) string {
	if pub := s.gw.PublicKey(); pub != nil {
		return disclose.EncodePublicKey(pub)
	}
	return ""
}

// page wraps a console handler that needs a logged-in officer.
func (s *Server) page(fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return signedIn(s.officer, "/console/login", fn)
}

// signedIn wraps a handler that needs the session lookup finds: without
// one, a GET goes to the login page and a POST is refused.
func signedIn(lookup func(*http.Request) *session, login string, fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := lookup(r)
		if sess == nil {
			if r.Method == http.MethodPost {
				http.Error(w, "Your session has ended or the form is stale: sign in again.", http.StatusForbidden)
				return
			}
			http.Redirect(w, r, login, http.StatusSeeOther)
			return
		}
		fn(w, r, sess)
	}
}

func (s *Server) with(d pageData, sess *session) pageData {
	d.Officer, d.CSRF = sess.officer.Name, sess.csrf
	return d
}

func (s *Server) after(w http.ResponseWriter, r *http.Request, sess *session, err error, ok string) {
	if err != nil {
		s.showDemand(w, r, sess, lastCause(err), "")
		return
	}
	s.showDemand(w, r, sess, "", ok)
}

func (s *Server) showDemand(w http.ResponseWriter, r *http.Request, sess *session, errMsg, flash string) {
	rec, err := s.gw.Store().Demand(r.Context(), r.PathValue("id"))
	if err != nil {
		s.render(w, "console.html", http.StatusNotFound, s.with(pageData{Title: "Legal console", Error: "No such demand."}, sess))
		return
	}
	code := http.StatusOK
	if errMsg != "" {
		code = http.StatusBadRequest
	}
	s.render(w, "demand.html", code, s.with(pageData{Title: "Demand " + rec.Demand.ID, Rec: &rec, Next: workflow.Next(rec.State),
		Error: errMsg, Flash: flash}, sess))
}
