package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/legal"
	"github.com/sealpost/sealpost/legal/disclose"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/legal/policy"
	"github.com/sealpost/sealpost/legal/store"
	"github.com/sealpost/sealpost/web"
)

// mail is a gateway.Mail that locates two accounts and holds no mail: the
// web layer, the gateway, the store and the policy here are the real ones;
// the real Mail over regions and postboxes is driven through this same API
// by the real binary in e2e (TestSeedScenario).
type mail struct{}

func (mail) Locate(_ context.Context, addr string) (policy.Region, error) {
	switch addr {
	case "alice@demo.example":
		return policy.Region{ID: "ie", Name: "Ireland", Country: "IE", Zones: []string{"EU"}, Entity: "Sealpost Ireland Ltd", EntityCountry: "IE"}, nil
	case "bob@demo.example":
		return policy.Region{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}, Entity: "Sealpost Inc.", EntityCountry: "US"}, nil
	}
	return policy.Region{}, errors.E(errors.NotExist)
}
func (mail) Subscriber(context.Context, string) (disclose.SubscriberRecord, error) {
	return disclose.SubscriberRecord{}, nil
}
func (mail) Traffic(context.Context, string, *legal.Date, *legal.Date) ([]disclose.TrafficRecord, error) {
	return nil, nil
}
func (mail) SealedContent(context.Context, string, *legal.Date, *legal.Date, func(disclose.TrafficRecord, []byte) error) error {
	return nil
}
func (mail) PlaceHold(context.Context, string) error      { return nil }
func (mail) ReleaseHold(context.Context, string) error    { return nil }
func (mail) Notify(context.Context, string, []byte) error { return nil }
func (mail) Authenticate(_ context.Context, addr, pass string) error {
	if addr == "bob@demo.example" && pass == "bob-pass" {
		return nil
	}
	return errors.E(errors.Permission)
}

func newApp(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(web.New(newGateway(t), nil))
	t.Cleanup(srv.Close)
	return srv
}

// newGateway is a real gateway over a real store with two officers,
// officer-a and officer-b (passwords officer-a-pass-123, ...).
func newGateway(t *testing.T) *gateway.Gateway {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "legal.db"), filepath.Join(dir, "docs"), store.WithArgon2(pwhash.TestParams))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, o := range []string{"officer-a", "officer-b"} {
		if err := st.AddOfficer(context.Background(), o, o+"-pass-123"); err != nil {
			t.Fatal(err)
		}
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	return gateway.New(gateway.Options{Store: st, Mail: mail{}, Signer: key,
		Now: func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }})
}

