package web_test

import (
	"bytes"
	"html"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
)

// These tests are the privacy page's Filters section: the owner's Sieve
// script and the switch to the strictest mode (issue 14).

// postScript posts the script form as a browser does (multipart/form-data),
// with the fields in order (name, value, name, value…).
func postScript(t *testing.T, c *http.Client, base string, fields ...string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/me/filter/script", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return do(t, c, req)
}

var (
	textareaRE = regexp.MustCompile(`(?s)<textarea id="script"[^>]*>\n(.*?)</textarea>`)
	alertRE    = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)
)

// textarea is the script the page shows, as a browser reads it: the
// textarea's text, a newline just after its start tag dropped (HTML's
// textarea rule), character references decoded. ok is false if the page
// has none.
func textarea(body string) (script string, ok bool) {
	m := textareaRE.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return html.UnescapeString(m[1]), true
}

// alertOf is the error the page shows, "" none.
func alertOf(body string) string {
	if m := alertRE.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// signedInOwner signs in as alice and returns the client and the page's
// CSRF token.
func (f *fixture) signedInOwner(t *testing.T, addr, pass string) (*http.Client, string) {
	t.Helper()
	c := f.client(t)
	resp, body := f.login(t, c, addr, pass)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	return c, csrfOf(t, body)
}

func TestFilterSection(t *testing.T) {
	f := newFixture(t, nil)
	c, _ := f.signedInOwner(t, alice, alicePass)
	_, body := get(t, c, f.srv.URL+"/me")
	text := html.UnescapeString(body)
	for _, want := range []string{`<h2 id="filters">Filters</h2>`, `<strong>On</strong>`, "<code>invoices</code>", "(2 kept in all)",
		"learnt from 120 messages you kept and 37 you moved to Junk", "2026-03-04 05:06 UTC",
		"the server opens your script and the classifier's counts of hashed words without you",
		`action="/me/filter/script" enctype="multipart/form-data"`, "Turn server-side filtering off"} {
		if !strings.Contains(text, want) {
			t.Errorf("/me lacks %q", want)
		}
	}
	if got, ok := textarea(body); !ok || got != aliceScript {
		t.Errorf("the textarea shows %q, want %q", got, aliceScript)
	}

	// Bob has no script and his classifier never learnt.
	c, _ = f.signedInOwner(t, bob, bobPass)
	_, body = get(t, c, f.srv.URL+"/me")
	for _, want := range []string{"<dt>Active script</dt><dd>none</dd>", "<dt>Last training</dt><dd>never</dd>",
		"A new script, saved as <code>sealpost</code> and made active"} {
		if !strings.Contains(body, want) {
			t.Errorf("bob's /me lacks %q", want)
		}
	}
	if got, ok := textarea(body); !ok || got != "" {
		t.Errorf("bob's textarea: %q, %v", got, ok)
	}
}

// A script is shown as text, whatever it holds: not markup that ends the
// textarea, and with its first newline.
func TestFilterScriptEscaped(t *testing.T) {
	f := newFixture(t, nil)
	hostile := "\n# </textarea><script>alert(1)</script>\n&amp; \"quoted\" <b>\n"
	f.owners.setScript(alice, hostile)
	c, _ := f.signedInOwner(t, alice, alicePass)
	_, body := get(t, c, f.srv.URL+"/me")
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "</textarea><script>") {
		t.Errorf("the script's markup reached the page:\n%s", body)
	}
	if got, ok := textarea(body); !ok || got != hostile {
		t.Errorf("the textarea shows %q, want %q", got, hostile)
	}
}

