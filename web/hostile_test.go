package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/web"
)

// These tests are the web app against hostile clients (issue 12): CSRF
// tokens only from the form body, sign-in forms with their own tokens,
// sessions ended on the server, bounded in number and time; HSTS over TLS
// only, no-store on private pages, bounded bodies; every password check
// through the Throttle, its refusals answered as the Throttle's contract
// says, and an unknown account answered byte for byte as a wrong password.

const (
	officer     = "officer-a"
	officerPass = "officer-a-pass-123"
	apiOwner    = "bob@demo.example" // the gateway's mail knows this one owner
	apiOwnerPwd = "bob-pass"
)

// recorder is a Throttle that records every Attempt and does what decide
// says: nil runs the check, an error refuses the attempt with it.
type recorder struct {
	mu       sync.Mutex
	attempts []web.Attempt
	ran      int           // checks run
	kinds    []errors.Kind // of what each check returned
	decide   func(web.Attempt) error
}

func (r *recorder) Check(ctx context.Context, a web.Attempt, check func(context.Context) error) error {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	decide := r.decide
	r.mu.Unlock()
	if decide != nil {
		if err := decide(a); err != nil {
			return err
		}
	}
	err := check(ctx)
	r.mu.Lock()
	r.ran++
	r.kinds = append(r.kinds, errors.KindOf(err))
	r.mu.Unlock()
	return err
}

// refuse makes r refuse every attempt with err (nil: run them all).
func (r *recorder) refuse(err error) {
	r.mu.Lock()
	r.decide = func(web.Attempt) error { return err }
	r.mu.Unlock()
}

// take returns the attempts recorded since the last take and how many
// checks ran.
func (r *recorder) take() ([]web.Attempt, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, n := r.attempts, r.ran
	r.attempts, r.ran, r.kinds = nil, 0, nil
	return a, n
}

// failures returns the kinds of the checks' errors since the last take.
func (r *recorder) failures() []errors.Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.kinds)
}

var _ web.Throttle = (*recorder)(nil)

// delay is a throttle's refusal that says how long to wait.
type delay time.Duration

func (d delay) Error() string             { return "slow down" }
func (d delay) RetryAfter() time.Duration { return time.Duration(d) }

// hostileApp is the whole app, console, API and privacy pages, with a
// recording throttle.
func hostileApp(t *testing.T, tls bool) (*fixture, *recorder) {
	t.Helper()
	th := &recorder{}
	return newFixtureWith(t, fixtureOptions{gw: newGateway(t), throttle: th, tls: tls}), th
}

// client is a client of f's server with its own cookies that does not
// follow redirects.
func (f *fixture) client(t *testing.T) *http.Client {
	c := client(t)
	c.Transport = f.srv.Client().Transport
	return c
}

// do sends req on c and reads the answer.
func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// postForm posts form to u on c, with header set.
func postForm(t *testing.T, c *http.Client, u string, form url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, c, req)
}

// basic sends method u on c with HTTP Basic credentials and body.
func basic(t *testing.T, c *http.Client, method, u, name, pass string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, body)
	req.SetBasicAuth(name, pass)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	return do(t, c, req)
}

// consoleToken opens the console's sign-in form on c and returns its token.
func (f *fixture) consoleToken(t *testing.T, c *http.Client) string {
	t.Helper()
	_, body := get(t, c, f.srv.URL+"/console/login")
	return csrfOf(t, body)
}

// consoleSignIn signs in to the console on c and returns the console page's
// CSRF token.
func (f *fixture) consoleSignIn(t *testing.T, c *http.Client) string {
	t.Helper()
	resp, _ := postForm(t, c, f.srv.URL+"/console/login",
		url.Values{"csrf": {f.consoleToken(t, c)}, "name": {officer}, "password": {officerPass}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console sign-in: %d", resp.StatusCode)
	}
	_, body := get(t, c, f.srv.URL+"/console")
	return csrfOf(t, body)
}

// cookie is the value of c's cookie name for path p of f, "" if none.
func (f *fixture) cookie(c *http.Client, p, name string) string {
	u, _ := url.Parse(f.srv.URL + p)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// stolen is a client holding only cookie name=value for path p of f: an
// attacker who copied it.
func (f *fixture) stolen(t *testing.T, p, name, value string) *http.Client {
	c := f.client(t)
	u, _ := url.Parse(f.srv.URL + p)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: p}})
	return c
}