func demandFile(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("../legal/demand/testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAPIRequiresAnOfficer(t *testing.T) {
	srv := newApp(t)
	for _, cred := range [][2]string{{"", ""}, {"officer-a", "wrong"}, {"nobody", "officer-a-pass-123"}} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/demands", nil)
		if cred[0] != "" {
			req.SetBasicAuth(cred[0], cred[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("credentials %v: %d, want 401", cred, resp.StatusCode)
		}
	}
}

func TestAPIExplainAndFieldErrors(t *testing.T) {
	srv := newApp(t)
	post := func(path, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.SetBasicAuth("officer-a", "officer-a-pass-123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, m := post("/api/v1/explain", demandFile(t, "us-warrant-alice.json"))
	b, _ := json.Marshal(m)
	if code != 200 || !strings.Contains(string(b), `"route":"MLAT request to Ireland"`) {
		t.Errorf("explain: %d %s", code, b)
	}
	code, m = post("/api/v1/demands", `{"reference":"r","authority":"a","country":"XX","instrument":"search_warrant","legal_basis":"b","targets":["alice@demo.example"],"categories":["content"],"received":"2026-10-01"}`)
	b, _ = json.Marshal(m)
	if code != 400 || !strings.Contains(string(b), `"Field":"country"`) && !strings.Contains(string(b), `"field":"country"`) {
		t.Errorf("invalid demand: %d %s", code, b)
	}
}

// consoleLogin signs in to the console through its form, as a browser
// does: the sign-in page, then the form with the page's token.
func consoleLogin(t *testing.T, c *http.Client, base, name, pass string) (*http.Response, error) {
	t.Helper()
	resp, err := c.Get(base + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return c.PostForm(base+"/console/login", url.Values{"csrf": {csrfOf(t, string(b))}, "name": {name}, "password": {pass}})
}

// The console: sign in, file a demand, move it, approve it; forms without
// the session's CSRF token are refused.
func TestConsole(t *testing.T) {
	srv := newApp(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	page := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if body := page(c.Get(srv.URL + "/console")); !strings.Contains(body, `<form method="post" action="/console/login">`) {
		t.Fatalf("console without a session should show the sign-in form:\n%s", body)
	}
	if body := page(consoleLogin(t, c, srv.URL, "officer-a", "wrong")); !strings.Contains(body, "Wrong name or password") {
		t.Errorf("wrong password: %s", body)
	}
	body := page(consoleLogin(t, c, srv.URL, "officer-a", "officer-a-pass-123"))
	if !strings.Contains(body, "Signed in as <strong>officer-a</strong>") || !strings.Contains(body, `name="viewport"`) {
		t.Fatalf("after sign-in:\n%s", body)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)[1]

	// A cross-site form (no token) is refused.
	resp, err := c.PostForm(srv.URL+"/console/demands", url.Values{"demand": {demandFile(t, "us-warrant-alice.json")}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("form without CSRF token: %d", resp.StatusCode)
	}
	// The mlat request lists documents; file one that lists none.
	var d map[string]any
	json.Unmarshal([]byte(demandFile(t, "us-warrant-alice.json")), &d)
	delete(d, "documents")
	nodocs, _ := json.Marshal(d)
	body = page(c.PostForm(srv.URL+"/console/demands", url.Values{"demand": {string(nodocs)}, "csrf": {csrf}}))
	if !strings.Contains(body, "MLAT request to Ireland") || !strings.Contains(body, "reject out of jurisdiction") {
		t.Fatalf("filed demand page:\n%s", body)
	}
	id := regexp.MustCompile(`/console/demands/(D-[0-9-]+)/`).FindStringSubmatch(body)[1]
	body = page(c.PostForm(srv.URL+"/console/demands/"+id+"/transition", url.Values{"to": {"in_review"}, "note": {"looking"}, "csrf": {csrf}}))
	if !strings.Contains(body, "Moved to in review") || !strings.Contains(body, "by officer-a — looking") {
		t.Errorf("transition:\n%s", body)
	}
	body = page(c.PostForm(srv.URL+"/console/demands/"+id+"/transition", url.Values{"to": {"complied"}, "csrf": {csrf}}))
	if !strings.Contains(body, `role="alert"`) {
		t.Errorf("an illegal transition was not refused:\n%s", body)
	}
	// Nothing eligible to approve on an out-of-jurisdiction demand.
	body = page(c.PostForm(srv.URL+"/console/demands/"+id+"/approve", url.Values{"csrf": {csrf}}))
	if !strings.Contains(body, "nothing to disclose") {
		t.Errorf("approval of nothing:\n%s", body)
	}
}

// A demand filed from the console with its documents uploaded: the
// documents are stored whole, checked against the SHA-256 the demand lists.
func TestConsoleUploadsDocuments(t *testing.T) {
	srv := newApp(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := consoleLogin(t, c, srv.URL, "officer-b", "officer-b-pass-123")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(string(body))[1]

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrf)
	mw.WriteField("demand", demandFile(t, "us-warrant-bob.json"))
	doc, _ := os.ReadFile("../legal/demand/testdata/documents/warrant-26-mag-2144.txt")
	fw, _ := mw.CreateFormFile("documents", "warrant-26-mag-2144.txt")
	fw.Write(doc)
	mw.Close()
	resp, err = c.Post(srv.URL+"/console/demands", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "warrant-26-mag-2144.txt") || !strings.Contains(string(body), "eligible") {
		t.Fatalf("filing with an uploaded document: %d\n%s", resp.StatusCode, body)
	}
}
