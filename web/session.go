package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/sealpost/sealpost/legal/workflow"
)

// This file is the app's sessions and its protection against cross-site
// requests: who is signed in, the cookies that say so, and the tokens a
// form must carry back.
//
// The rules (docs/SECURITY.md):
//   - A session is a random 256-bit ID, kept in memory with its expiry,
//     in an HttpOnly, SameSite=Strict cookie (Secure when served over TLS)
//     whose path is the part of the app it is for (/console, /me).
//   - Every POST of a signed-in page carries the session's CSRF token in
//     its form body; a token anywhere else (the URL) is not looked at.
//   - A sign-in form carries a token that must match a cookie set with
//     the form (double submit), so no other site can sign a visitor in.
//   - Signing out ends the session on the server, not only the cookie.

// A session is one signed-in person: an officer of the console, or an
// account's owner on the privacy page (each kind in its own sessions, under
// its own cookie).
type session struct {
	officer workflow.Actor
	owner   string // the owner's normalized address
	csrf    string
	expires time.Time
	seq     uint64 // the order of sign-ins
}

// maxSessionsPerUser bounds the sessions one officer or owner holds at
// once: signing in again beyond it ends their oldest session, so that a
// script with good credentials cannot fill the server's memory.
const maxSessionsPerUser = 16

// sessions are the signed-in officers or owners, in memory only: a restart
// logs everyone out. A session lasts ttl from sign-in, by the clock now.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
	now func() time.Time
	seq uint64 // sessions started
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: make(map[string]*session), ttl: ttl, now: now}
}

// token is a new random 256-bit token, hex.
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
	now := ss.now()
	var mine []string // who's live sessions
	for k, v := range ss.m {
		switch {
		case now.After(v.expires):
			delete(ss.m, k)
		case v.officer.Name == who.officer.Name && v.owner == who.owner:
			mine = append(mine, k)
		}
	}
	for len(mine) >= maxSessionsPerUser {
		oldest := 0
		for i, k := range mine {
			if ss.m[k].seq < ss.m[mine[oldest]].seq {
				oldest = i
			}
		}
		delete(ss.m, mine[oldest])
		mine = append(mine[:oldest], mine[oldest+1:]...)
	}
	id = token()
	ss.seq++
	s = &session{officer: who.officer, owner: who.owner, csrf: token(), expires: now.Add(ss.ttl), seq: ss.seq}
	ss.m[id] = s
	return id, s
}

func (ss *sessions) get(id string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil || ss.now().After(s.expires) {
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

// A door is the sign-in of one part of the app: its sessions, the cookie
// that names a session and the one that carries the sign-in form's token,
// both only for path, and where to sign in.
type door struct {
	ss          *sessions
	cookie      string // the session's ID
	loginCookie string // the sign-in form's CSRF token
	path        string // both cookies go only to this path and below
	login       string // the sign-in page
}

// session returns the session r's cookie names and its ID, or nil. It
// reads no request body and checks no CSRF token.
func (d *door) session(r *http.Request) (id string, s *session) {
	c, err := r.Cookie(d.cookie)
	if err != nil || c.Value == "" {
		return "", nil
	}
	if s = d.ss.get(c.Value); s == nil {
		return "", nil
	}
	return c.Value, s
}

// setCookie sets (or, with maxAge < 0, removes) one of d's cookies.
func (d *door) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: d.path, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(maxAge / time.Second)}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// signIn starts a session for who: any session r's cookie still named is
// ended (a new ID at each sign-in) and the sign-in form's cookie removed.
func (d *door) signIn(w http.ResponseWriter, r *http.Request, who session) {
	if id, _ := d.session(r); id != "" {
		d.ss.end(id)
	}
	id, _ := d.ss.start(who)
	d.setCookie(w, r, d.loginCookie, "", -1)
	d.setCookie(w, r, d.cookie, id, d.ss.ttl)
}

// signOut ends session id on the server and removes its cookie.
func (d *door) signOut(w http.ResponseWriter, r *http.Request, id string) {
	d.ss.end(id)
	d.setCookie(w, r, d.cookie, "", -1)
}

// loginTokenTTL bounds how long a sign-in form may stay open.
const loginTokenTTL = time.Hour

// newLoginToken sets a fresh sign-in form token in its cookie and returns
// it, for the form.
func (d *door) newLoginToken(w http.ResponseWriter, r *http.Request) string {
	tok := token()
	d.setCookie(w, r, d.loginCookie, tok, loginTokenTTL)
	return tok
}

// loginToken returns the sign-in form's token if the form (read already,
// see readForm) carries the one its cookie holds, else "".
func (d *door) loginToken(r *http.Request) string {
	c, err := r.Cookie(d.loginCookie)
	if err != nil || c.Value == "" || !sameToken(r.PostForm.Get("csrf"), c.Value) {
		return ""
	}
	return c.Value
}

// sameToken compares a token from a request with the expected one in
// constant time.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// stale answers a POST without a live session or without its CSRF token.
func stale(w http.ResponseWriter) {
	http.Error(w, "Your session has ended or the form is stale: sign in again.", http.StatusForbidden)
}

// signedIn wraps a handler that needs a session of d: without one, a GET
// goes to the sign-in page and a POST is refused, its body unread. A POST's
// form, at most limit bytes, is read (see readForm) and must carry the
// session's CSRF token in its body.
func (d *door) signedIn(limit int64, fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, sess := d.session(r)
		if r.Method != http.MethodPost {
			if sess == nil {
				http.Redirect(w, r, d.login, http.StatusSeeOther)
				return
			}
			fn(w, r, sess)
			return
		}
		if sess == nil {
			stale(w)
			return
		}
		if !readForm(w, r, limit) {
			return
		}
		if !sameToken(r.PostForm.Get("csrf"), sess.csrf) {
			stale(w)
			return
		}
		fn(w, r, sess)
	}
}

// signOutHandler ends the session of a sign-out form carrying its CSRF
// token, and goes to the sign-in page.
func (d *door) signOutHandler() http.HandlerFunc {
	return d.signedIn(maxForm, func(w http.ResponseWriter, r *http.Request, _ *session) {
		if id, _ := d.session(r); id != "" {
			d.signOut(w, r, id)
		}
		http.Redirect(w, r, d.login, http.StatusSeeOther)
	})
}