func TestHSTSOnlyOverTLS(t *testing.T) {
	for _, tls := range []bool{true, false} {
		f, _ := hostileApp(t, tls)
		c := f.client(t)
		for _, p := range []string{"/console/login", "/me/login", "/transparency", "/api/v1/key", "/nowhere"} {
			resp, _ := get(t, c, f.srv.URL+p)
			got := resp.Header.Get("Strict-Transport-Security")
			if tls && got != "max-age=31536000" {
				t.Errorf("GET %s over TLS: Strict-Transport-Security %q", p, got)
			}
			if !tls && got != "" {
				t.Errorf("GET %s over plain HTTP: Strict-Transport-Security %q, want none", p, got)
			}
		}
		// Cookies are Secure over TLS only.
		resp, _ := get(t, c, f.srv.URL+"/me/login")
		if ck := resp.Cookies(); len(ck) != 1 || ck[0].Secure != tls || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/me" {
			t.Errorf("TLS %v: sign-in cookie %+v", tls, ck)
		}
	}
}

func TestNoStoreOnPrivatePages(t *testing.T) {
	f, _ := hostileApp(t, false)
	c := f.client(t)
	f.consoleSignIn(t, c)
	f.login(t, c, alice, alicePass)
	check := func(what string, resp *http.Response, private bool) {
		t.Helper()
		cc := resp.Header.Get("Cache-Control")
		if private && cc != "no-store" {
			t.Errorf("%s (%d): Cache-Control %q, want no-store", what, resp.StatusCode, cc)
		}
		if !private && strings.Contains(cc, "no-store") {
			t.Errorf("%s (%d): Cache-Control %q on a public page", what, resp.StatusCode, cc)
		}
	}
	for p, private := range map[string]bool{
		"/console": true, "/console/login": true, "/console/demands/D-nowhere": true,
		"/me": true, "/me/login": true, "/me/proof/1": true, "/": true,
		"/transparency": false, "/canary": false, "/style.css": false, "/static/verify.js": false,
	} {
		resp, _ := get(t, c, f.srv.URL+p)
		check("GET "+p, resp, private)
	}
	resp, _ := basic(t, c, "GET", f.srv.URL+"/api/v1/demands", officer, officerPass, nil)
	check("API demands", resp, true)
	resp, _ = basic(t, c, "GET", f.srv.URL+"/api/v1/me/notices", apiOwner, apiOwnerPwd, nil)
	check("API notices", resp, true)
	resp, _ = basic(t, c, "GET", f.srv.URL+"/api/v1/me/notices", apiOwner, "wrong", nil)
	check("API notices refused", resp, true)
}