func TestFilterSaveScript(t *testing.T) {
	f := newFixture(t, nil)
	c, tok := f.signedInOwner(t, alice, alicePass)
	script := "require \"fileinto\";\r\nif address :is \"from\" \"boss@example.org\" {\r\n  fileinto \"Boss\";\r\n}\r\n"
	resp, body := postScript(t, c, f.srv.URL, "csrf", tok, "script", script, "password", alicePass)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Your script is saved and active.") {
		t.Fatalf("save: %d, alert %q", resp.StatusCode, alertOf(body))
	}
	ch := f.owners.takeChanges()
	if len(ch) != 1 || string(ch[0].Script) != script || ch[0].NoServerFilter != nil {
		t.Fatalf("changes: %+v", ch)
	}
	if got, _ := textarea(body); got != script {
		t.Errorf("after saving, the textarea shows %q", got)
	}

	// A script that does not compile: the compiler's message, with its
	// line and column, and the owner's text kept to fix.
	bad := "require \"fileinto\";\n  bogus;\n"
	resp, body = postScript(t, c, f.srv.URL, "csrf", tok, "script", bad, "password", alicePass)
	if want := `Your script was not saved: 2:3: unknown command "bogus"`; resp.StatusCode != http.StatusBadRequest || alertOf(body) != want {
		t.Errorf("a script that does not compile: %d, alert %q, want 400, %q", resp.StatusCode, alertOf(body), want)
	}
	if got, _ := textarea(body); got != bad {
		t.Errorf("after a compile error, the textarea shows %q, want the owner's %q", got, bad)
	}

	// A wrong password: refused, generically, the text kept.
	resp, body = postScript(t, c, f.srv.URL, "csrf", tok, "script", "keep;\n", "password", "wrong")
	if want := "Your filter was not changed. Check your password and try again."; resp.StatusCode != http.StatusForbidden || alertOf(body) != want {
		t.Errorf("a wrong password: %d, alert %q, want 403, %q", resp.StatusCode, alertOf(body), want)
	}
	if got, _ := textarea(body); got != "keep;\n" {
		t.Errorf("after a wrong password, the textarea shows %q", got)
	}

	// A form without its script changes nothing (it is not an empty one).
	resp, body = postScript(t, c, f.srv.URL, "csrf", tok, "password", alicePass)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a form without its script: %d, alert %q", resp.StatusCode, alertOf(body))
	}
	if ch := f.owners.takeChanges(); len(ch) != 0 {
		t.Errorf("refused saves changed the filter: %+v", ch)
	}

	// An empty script turns scripts off.
	resp, body = postScript(t, c, f.srv.URL, "csrf", tok, "script", "", "password", alicePass)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Your scripts are turned off") || !strings.Contains(body, "<dt>Active script</dt><dd>none <span") {
		t.Errorf("an empty script: %d, alert %q", resp.StatusCode, alertOf(body))
	}
	if ch := f.owners.takeChanges(); len(ch) != 1 || ch[0].Script == nil || len(ch[0].Script) != 0 {
		t.Errorf("an empty script: changes %+v, want one empty, not nil, script", ch)
	}
}

func TestFilterRefusedWithoutCSRF(t *testing.T) {
	f := newFixture(t, nil)
	c, tok := f.signedInOwner(t, alice, alicePass)
	for _, bad := range []string{"", "00" + tok[2:]} {
		fields := []string{"script", "keep;", "password", alicePass}
		if bad != "" {
			fields = append(fields, "csrf", bad)
		}
		if resp, _ := postScript(t, c, f.srv.URL, fields...); resp.StatusCode != http.StatusForbidden {
			t.Errorf("script with CSRF token %q: %d, want 403", bad, resp.StatusCode)
		}
		if resp, _ := post(t, c, f.srv.URL+"/me/filter/mode", url.Values{"csrf": {bad}, "server_filter": {"off"}, "password": {alicePass}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("switch with CSRF token %q: %d, want 403", bad, resp.StatusCode)
		}
	}
	// Signed out, with a token of another session.
	anon := f.client(t)
	if resp, _ := postScript(t, anon, f.srv.URL, "csrf", tok, "script", "keep;", "password", alicePass); resp.StatusCode != http.StatusForbidden {
		t.Errorf("script signed out: %d, want 403", resp.StatusCode)
	}
	if ch := f.owners.takeChanges(); len(ch) != 0 {
		t.Errorf("changed without a valid token: %+v", ch)
	}
}

// A script is at most 64 KiB: a bigger one is refused with a clear error;
// a body beyond the form's bound is refused unread.
func TestFilterScriptBounded(t *testing.T) {
	f := newFixture(t, nil)
	c, tok := f.signedInOwner(t, alice, alicePass)
	line := "# " + strings.Repeat("x", 61) + "\n" // 64 bytes
	full := strings.Repeat(line, 1024)            // 64 KiB exactly
	resp, body := postScript(t, c, f.srv.URL, "csrf", tok, "script", full, "password", alicePass)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a 64 KiB script: %d, alert %q", resp.StatusCode, alertOf(body))
	}
	resp, body = postScript(t, c, f.srv.URL, "csrf", tok, "script", full+"#", "password", alicePass)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || alertOf(body) != "Your script was not saved: it is larger than 64 KiB." {
		t.Errorf("a script of 64 KiB and a byte: %d, alert %q", resp.StatusCode, alertOf(body))
	}
	resp, body = postScript(t, c, f.srv.URL, "csrf", tok, "script", full+full, "password", alicePass)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "too large") {
		t.Errorf("a 128 KiB script: %d %q", resp.StatusCode, body)
	}
	if ch := f.owners.takeChanges(); len(ch) != 1 || len(ch[0].Script) != len(full) {
		t.Errorf("changes: %d, want the 64 KiB script's only", len(ch))
	}
	if resp, _ := get(t, c, f.srv.URL+"/me"); resp.StatusCode != http.StatusOK {
		t.Errorf("/me after the large bodies: %d", resp.StatusCode)
	}
}

