package web

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"strings"
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

// consoleCSP is the Content-Security-Policy of the console's pages: no
// script at all, this origin's style, forms posted only here, no framing.
const consoleCSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"

// newConsoleDoor is the console's sign-in, its sessions on the clock now.
func newConsoleDoor(now func() time.Time) *door {
	return &door{ss: newSessions(sessionTTL, now), cookie: "sealpost_session", loginCookie: "sealpost_console_login",
		path: "/console", login: "/console/login"}
}

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
	w.Header().Set("Content-Security-Policy", consoleCSP)
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
		if _, sess := s.console.session(r); sess != nil {
			http.Redirect(w, r, "/console", http.StatusSeeOther)
			return
		}
		s.consoleLogin(w, http.StatusOK, s.console.newLoginToken(w, r), "")
	})
	s.mux.HandleFunc("POST /console/login", func(w http.ResponseWriter, r *http.Request) {
		if !readForm(w, r, maxForm) {
			return
		}
		// The form carries the token of its cookie (double submit), so
		// that no other site can sign a visitor in as an officer of its
		// choosing.
		tok := s.console.loginToken(r)
		if tok == "" {
			s.consoleLogin(w, http.StatusForbidden, s.console.newLoginToken(w, r), "The form had expired. Please sign in again.")
			return
		}
		name := r.PostForm.Get("name")
		var officer workflow.Actor
		err := s.checkPassword(r, LoginConsole, name, func(ctx context.Context) error {
			var err error
			officer, err = s.gw.Officer(ctx, name, r.PostForm.Get("password"))
			return err
		})
		if err != nil {
			// The same page, token included, for a wrong password and
			// an unknown officer.
			code, msg := s.refused(w, err, LoginConsole, "Wrong name or password, or not a legal officer.")
			s.consoleLogin(w, code, tok, msg)
			return
		}
		s.console.signIn(w, r, session{officer: officer})
		http.Redirect(w, r, "/console", http.StatusSeeOther)
	})
	s.mux.HandleFunc("POST /console/logout", s.console.signOutHandler())
	s.mux.HandleFunc("GET /console", s.page(0, func(w http.ResponseWriter, r *http.Request, sess *session) {
		sums, err := s.gw.Store().Demands(r.Context())
		d := pageData{Title: "Legal console", Demands: sums, Key: keyText(s)}
		if err != nil {
			d.Error = s.say(err)
		}
		s.render(w, "console.html", http.StatusOK, s.with(d, sess))
	}))
	s.mux.HandleFunc("POST /console/demands", s.page(maxBody, func(w http.ResponseWriter, r *http.Request, sess *session) {
		d, err := s.gw.Parse([]byte(r.PostForm.Get("demand")))
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
			pd := s.with(pageData{Title: "Legal console", Demands: sums, Error: s.say(err), Key: keyText(s)}, sess)
			var fe demand.Errors
			if errors.As(err, &fe) {
				pd.Fields = fe
			}
			s.render(w, "console.html", http.StatusBadRequest, pd)
			return
		}
		http.Redirect(w, r, "/console/demands/"+d.ID, http.StatusSeeOther)
	}))
	s.mux.HandleFunc("GET /console/demands/{id}", s.page(0, func(w http.ResponseWriter, r *http.Request, sess *session) {
		s.showDemand(w, r, sess, "", "")
	}))
	s.mux.HandleFunc("POST /console/demands/{id}/transition", s.page(maxForm, func(w http.ResponseWriter, r *http.Request, sess *session) {
		to := r.PostForm.Get("to")
		_, err := s.gw.Transition(r.Context(), sess.officer, r.PathValue("id"), legal.State(to), r.PostForm.Get("note"))
		s.after(w, r, sess, err, "Moved to "+strings.ReplaceAll(to, "_", " ")+".")
	}))
	s.mux.HandleFunc("POST /console/demands/{id}/approve", s.page(maxForm, func(w http.ResponseWriter, r *http.Request, sess *session) {
		err := s.gw.Approve(r.Context(), sess.officer, r.PathValue("id"), r.PostForm.Get("note"))
		s.after(w, r, sess, err, "Approved by "+sess.officer.Name+".")
	}))
	s.mux.HandleFunc("POST /console/demands/{id}/disclose", s.page(maxForm, func(w http.ResponseWriter, r *http.Request, sess *session) {
		w2 := &bufferedResponse{}
		if _, err := s.gw.Disclose(r.Context(), sess.officer, r.PathValue("id"), w2); err != nil {
			s.after(w, r, sess, err, "")
			return
		}
		attachment(w, "application/x-tar", r.PathValue("id")+".tar")
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

// page wraps a console handler that needs a signed-in officer (see
// door.signedIn); a POST's form may be at most limit bytes.
func (s *Server) page(limit int64, fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return s.console.signedIn(limit, fn)
}

// consoleLogin renders the console's sign-in form with its token.
func (s *Server) consoleLogin(w http.ResponseWriter, code int, tok, msg string) {
	s.render(w, "login.html", code, pageData{Title: "Legal console: sign in", CSRF: tok, Error: msg})
}

func (s *Server) with(d pageData, sess *session) pageData {
	d.Officer, d.CSRF = sess.officer.Name, sess.csrf
	return d
}

func (s *Server) after(w http.ResponseWriter, r *http.Request, sess *session, err error, ok string) {
	if err != nil {
		s.showDemand(w, r, sess, s.say(err), "")
		return
	}
	s.showDemand(w, r, sess, "", ok)
}

func (s *Server) showDemand(w http.ResponseWriter, r *http.Request, sess *session, errMsg, flash string) {
	rec, err := s.gw.Store().Demand(r.Context(), r.PathValue("id"))
	if err != nil {
		code, msg := http.StatusNotFound, "No such demand."
		if !errors.Is(errors.NotExist, err) {
			code, msg = http.StatusServiceUnavailable, s.say(err)
		}
		s.render(w, "console.html", code, s.with(pageData{Title: "Legal console", Error: msg}, sess))
		return
	}
	code := http.StatusOK
	if errMsg != "" {
		code = http.StatusBadRequest
	}
	s.render(w, "demand.html", code, s.with(pageData{Title: "Demand " + rec.Demand.ID, Rec: &rec, Next: workflow.Next(rec.State),
		Error: errMsg, Flash: flash}, sess))
}

// say is what a page tells a person about err: its cause when it is about
// what they asked (invalid, not allowed, no such thing, too large);
// otherwise a generic sentence, the error going to the log.
func (s *Server) say(err error) string {
	switch errors.KindOf(err) {
	case errors.Invalid, errors.Permission, errors.NotExist, errors.Exist, errors.TooLarge:
		return lastCause(err)
	}
	s.log.Error("web", "err", err)
	return "This could not be done just now. Please try again later."
}

// refused answers w's headers for a failed password check at login and
// returns the status and message of the page: the same for a wrong password,
// an unknown account or a throttle's Permission refusal (wrong is the
// message); 503 with Retry-After when the throttle refused the attempt for
// now or the check could not be made (see Throttle).
func (s *Server) refused(w http.ResponseWriter, err error, login Login, wrong string) (int, string) {
	switch errors.KindOf(err) {
	case errors.Permission, errors.NotExist:
		return http.StatusUnauthorized, wrong
	case errors.Unavailable:
	default:
		s.log.Error("web sign-in", "login", login, "err", err) // never the password
	}
	retryLater(w, err)
	return http.StatusServiceUnavailable, "Signing in is not possible just now. Please wait a little and try again."
}

// attachment makes w's body a download of type typ named name.
func attachment(w http.ResponseWriter, typ, name string) {
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
}