// Form values are read from the body only: a CSRF token in the URL is not
// looked at, on any form.
func TestCSRFNotFromQuery(t *testing.T) {
	f, _ := hostileApp(t, false)
	c := f.client(t)
	ctok := f.consoleSignIn(t, c)
	f.login(t, c, alice, alicePass)
	_, body := get(t, c, f.srv.URL+"/me")
	mtok := csrfOf(t, body)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/console/logout?csrf=" + ctok, nil},
		{"/console/demands?csrf=" + ctok, url.Values{"demand": {"{}"}}},
		{"/me/logout?csrf=" + mtok, nil},
		{"/me/move?csrf=" + mtok + "&region=de&password=" + alicePass, url.Values{"region": {"de"}, "password": {alicePass}}},
	} {
		if resp, _ := postForm(t, c, f.srv.URL+tc.path, tc.form, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s, the token in the URL only: %d, want 403", tc.path, resp.StatusCode)
		}
	}
	// Still signed in to both.
	for _, p := range []string{"/console", "/me"} {
		if resp, _ := get(t, c, f.srv.URL+p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s after the refused posts: %d", p, resp.StatusCode)
		}
	}
	if len(f.owners.moved) != 0 {
		t.Errorf("moved with the token in the URL: %v", f.owners.moved)
	}
	// The sign-in forms too: their cookie is set, the token in the URL.
	c2 := f.client(t)
	tok := f.consoleToken(t, c2)
	if resp, _ := postForm(t, c2, f.srv.URL+"/console/login?csrf="+tok, url.Values{"name": {officer}, "password": {officerPass}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("console sign-in with the token in the URL: %d, want 403", resp.StatusCode)
	}
	_, body = get(t, c2, f.srv.URL+"/me/login")
	tok = csrfOf(t, body)
	if resp, _ := postForm(t, c2, f.srv.URL+"/me/login?csrf="+tok, url.Values{"address": {alice}, "password": {alicePass}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("owner sign-in with the token in the URL: %d, want 403", resp.StatusCode)
	}
}

// The console's sign-in form carries a token bound to a cookie set with the
// form: another site can neither post it nor reuse its own visitor's token.
func TestConsoleLoginCSRF(t *testing.T) {
	f, th := hostileApp(t, false)
	creds := url.Values{"name": {officer}, "password": {officerPass}}
	c := f.client(t)
	if resp, _ := postForm(t, c, f.srv.URL+"/console/login", creds, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without a token: %d, want 403", resp.StatusCode)
	}
	tok := f.consoleToken(t, c)
	other := f.client(t) // the token without its cookie
	form := url.Values{"csrf": {tok}, "name": creds["name"], "password": creds["password"]}
	if resp, _ := postForm(t, other, f.srv.URL+"/console/login", form, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with a token but not its cookie: %d, want 403", resp.StatusCode)
	}
	f.consoleToken(t, other) // its own cookie, another token
	if resp, _ := postForm(t, other, f.srv.URL+"/console/login", form, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with another visitor's token: %d, want 403", resp.StatusCode)
	}
	if a, _ := th.take(); len(a) != 0 {
		t.Errorf("a password was checked for a form without its token: %v", a)
	}
	// A browser's cross-origin post is refused whatever it carries.
	for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://evil.example"}} {
		if resp, _ := postForm(t, c, f.srv.URL+"/console/login", form, h); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin sign-in %v: %d, want 403", h, resp.StatusCode)
		}
	}
	if resp, _ := postForm(t, c, f.srv.URL+"/console/login", form, map[string]string{"Sec-Fetch-Site": "same-origin"}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-in with its token and cookie: %d, want 303", resp.StatusCode)
	}
	if f.cookie(c, "/console", "sealpost_console_login") != "" {
		t.Error("the sign-in form's cookie outlived the sign-in")
	}
}

// Signing out ends the session on the server: a copy of the cookie taken
// before is dead.
func TestSignOutEndsSessionServerSide(t *testing.T) {
	f, _ := hostileApp(t, false)
	for _, tc := range []struct {
		home, logout, cookie, login string
		signIn                      func(*http.Client) string
	}{
		{"/console", "/console/logout", "sealpost_session", "/console/login", func(c *http.Client) string { return f.consoleSignIn(t, c) }},
		{"/me", "/me/logout", "sealpost_owner", "/me/login", func(c *http.Client) string {
			_, body := f.login(t, c, alice, alicePass)
			return csrfOf(t, body)
		}},
	} {
		c := f.client(t)
		tok := tc.signIn(c)
		id := f.cookie(c, tc.home, tc.cookie)
		if id == "" {
			t.Fatalf("%s: no session cookie", tc.home)
		}
		thief := f.stolen(t, tc.home, tc.cookie, id)
		if resp, _ := get(t, thief, f.srv.URL+tc.home); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s with the copied cookie before sign-out: %d", tc.home, resp.StatusCode)
		}
		if resp, _ := postForm(t, c, f.srv.URL+tc.logout, url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d, want 303", tc.logout, resp.StatusCode)
		}
		if f.cookie(c, tc.home, tc.cookie) != "" {
			t.Errorf("%s left the session cookie in the browser", tc.logout)
		}
		resp, _ := get(t, thief, f.srv.URL+tc.home)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.login {
			t.Errorf("%s with the copied cookie after sign-out: %d to %q, want 303 to %s", tc.home, resp.StatusCode, resp.Header.Get("Location"), tc.login)
		}
		if resp, _ := postForm(t, thief, f.srv.URL+tc.logout, url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s with the copied cookie and token after sign-out: %d, want 403", tc.logout, resp.StatusCode)
		}
	}
}