func TestFilterSwitch(t *testing.T) {
	f := newFixture(t, nil)
	c, tok := f.signedInOwner(t, alice, alicePass)
	mode := func(v, pass string) (*http.Response, string) {
		return post(t, c, f.srv.URL+"/me/filter/mode", url.Values{"csrf": {tok}, "server_filter": {v}, "password": {pass}})
	}
	if resp, body := mode("off", "wrong"); resp.StatusCode != http.StatusForbidden || alertOf(body) != "Your filter was not changed. Check your password and try again." {
		t.Errorf("switch with a wrong password: %d, alert %q", resp.StatusCode, alertOf(body))
	}
	if resp, body := mode("maybe", alicePass); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("switch to maybe: %d, alert %q", resp.StatusCode, alertOf(body))
	}
	if ch := f.owners.takeChanges(); len(ch) != 0 {
		t.Fatalf("refused switches changed the filter: %+v", ch)
	}

	resp, body := mode("off", alicePass)
	text := html.UnescapeString(body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(text, "Server-side filtering is off.") || !strings.Contains(text, "<strong>Off</strong>") {
		t.Fatalf("switch off: %d, alert %q", resp.StatusCode, alertOf(body))
	}
	if ch := f.owners.takeChanges(); len(ch) != 1 || ch[0].NoServerFilter == nil || !*ch[0].NoServerFilter || ch[0].Script != nil {
		t.Errorf("switch off: changes %+v", ch)
	}
	// The server cannot open the script now: the page says where it can
	// be read, and offers no empty textarea to overwrite it with.
	for _, want := range []string{"Your active script, <code>invoices</code>, is readable only by you",
		"ManageSieve", "Neither your scripts nor your classifier opens without you",
		`name="server_filter" value="on"`, "Turn server-side filtering on"} {
		if !strings.Contains(text, want) {
			t.Errorf("off: /me lacks %q", want)
		}
	}
	if _, ok := textarea(body); ok {
		t.Errorf("off: /me shows a textarea for a script the server cannot open")
	}

	resp, body = mode("on", alicePass)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Server-side filtering is on.") || !strings.Contains(body, "<strong>On</strong>") {
		t.Errorf("switch on: %d, alert %q", resp.StatusCode, alertOf(body))
	}
	if got, _ := textarea(body); got != aliceScript {
		t.Errorf("on again: the textarea shows %q", got)
	}
	if ch := f.owners.takeChanges(); len(ch) != 1 || ch[0].NoServerFilter == nil || *ch[0].NoServerFilter {
		t.Errorf("switch on: changes %+v", ch)
	}
}

// A failure of the server's own is a generic sentence to the owner; the log
// has the error, never the script or the password.
func TestFilterFailureLoggedWithoutScript(t *testing.T) {
	var logs testkit.Buffer
	f := newFixtureWith(t, fixtureOptions{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c, tok := f.signedInOwner(t, alice, alicePass)
	f.owners.mu.Lock()
	f.owners.setErr = errors.E("owners.SetFilter", errors.Internal, errors.Str("sealing the script: disk full"))
	f.owners.mu.Unlock()
	const secret = "fileinto \"Secret-Lover-Folder\";"
	resp, body := postScript(t, c, f.srv.URL, "csrf", tok, "script", secret, "password", alicePass)
	if want := "Your filter could not be changed just now. Please try again later."; resp.StatusCode != http.StatusInternalServerError || alertOf(body) != want {
		t.Errorf("a failing SetFilter: %d, alert %q, want 500, %q", resp.StatusCode, alertOf(body), want)
	}
	if got, _ := textarea(body); got != secret {
		t.Errorf("after a failure, the textarea shows %q, want the owner's text", got)
	}
	out := logs.String()
	if !strings.Contains(out, "disk full") {
		t.Errorf("the log lacks the error:\n%s", out)
	}
	for _, leak := range []string{"Secret-Lover-Folder", alicePass} {
		if strings.Contains(out, leak) {
			t.Errorf("the log holds %q:\n%s", leak, out)
		}
	}
}

// A change refused by the throttle "as a wrong password" reads as one, byte
// for byte.
func TestFilterThrottleRefusalSameAsWrongPassword(t *testing.T) {
	f, th := hostileApp(t, false)
	c, tok := f.signedInOwner(t, alice, alicePass)
	form := url.Values{"csrf": {tok}, "server_filter": {"off"}}
	try := func(pass string) string {
		form.Set("password", pass)
		return dump(postForm(t, c, f.srv.URL+"/me/filter/mode", form, nil))
	}
	wrong := try("wrong")
	if !strings.HasPrefix(wrong, "403 ") || !strings.Contains(wrong, "Check your password") {
		t.Errorf("switch with a wrong password:\n%s", wrong)
	}
	th.refuse(errors.E("test.throttle", errors.Permission, errors.Str("too many failures")))
	if got := try(alicePass); got != wrong {
		t.Errorf("switch refused by the throttle:\n%s\nwith a wrong password:\n%s", got, wrong)
	}
	if ch := f.owners.takeChanges(); len(ch) != 0 {
		t.Errorf("changed though refused: %+v", ch)
	}
}