// Sessions are bounded: a person holds at most 16 at once (signing in again
// ends the oldest), and each ends by the server's clock.
func TestSessionsBounded(t *testing.T) {
	f, _ := hostileApp(t, false)
	const perUser = 16 // maxSessionsPerUser
	var cs []*http.Client
	for range perUser + 1 {
		c := f.client(t)
		f.consoleSignIn(t, c)
		cs = append(cs, c)
	}
	for i, c := range cs {
		resp, _ := get(t, c, f.srv.URL+"/console")
		if want := http.StatusOK; i == 0 && resp.StatusCode == want || i > 0 && resp.StatusCode != want {
			t.Errorf("session %d of %d: %d", i+1, len(cs), resp.StatusCode)
		}
	}
	// Lifetimes: the owner's 2 hours, the console's 8.
	owner := f.client(t)
	f.login(t, owner, alice, alicePass)
	console := cs[len(cs)-1]
	for _, step := range []struct {
		after          time.Duration
		owner, console int
	}{
		{2*time.Hour - time.Minute, http.StatusOK, http.StatusOK},
		{2 * time.Minute, http.StatusSeeOther, http.StatusOK},
		{6 * time.Hour, http.StatusSeeOther, http.StatusSeeOther},
	} {
		f.clock.Add(step.after)
		if resp, _ := get(t, owner, f.srv.URL+"/me"); resp.StatusCode != step.owner {
			t.Errorf("/me %v later: %d, want %d", step.after, resp.StatusCode, step.owner)
		}
		if resp, _ := get(t, console, f.srv.URL+"/console"); resp.StatusCode != step.console {
			t.Errorf("/console %v later: %d, want %d", step.after, resp.StatusCode, step.console)
		}
	}
}

// filler is n bytes of 'a'.
func filler(n int64) io.Reader { return io.LimitReader(repeat('a'), n) }

type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// Every body is bounded: forms to 64 KiB, uploads to 32 MiB; past the
// bound the answer is 413 and the server goes on serving.
func TestBodiesBounded(t *testing.T) {
	f, _ := hostileApp(t, false)
	c := f.client(t)
	ctok := f.consoleSignIn(t, c)
	_, body := f.login(t, c, alice, alicePass)
	mtok := csrfOf(t, body)
	anon := f.client(t) // signed in nowhere
	_, body = get(t, anon, f.srv.URL+"/me/login")
	otok := csrfOf(t, body)

	const form = 64 << 10
	big := func(fields string) io.Reader {
		return io.MultiReader(strings.NewReader(fields+"&note="), filler(form))
	}
	post := func(c *http.Client, path, ctype string, body io.Reader, auth bool) int {
		t.Helper()
		req, _ := http.NewRequest("POST", f.srv.URL+path, body)
		req.Header.Set("Content-Type", ctype)
		if auth {
			req.SetBasicAuth(officer, officerPass)
		}
		resp, _ := do(t, c, req)
		return resp.StatusCode
	}
	const urlenc = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		c           *http.Client
		path, ctype string
		body        io.Reader
		auth        bool
	}{
		{anon, "/console/login", urlenc, big("csrf=" + f.consoleToken(t, anon) + "&name=a&password=b"), false},
		{anon, "/me/login", urlenc, big("csrf=" + otok + "&address=a&password=b"), false},
		{c, "/console/logout", urlenc, big("csrf=" + ctok), false},
		{c, "/console/demands/D-1/transition", urlenc, big("csrf=" + ctok + "&to=in_review"), false},
		{c, "/me/move", urlenc, big("csrf=" + mtok + "&region=de"), false},
		{c, "/me/filter/mode", urlenc, big("csrf=" + mtok + "&server_filter=off"), false},
		{c, "/api/v1/demands/D-1/transitions", "application/json", io.MultiReader(strings.NewReader(`{"note":"`), filler(form)), true},
		{c, "/api/v1/demands", "application/json", io.MultiReader(strings.NewReader(`{"demand":"`), filler(32<<20)), true},
	} {
		if code := post(tc.c, tc.path, tc.ctype, tc.body, tc.auth); code != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s past its bound: %d, want 413", tc.path, code)
		}
	}
	// An upload past 64 KiB but within its own bound is taken: a demand
	// with 100 KiB of whitespace to explain, a 100 KiB document to file.
	d := demandFile(t, "us-warrant-alice.json")
	if code := post(c, "/api/v1/explain", "application/json", io.MultiReader(strings.NewReader(d), strings.NewReader(strings.Repeat(" ", 100<<10))), true); code != http.StatusOK {
		t.Errorf("explain, 100 KiB: %d, want 200", code)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", ctok)
	mw.WriteField("demand", demandFile(t, "us-warrant-bob.json"))
	fw, _ := mw.CreateFormFile("documents", "big.txt")
	io.Copy(fw, filler(100<<10))
	mw.Close()
	n := buf.Len()
	if code := post(c, "/console/demands", mw.FormDataContentType(), &buf, false); code == http.StatusRequestEntityTooLarge || code/100 == 5 {
		t.Errorf("filing with a 100 KiB document (%d bytes): %d", n, code)
	}
	// Past 32 MiB it is not.
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	mw.WriteField("csrf", ctok)
	fw, _ = mw.CreateFormFile("documents", "huge.txt")
	io.Copy(fw, filler(32<<20))
	mw.Close()
	if code := post(c, "/console/demands", mw.FormDataContentType(), &buf, false); code != http.StatusRequestEntityTooLarge {
		t.Errorf("filing with a 32 MiB document: %d, want 413", code)
	}
	// And the app still serves, the sessions intact.
	for _, p := range []string{"/console", "/me"} {
		if resp, _ := get(t, c, f.srv.URL+p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s after the large bodies: %d", p, resp.StatusCode)
		}
	}
}

// passwordPaths are the app's password checks, each a request with the
// right credentials (or the wrong ones) and what success looks like.
type passwordPath struct {
	login   web.Login
	account string
	// try sends the request with password pass (on a client signed in
	// where the path needs a session) and returns the answer.
	try func(t *testing.T, pass string) (*http.Response, string)
	ok  int // status of success
}

func passwordPaths(t *testing.T, f *fixture) []passwordPath {
	xff := map[string]string{"X-Forwarded-For": "203.0.113.7", "Forwarded": "for=203.0.113.8"}
	owner := f.client(t)
	_, body := f.login(t, owner, alice, alicePass)
	mtok := csrfOf(t, body)
	return []passwordPath{
		{web.LoginConsole, officer, func(t *testing.T, pass string) (*http.Response, string) {
			c := f.client(t)
			return postForm(t, c, f.srv.URL+"/console/login", url.Values{"csrf": {f.consoleToken(t, c)}, "name": {officer}, "password": {pass}}, xff)
		}, http.StatusSeeOther},
		{web.LoginOwner, alice, func(t *testing.T, pass string) (*http.Response, string) {
			c := f.client(t)
			_, body := get(t, c, f.srv.URL+"/me/login")
			return postForm(t, c, f.srv.URL+"/me/login", url.Values{"csrf": {csrfOf(t, body)}, "address": {" Alice@Demo.Example "}, "password": {pass}}, xff)
		}, http.StatusSeeOther},
		{web.LoginOwnerMove, alice, func(t *testing.T, pass string) (*http.Response, string) {
			return postForm(t, owner, f.srv.URL+"/me/move", url.Values{"csrf": {mtok}, "region": {"de"}, "password": {pass}}, xff)
		}, http.StatusOK},
		{web.LoginOwnerFilter, alice, func(t *testing.T, pass string) (*http.Response, string) {
			return postForm(t, owner, f.srv.URL+"/me/filter/mode", url.Values{"csrf": {mtok}, "server_filter": {"off"}, "password": {pass}}, xff)
		}, http.StatusOK},
		{web.LoginOwnerFilter, alice, func(t *testing.T, pass string) (*http.Response, string) {
			return postForm(t, owner, f.srv.URL+"/me/filter/script", url.Values{"csrf": {mtok}, "script": {"keep;"}, "password": {pass}}, xff)
		}, http.StatusOK},
		{web.LoginOfficerAPI, officer, func(t *testing.T, pass string) (*http.Response, string) {
			return basic(t, f.client(t), "GET", f.srv.URL+"/api/v1/demands", officer, pass, nil)
		}, http.StatusOK},
		{web.LoginOfficerAPI, officer, func(t *testing.T, pass string) (*http.Response, string) {
			return basic(t, f.client(t), "POST", f.srv.URL+"/api/v1/explain", officer, pass, strings.NewReader(demandFile(t, "us-warrant-alice.json")))
		}, http.StatusOK},
		{web.LoginOfficerAPI, officer, func(t *testing.T, pass string) (*http.Response, string) {
			return basic(t, f.client(t), "POST", f.srv.URL+"/api/v1/demands/D-nowhere/disclosure", officer, pass, nil)
		}, http.StatusNotFound},
		{web.LoginOwnerAPI, apiOwner, func(t *testing.T, pass string) (*http.Response, string) {
			return basic(t, f.client(t), "GET", f.srv.URL+"/api/v1/me/notices", apiOwner, pass, nil)
		}, http.StatusOK},
	}
}

// Every password check of the app goes through the throttle, once, with the
// TCP peer as the source whatever the headers say; one that refuses every
// attempt keeps out even the right password, on every path.
func TestEveryPasswordCheckIsThrottled(t *testing.T) {
	f, th := hostileApp(t, false)
	paths := passwordPaths(t, f)
	th.take()
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, p := range paths {
		if resp, body := p.try(t, rightPassword(p)); resp.StatusCode != p.ok {
			t.Errorf("%s, the right password: %d, want %d\n%s", p.login, resp.StatusCode, p.ok, body)
		}
		attempts, ran := th.take()
		want := []web.Attempt{{Login: p.login, Source: loopback, Account: p.account}}
		if !slices.Equal(attempts, want) || ran != 1 {
			t.Errorf("%s: the throttle saw %v (%d checks run), want %v", p.login, attempts, ran, want)
		}
	}
	f.owners.moved = nil

	th.refuse(errors.E("test.throttle", errors.Permission, errors.Str("too many failures")))
	for _, p := range paths {
		if resp, _ := p.try(t, rightPassword(p)); resp.StatusCode == p.ok {
			t.Errorf("%s: in, though the throttle refused", p.login)
		}
		if _, ran := th.take(); ran != 0 {
			t.Errorf("%s: %d checks ran, though the throttle refused", p.login, ran)
		}
	}
	if len(f.owners.moved) != 0 {
		t.Errorf("moved though the throttle refused: %v", f.owners.moved)
	}
}

// rightPassword is the right password of p's account.
func rightPassword(p passwordPath) string {
	switch p.login {
	case web.LoginConsole, web.LoginOfficerAPI:
		return officerPass
	case web.LoginOwnerAPI:
		return apiOwnerPwd
	}
	return alicePass
}

// A throttle's "later" is 503 with Retry-After on every path, the check not
// run and no session started.
func TestThrottleUnavailable(t *testing.T) {
	f, th := hostileApp(t, false)
	paths := passwordPaths(t, f)
	th.take()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.E("test.throttle", errors.Unavailable, delay(90*time.Second)), "90"},
		{errors.E("test.throttle", errors.Unavailable, delay(1500*time.Millisecond)), "2"},
		{errors.E("test.throttle", errors.Unavailable, delay(0)), "1"},
		{errors.E("test.throttle", errors.Unavailable, delay(48*time.Hour)), "3600"},
		{errors.E("test.throttle", errors.Unavailable, errors.Str("queue full")), "30"},
	} {
		th.refuse(tc.err)
		for _, p := range paths {
			resp, body := p.try(t, rightPassword(p))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != tc.want {
				t.Errorf("%s refused with %v: %d, Retry-After %q; want 503, %s\n%s", p.login, tc.err, resp.StatusCode, resp.Header.Get("Retry-After"), tc.want, body)
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == "sealpost_session" || ck.Name == "sealpost_owner" {
					t.Errorf("%s refused: a session cookie was set", p.login)
				}
			}
			if _, ran := th.take(); ran != 0 {
				t.Errorf("%s: the check ran, though the throttle refused", p.login)
			}
		}
	}
	if len(f.owners.moved) != 0 {
		t.Errorf("moved though the throttle refused: %v", f.owners.moved)
	}
}

// dump is an answer as a client sees it, but for its Date.
func dump(resp *http.Response, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", resp.Status)
	h := resp.Header.Clone()
	h.Del("Date")
	h.Write(&b)
	b.WriteString("\n" + body)
	return b.String()
}

// An unknown account, a wrong password, and the throttle's refusal of the
// right password "as a wrong one" are answered the same, byte for byte, on
// every sign-in and every HTTP Basic realm.
func TestUnknownAccountSameAsWrongPassword(t *testing.T) {
	f, th := hostileApp(t, false)
	refuse := errors.E("test.throttle", errors.Permission, errors.Str("too many failures"))
	type try func(name, pass string) (*http.Response, string)
	consoleClient := f.client(t)
	consoleTok := f.consoleToken(t, consoleClient)
	ownerClient := f.client(t)
	_, body := get(t, ownerClient, f.srv.URL+"/me/login")
	ownerTok := csrfOf(t, body)
	for _, tc := range []struct {
		name        string
		known, pass string
		unknown     string
		try         try
	}{
		{"console", officer, officerPass, "officer-z", func(name, pass string) (*http.Response, string) {
			// One browser, its one form token, for every try.
			return postForm(t, consoleClient, f.srv.URL+"/console/login", url.Values{"csrf": {consoleTok}, "name": {name}, "password": {pass}}, nil)
		}},
		{"privacy page", alice, alicePass, "alicf@demo.example", func(name, pass string) (*http.Response, string) {
			resp, body := postForm(t, ownerClient, f.srv.URL+"/me/login", url.Values{"csrf": {ownerTok}, "address": {name}, "password": {pass}}, nil)
			// The form shows the address typed, whichever it is (the
			// unknown one as long as the known one).
			return resp, strings.ReplaceAll(body, `value="`+name+`"`, `value="ADDRESS"`)
		}},
		{"officer API", officer, officerPass, "officer-z", func(name, pass string) (*http.Response, string) {
			return basic(t, f.client(t), "GET", f.srv.URL+"/api/v1/demands", name, pass, nil)
		}},
		{"owner API", apiOwner, apiOwnerPwd, "zed@demo.example", func(name, pass string) (*http.Response, string) {
			return basic(t, f.client(t), "GET", f.srv.URL+"/api/v1/me/notices", name, pass, nil)
		}},
	} {
		th.refuse(nil)
		th.take()
		wrong := dump(tc.try(tc.known, "wrong-password"))
		if !strings.HasPrefix(wrong, "401 ") {
			t.Errorf("%s, wrong password: %s", tc.name, wrong)
		}
		if !strings.Contains(wrong, "ADDRESS") && tc.name == "privacy page" {
			t.Errorf("%s: the form does not show the address typed:\n%s", tc.name, wrong)
		}
		if got := dump(tc.try(tc.unknown, "wrong-password")); got != wrong {
			t.Errorf("%s: an unknown account is answered\n%s\nand a wrong password\n%s", tc.name, got, wrong)
		}
		// The throttle sees both as the same failure, whatever the
		// store said.
		if k := th.failures(); !slices.Equal(k, []errors.Kind{errors.Permission, errors.Permission}) {
			t.Errorf("%s: the throttle saw failures of kinds %v, want Permission twice", tc.name, k)
		}
		if got := dump(tc.try(tc.unknown, tc.pass)); got != wrong {
			t.Errorf("%s: an unknown account with another's password is answered\n%s\nand a wrong password\n%s", tc.name, got, wrong)
		}
		th.refuse(refuse)
		if got := dump(tc.try(tc.known, tc.pass)); got != wrong {
			t.Errorf("%s: the throttle's refusal is answered\n%s\nand a wrong password\n%s", tc.name, got, wrong)
		}
	}
	// A move refused by the throttle "as a wrong password" reads as one.
	th.refuse(nil)
	c := f.client(t)
	if resp, _ := f.login(t, c, alice, alicePass); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	_, body = get(t, c, f.srv.URL+"/me")
	tok := csrfOf(t, body)
	wrong := dump(postForm(t, c, f.srv.URL+"/me/move", url.Values{"csrf": {tok}, "region": {"de"}, "password": {"wrong"}}, nil))
	if !strings.Contains(wrong, "Check your password") {
		t.Errorf("move with a wrong password:\n%s", wrong)
	}
	th.refuse(refuse)
	if got := dump(postForm(t, c, f.srv.URL+"/me/move", url.Values{"csrf": {tok}, "region": {"de"}, "password": {alicePass}}, nil)); got != wrong || !strings.HasPrefix(got, "403 ") {
		t.Errorf("move refused by the throttle:\n%s\nwith a wrong password:\n%s", got, wrong)
	}
}
