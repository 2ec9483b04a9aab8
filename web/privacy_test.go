package web_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/journal"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/tlog"
	"github.com/sealpost/sealpost/transparency"
	"github.com/sealpost/sealpost/transparency/report"
	"github.com/sealpost/sealpost/web"
	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"
)

const (
	alice     = "alice@demo.example"
	alicePass = "alice-pass-123"
	bob       = "bob@demo.example"
	bobPass   = "bob-pass-456"
)

// owners is an Owners with two accounts, both in Ireland, that records the
// moves and filter changes asked of it.
type owners struct {
	mu      sync.Mutex
	moved   []string // "addr→region"
	filters map[string]web.FilterView
	changes []web.FilterChange // made, in order
	// setErr, if not nil, is what SetFilter fails with once the password
	// is right.
	setErr error
}

func (o *owners) Authenticate(_ context.Context, addr, pass string) error {
	if (addr == alice && pass == alicePass) || (addr == bob && pass == bobPass) {
		return nil
	}
	if addr != alice && addr != bob {
		// Not what Owners promises, but what a store may say: the app
		// must answer it as a wrong password all the same.
		return errors.E("owners.Authenticate", errors.NotExist, errors.Str("no such account"))
	}
	return errors.E("owners.Authenticate", errors.Permission, errors.Str("wrong address or password"))
}

func (o *owners) Residence(_ context.Context, addr string) (web.Residence, error) {
	return web.Residence{Region: "ie", RegionName: "Ireland", Country: "IE", Zones: []string{"EU"}, Entity: "Sealpost Ireland Ltd",
		Elsewhere: []web.RegionChoice{
			{ID: "de", Name: "Germany", Country: "DE", Zones: []string{"EU"}},
			{ID: "us", Name: "United States", Country: "US", Zones: []string{"US"}},
		}}, nil
}

func (o *owners) KeyStatus(context.Context, string) (web.KeyStatus, error) {
	return web.KeyStatus{Fingerprint: "0123456789abcdef0123456789abcdef01234567", Algorithm: "Ed25519/X25519 (OpenPGP v4)",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Generations: 2, Password: true, Recovery: true}, nil
}

func (o *owners) Move(ctx context.Context, addr, pass, to string) error {
	if o.Authenticate(ctx, addr, pass) != nil {
		return errors.E("owners.Move", errors.Permission, errors.Str("wrong password"))
	}
	if to == "us" {
		return errors.E("owners.Move", errors.Unavailable, errors.Str("moves to the United States are made by the operator: write to privacy@demo.example"))
	}
	o.mu.Lock()
	o.moved = append(o.moved, addr+"→"+to)
	o.mu.Unlock()
	return nil
}

// aliceScript is alice's active Sieve script (RFC 5228) at the start.
const aliceScript = "require [\"fileinto\"];\nif header :contains \"subject\" \"invoice\" {\n  fileinto \"Bills\";\n}\n"

// aliceTrained is when alice's classifier last learnt.
var aliceTrained = time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)

func newOwners() *owners {
	return &owners{filters: map[string]web.FilterView{
		alice: {ActiveScript: "invoices", Script: []byte(aliceScript), Scripts: 2, Ham: 120, Spam: 37, Trained: aliceTrained},
		bob:   {},
	}}
}

func (o *owners) Filter(_ context.Context, addr string) (web.FilterView, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.filters[addr]
	if !ok {
		return v, errors.E("owners.Filter", errors.NotExist, errors.Str("no such account"))
	}
	if v.NoServerFilter {
		v.Script = nil // sealed to the owner's key alone
	}
	return v, nil
}

// SetFilter stands in for the server's: it checks the password, refuses a
// script with the command "bogus" as a Sieve compiler would (RFC 5228 8.2:
// an unknown command is an error), and keeps the change.
func (o *owners) SetFilter(ctx context.Context, addr, pass string, change web.FilterChange) error {
	if o.Authenticate(ctx, addr, pass) != nil {
		return errors.E("owners.SetFilter", errors.Permission, errors.Str("wrong password"))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.setErr != nil {
		return o.setErr
	}
	if i := strings.Index(string(change.Script), "bogus"); i >= 0 {
		before := string(change.Script[:i])
		line, col := strings.Count(before, "\n")+1, i-strings.LastIndex(before, "\n")
		return errors.E("owners.SetFilter", errors.Invalid, errors.Errorf("%d:%d: unknown command \"bogus\"", line, col))
	}
	v := o.filters[addr]
	if change.Script != nil {
		switch {
		case len(change.Script) == 0:
			v.ActiveScript, v.Script = "", nil
		case v.ActiveScript == "":
			v.ActiveScript, v.Script = "sealpost", change.Script
			v.Scripts++
		default:
			v.Script = change.Script
		}
	}
	if change.NoServerFilter != nil {
		v.NoServerFilter = *change.NoServerFilter
	}
	o.filters[addr] = v
	o.changes = append(o.changes, change)
	return nil
}

// setScript makes text addr's active script, as if saved over ManageSieve.
func (o *owners) setScript(addr, text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v := o.filters[addr]
	v.Script = []byte(text)
	o.filters[addr] = v
}

// takeChanges returns the filter changes made since the last call.
func (o *owners) takeChanges() []web.FilterChange {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.changes
	o.changes = nil
	return c
}

// fixture is the web app over a real transparency.Ledger over a real
// tlog.Log, fed demand events shaped like legal/store's.
type fixture struct {
	srv    *httptest.Server
	ledger *transparency.Ledger
	log    *tlog.Log
	owners *owners
	clock  *testkit.Clock
	canary note.Verifier
	// period is the report period the demands fall in.
	period string
	src    *journal.Memory // the legal events fed to the ledger
}

// The demands of the fixture.
const (
	lapsedDemand = "dm-lapsed" // US warrant for alice, rejected, gag lapsed
	gaggedDemand = "dm-gagged" // warrant for alice, gag in force
	bobDemand    = "dm-bob"    // subpoena for bob
)

// demandEvent is an event of legal/store's outbox for a demand.
func demandEvent(at time.Time, kind sealpost.EventKind, id, account, actor, country, instrument, gagUntil string, more map[string]string) sealpost.Event {
	d := map[string]string{"demand": id, "authority": "A court", "country": country, "instrument": instrument,
		"received": at.Format(time.DateOnly)}
	if gagUntil != "" {
		d["nondisclosure_until"] = gagUntil
	}
	for k, v := range more {
		d[k] = v
	}
	return sealpost.Event{Time: at, Kind: kind, Account: account, Actor: actor, Detail: d}
}

// newFixture builds the app; wrap, if not nil, stands between the pages
// and the ledger (to tamper with what the pages are given).
func newFixture(t *testing.T, wrap func(web.Log) web.Log) *fixture {
	t.Helper()
	return newFixtureWith(t, fixtureOptions{wrap: wrap})
}

// fixtureOptions change what newFixtureWith builds.
type fixtureOptions struct {
	wrap     func(web.Log) web.Log // see newFixture
	gw       *gateway.Gateway      // the console's and the API's, if not nil
	throttle web.Throttle          // if not nil
	tls      bool                  // serve over TLS (httptest's certificate)
	log      *slog.Logger          // the app's, if not nil
}

// newFixtureWith builds the app as o says, on the fixture's clock.
func newFixtureWith(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	wrap := o.wrap
	ctx := context.Background()
	dir := t.TempDir()
	skey, _, err := tlog.NewKey("test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	lg, err := tlog.Open(filepath.Join(dir, "log"), skey, tlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lg.Close() })
	key := make([]byte, transparency.KeySize)
	rand.Read(key)
	blinder, err := transparency.NewBlinder(key)
	if err != nil {
		t.Fatal(err)
	}
	csk, cvk, err := note.GenerateKey(rand.Reader, "test.example/canary")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(csk)
	verifier, _ := note.NewVerifier(cvk)

	now := time.Now().UTC().Truncate(time.Second)
	clk := testkit.NewClock(now)
	t0 := now.Add(-60 * 24 * time.Hour)
	lapsed := now.Add(-10 * 24 * time.Hour).Format(time.DateOnly)
	gagged := now.Add(365 * 24 * time.Hour).Format(time.DateOnly)
	src := &journal.Memory{}
	for _, e := range []sealpost.Event{
		demandEvent(t0, sealpost.EventDemandFiled, lapsedDemand, "", "officer-a", "US", "search_warrant", lapsed,
			map[string]string{"state": "received", "targets": "1", "documents": "1"}),
		demandEvent(t0, sealpost.EventDemandDecided, lapsedDemand, alice, "policy", "US", "search_warrant", lapsed,
			map[string]string{"decision": "reject_out_of_jurisdiction", "policy_version": "test-1", "route": "MLAT via Ireland"}),
		demandEvent(t0.Add(time.Hour), sealpost.EventDemandTransition, lapsedDemand, "", "officer-a", "US", "search_warrant", lapsed,
			map[string]string{"from": "received", "to": "rejected"}),
		demandEvent(t0.Add(time.Hour), sealpost.EventDemandFiled, gaggedDemand, "", "officer-a", "IE", "search_warrant", gagged,
			map[string]string{"state": "received", "targets": "1", "documents": "1"}),
		demandEvent(t0.Add(time.Hour), sealpost.EventDemandDecided, gaggedDemand, alice, "policy", "IE", "search_warrant", gagged,
			map[string]string{"decision": "eligible", "policy_version": "test-1"}),
		demandEvent(t0.Add(2*time.Hour), sealpost.EventDemandFiled, bobDemand, "", "officer-b", "IE", "subpoena", "",
			map[string]string{"state": "received", "targets": "1", "documents": "1"}),
		demandEvent(t0.Add(2*time.Hour), sealpost.EventDemandDecided, bobDemand, bob, "policy", "IE", "subpoena", "",
			map[string]string{"decision": "eligible", "policy_version": "test-1"}),
		demandEvent(now.Add(-9*24*time.Hour), sealpost.EventNoticeSent, lapsedDemand, alice, "system", "US", "search_warrant", lapsed,
			map[string]string{"notice": "n-1"}),
	} {
		src.Add(e)
	}
	led, err := transparency.OpenLedger(filepath.Join(dir, "index"), transparency.LedgerOptions{
		Log: lg, Blinder: blinder,
		Withholding: transparency.Withholding{Instruments: []string{"national_security_request"}},
		Sources:     map[string]sealpost.EventSource{transparency.SourceLegal: src},
		Canary:      transparency.CanaryOptions{Signer: signer, Issuer: "demo.example", Every: 24 * time.Hour},
		Now:         clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	if _, err := led.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := led.RefreshCanary(ctx); err != nil {
		t.Fatal(err)
	}
	var l web.Log = led
	if wrap != nil {
		l = wrap(led)
	}
	own := newOwners()
	app := web.New(o.gw, o.log)
	app.SetThrottle(o.throttle)
	app.SetNow(clk.Now)
	app.EnableTransparency(own, l)
	var srv *httptest.Server
	if o.tls {
		srv = httptest.NewTLSServer(app)
	} else {
		srv = httptest.NewServer(app)
	}
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, ledger: led, log: lg, owners: own, clock: clk, canary: verifier, src: src,
		period: report.CurrentPeriod(t0).Name}
}

// client is an HTTP client with its own cookies that does not follow
// redirects.
func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// login signs in through the form and returns the /me page.
func (f *fixture) login(t *testing.T, c *http.Client, addr, pass string) (*http.Response, string) {
	t.Helper()
	_, body := get(t, c, f.srv.URL+"/me/login")
	resp, body := post(t, c, f.srv.URL+"/me/login", url.Values{"csrf": {csrfOf(t, body)}, "address": {addr}, "password": {pass}})
	if resp.StatusCode != http.StatusSeeOther {
		return resp, body
	}
	return get(t, c, f.srv.URL+"/me")
}

func TestOwnerSignInRequired(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t)
	for _, p := range []string{"/me", "/me/proof/1"} {
		resp, _ := get(t, c, f.srv.URL+p)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/me/login" {
			t.Errorf("GET %s signed out: %d to %q, want 303 to /me/login", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, p := range []string{"/me/move", "/me/logout", "/me/filter/script", "/me/filter/mode"} {
		resp, _ := post(t, c, f.srv.URL+p, url.Values{"region": {"de"}, "password": {alicePass}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s signed out: %d, want 403", p, resp.StatusCode)
		}
	}
	if len(f.owners.moved) != 0 {
		t.Errorf("moved while signed out: %v", f.owners.moved)
	}
	if ch := f.owners.takeChanges(); len(ch) != 0 {
		t.Errorf("filter changed while signed out: %+v", ch)
	}
	resp, _ := get(t, c, f.srv.URL+"/")
	if resp.Header.Get("Location") != "/me" {
		t.Errorf("/ redirects to %q, want /me", resp.Header.Get("Location"))
	}
}

func TestOwnerWrongPasswordIsGeneric(t *testing.T) {
	f := newFixture(t, nil)
	var msgs []string
	for _, cred := range [][2]string{{alice, "wrong"}, {"nobody@demo.example", alicePass}, {alice, ""}} {
		c := client(t)
		resp, body := f.login(t, c, cred[0], cred[1])
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("sign-in as %v: %d, want 401", cred, resp.StatusCode)
		}
		m := regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("sign-in as %v: no error shown:\n%s", cred, body)
		}
		msgs = append(msgs, m[1])
		u, _ := url.Parse(f.srv.URL + "/me")
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "sealpost_owner" {
				t.Errorf("sign-in as %v set a session cookie", cred)
			}
		}
		if resp, _ := get(t, c, f.srv.URL+"/me"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("after a failed sign-in as %v, /me: %d, want 303", cred, resp.StatusCode)
		}
	}
	for _, m := range msgs[1:] {
		if m != msgs[0] {
			t.Errorf("sign-in errors differ: %q vs %q", m, msgs[0])
		}
	}
}

func TestOwnerCSRF(t *testing.T) {
	f := newFixture(t, nil)
	// Sign-in without the form's token (another site posting the form).
	c := client(t)
	resp, _ := post(t, c, f.srv.URL+"/me/login", url.Values{"address": {alice}, "password": {alicePass}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without a token: %d, want 403", resp.StatusCode)
	}
	_, body := get(t, c, f.srv.URL+"/me/login")
	tok := csrfOf(t, body)
	c2 := client(t) // the token without its cookie
	resp, _ = post(t, c2, f.srv.URL+"/me/login", url.Values{"csrf": {tok}, "address": {alice}, "password": {alicePass}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with a token but not its cookie: %d, want 403", resp.StatusCode)
	}

	resp, body = f.login(t, c, alice, alicePass)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	tok = csrfOf(t, body)
	for _, bad := range []string{"", "00" + tok[2:], tok + "0"} {
		resp, _ = post(t, c, f.srv.URL+"/me/move", url.Values{"csrf": {bad}, "region": {"de"}, "password": {alicePass}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("move with CSRF token %q: %d, want 403", bad, resp.StatusCode)
		}
		resp, _ = post(t, c, f.srv.URL+"/me/logout", url.Values{"csrf": {bad}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-out with CSRF token %q: %d, want 403", bad, resp.StatusCode)
		}
	}
	if len(f.owners.moved) != 0 {
		t.Errorf("moved without a valid token: %v", f.owners.moved)
	}
	// Still signed in; then sign out properly.
	if resp, _ := get(t, c, f.srv.URL+"/me"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/me after refused posts: %d", resp.StatusCode)
	}
	resp, _ = post(t, c, f.srv.URL+"/me/logout", url.Values{"csrf": {tok}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-out: %d, want 303", resp.StatusCode)
	}
	if resp, _ := get(t, c, f.srv.URL+"/me"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("/me after sign-out: %d, want 303", resp.StatusCode)
	}
}

// proofJSON is the page's proof data, as verify.js reads it.
type proofJSON struct {
	Checkpoint  string `json:"checkpoint"`
	VerifierKey string `json:"verifierKey"`
	Secret      string `json:"secret"`
	Entries     []struct {
		Index string   `json:"index"`
		Entry string   `json:"entry"`
		Salt  string   `json:"salt"`
		Proof []string `json:"proof"`
	} `json:"entries"`
}

var proofDataRE = regexp.MustCompile(`(?s)<script type="application/json" id="proof-data">(.*?)</script>`)

func TestPrivacyPage(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t)
	resp, body := f.login(t, c, alice, alicePass)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/me: %d\n%s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline: %q", csp)
	}
	for _, want := range []string{"Ireland", "Sealpost Ireland Ltd", "EU", "recovery code", "administrator can reset",
		lapsedDemand, "reject out of jurisdiction", "You were notified", "not checked (needs JavaScript)",
		`<script src="/static/verify.js"`, `<option value="de">Germany`, "sealpost log mine"} {
		if !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("/me lacks %q", want)
		}
	}
	for _, absent := range []string{gaggedDemand, bobDemand, alicePass} {
		if strings.Contains(body, absent) {
			t.Errorf("/me shows %q", absent)
		}
	}
	secret := hex.EncodeToString(f.ledger.AccountSecret(alice))
	if !strings.Contains(body, secret) {
		t.Errorf("/me does not show the account secret %s", secret)
	}

	// The data verify.js checks is right: check it here as the script
	// does, with golang.org/x/mod's tlog and note.
	m := proofDataRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("/me has no proof data")
	}
	var pd proofJSON
	if err := json.Unmarshal([]byte(m[1]), &pd); err != nil {
		t.Fatalf("proof data: %v\n%s", err, m[1])
	}
	if pd.Secret != secret || pd.VerifierKey != f.log.VerifierKey() {
		t.Errorf("proof data secret/key: %q, %q", pd.Secret, pd.VerifierKey)
	}
	v, err := note.NewVerifier(pd.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(pd.Checkpoint), note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	size, _ := strconv.ParseInt(lines[1], 10, 64)
	rootb, _ := base64.StdEncoding.DecodeString(lines[2])
	root := xtlog.Hash(rootb)
	if len(pd.Entries) != 2 {
		t.Fatalf("proof data has %d entries, want 2 (the lapsed demand's decision and notice)", len(pd.Entries))
	}
	for _, e := range pd.Entries {
		idx, _ := strconv.ParseInt(e.Index, 10, 64)
		data, _ := base64.StdEncoding.DecodeString(e.Entry)
		var proof xtlog.RecordProof
		for _, h := range e.Proof {
			b, _ := base64.StdEncoding.DecodeString(h)
			proof = append(proof, xtlog.Hash(b))
		}
		if err := xtlog.CheckRecord(proof, size, root, idx, xtlog.RecordHash(data)); err != nil {
			t.Errorf("entry %d: %v", idx, err)
		}
		ent, err := transparency.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if !transparency.Mine(ent, f.ledger.AccountSecret(alice), e.Salt) {
			t.Errorf("entry %d is not alice's by its salt", idx)
		}
		if ent.DemandOf() != lapsedDemand {
			t.Errorf("entry %d is about %q", idx, ent.DemandOf())
		}
		if ent.Kind == sealpost.EventDemandDecided && ent.Salt != "" {
			t.Errorf("entry %d was logged under a gag yet carries its salt", idx)
		}
	}
}

func TestProofDownload(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	far := time.Now().Add(10 * 365 * 24 * time.Hour)
	mine, err := f.ledger.Owned(ctx, alice, far) // the gagged one too
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := f.ledger.Owned(ctx, bob, time.Now())
	if err != nil || len(theirs.Entries) == 0 {
		t.Fatalf("bob's entries: %v, %v", theirs.Entries, err)
	}
	var own, gagged uint64
	for _, o := range mine.Entries {
		switch {
		case o.Entry.DemandOf() == gaggedDemand:
			gagged = o.Index
		case o.Entry.Kind == sealpost.EventDemandDecided:
			own = o.Index
		}
	}
	if own == 0 || gagged == 0 {
		t.Fatalf("alice's entries: %+v", mine.Entries)
	}
	c := client(t)
	f.login(t, c, alice, alicePass)
	resp, body := get(t, c, f.srv.URL+"/me/proof/"+strconv.FormatUint(own, 10))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("own proof: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("Content-Disposition %q", cd)
	}
	pe, err := tlog.VerifyProofBundle([]byte(body), f.log.VerifierKey())
	if err != nil {
		t.Fatalf("own proof does not verify: %v", err)
	}
	if pe.Index != own {
		t.Errorf("proof of entry %d, want %d", pe.Index, own)
	}
	if e, err := transparency.Parse(pe.Entry); err != nil || e.DemandOf() != lapsedDemand || e.Kind != sealpost.EventDemandDecided {
		t.Errorf("proved entry %q: %v", pe.Entry, err)
	}
	for name, p := range map[string]string{
		"bob's":             strconv.FormatUint(theirs.Entries[0].Index, 10),
		"gagged":            strconv.FormatUint(gagged, 10),
		"about no one":      "0",
		"beyond the log":    "999999",
		"not a number":      "x",
		"negative":          "-1",
		"larger than int64": "18446744073709551616",
	} {
		if resp, _ := get(t, c, f.srv.URL+"/me/proof/"+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s entry %s: %d, want 404", name, p, resp.StatusCode)
		}
	}
}

func TestMove(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t)
	_, body := f.login(t, c, alice, alicePass)
	tok := csrfOf(t, body)
	for _, tc := range []struct {
		region, pass string
		code         int
		want         string
	}{
		{"mars", alicePass, http.StatusBadRequest, "Choose one of the regions listed."},
		{"de", "wrong", http.StatusForbidden, "could not be moved. Check your password"},
		{"us", alicePass, http.StatusServiceUnavailable, "moves to the United States are made by the operator"},
		{"de", alicePass, http.StatusOK, "Your mailbox is moving to Germany."},
	} {
		resp, body := post(t, c, f.srv.URL+"/me/move", url.Values{"csrf": {tok}, "region": {tc.region}, "password": {tc.pass}})
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("move to %s: %d, want %d with %q", tc.region, resp.StatusCode, tc.code, tc.want)
		}
	}
	if got := strings.Join(f.owners.moved, ","); got != alice+"→de" {
		t.Errorf("moves made: %q", got)
	}
}

func TestLogServed(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t)
	resp, body := get(t, c, f.srv.URL+"/log/key")
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != f.log.VerifierKey() {
		t.Errorf("/log/key: %d %q, want %q", resp.StatusCode, body, f.log.VerifierKey())
	}
	resp, body = get(t, c, f.srv.URL+"/log/checkpoint")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "test.example/log\n") {
		t.Errorf("/log/checkpoint: %d %q", resp.StatusCode, body)
	}
	// The whole log, tiles and entries, over HTTP as a monitor sees it.
	latest, err := tlog.Verify(context.Background(), tlog.HTTPFetcher(f.srv.URL+"/log", nil), f.log.VerifierKey(), nil)
	if err != nil {
		t.Fatalf("verifying the served log: %v", err)
	}
	if string(latest) != body {
		t.Errorf("verified checkpoint differs from the served one")
	}
}

func TestTransparencyReport(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t)
	q := "?period=" + url.QueryEscape(f.period)
	resp, body := get(t, c, f.srv.URL+"/transparency"+q)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/transparency: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{"Transparency report " + f.period, `<svg class="chart"`,
		`href="/transparency/report.csv` + q, `href="/transparency/report.json` + q,
		"Warrant canary", "Current.", "Sealpost warrant canary"} {
		if !strings.Contains(html.UnescapeString(body), html.UnescapeString(want)) {
			t.Errorf("/transparency lacks %q", want)
		}
	}
	if i, j := strings.Index(body, `id="canary"`), strings.LastIndex(body, "</main>"); i < 0 || i > j {
		t.Errorf("canary section not inside main")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("/transparency CSP %q", csp)
	}
	resp, body = get(t, c, f.srv.URL+"/transparency/report.csv"+q)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, strings.Join(report.Columns, ",")+"\n") {
		t.Errorf("report.csv: %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(body, f.period+",US,search_warrant,1,1,") {
		t.Errorf("report.csv lacks the US warrant row:\n%s", body)
	}
	resp, body = get(t, c, f.srv.URL+"/transparency/report.json"+q)
	var rep report.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("report.json: %d %v", resp.StatusCode, err)
	}
	if rep.Checkpoint.Size != f.log.Size() || rep.Period.Name != f.period {
		t.Errorf("report.json: checkpoint size %d (log %d), period %q", rep.Checkpoint.Size, f.log.Size(), rep.Period.Name)
	}
	if rep.Totals.Requests != 3 || rep.Totals.RejectedOutOfJurisdiction != 1 {
		t.Errorf("report totals: %+v, want 3 requests, 1 rejected out of jurisdiction", rep.Totals)
	}
	// A new demand reaches the log: the next report counts it (the page
	// caches reports only for the checkpoint they were computed from).
	at := time.Unix(0, rep.Period.From.UnixNano()).Add(time.Hour)
	f.src.Add(demandEvent(at, sealpost.EventDemandFiled, "dm-new", "", "officer-a", "US", "search_warrant", "", map[string]string{"state": "received", "targets": "1"}))
	if _, err := f.ledger.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, body = get(t, c, f.srv.URL+"/transparency/report.json"+q)
	var rep2 report.Report
	if err := json.Unmarshal([]byte(body), &rep2); err != nil || rep2.Totals.Requests != 4 || rep2.Checkpoint.Size != f.log.Size() {
		t.Errorf("after a new demand: %d requests at size %d (log %d), %v; want 4", rep2.Totals.Requests, rep2.Checkpoint.Size, f.log.Size(), err)
	}
	if resp, _ := get(t, c, f.srv.URL+"/transparency"); resp.StatusCode != http.StatusOK {
		t.Errorf("/transparency without a period: %d", resp.StatusCode)
	}
	if resp, _ := get(t, c, f.srv.URL+"/transparency?period=2026-Q3"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/transparency?period=2026-Q3: %d, want 400", resp.StatusCode)
	}
}

func TestCanary(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t)
	resp, body := get(t, c, f.srv.URL+"/canary")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/canary: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Sealpost-Canary") != "current" {
		t.Errorf("Sealpost-Canary: %q, want current", resp.Header.Get("Sealpost-Canary"))
	}
	if _, err := note.Open([]byte(body), note.VerifierList(f.canary)); err != nil {
		t.Errorf("/canary does not verify: %v\n%s", err, body)
	}
	f.clock.Add(25 * time.Hour) // past its expiry, not renewed
	resp, body2 := get(t, c, f.srv.URL+"/canary")
	if resp.Header.Get("Sealpost-Canary") != "lapsed" || body2 != body {
		t.Errorf("lapsed /canary: header %q, body changed %v", resp.Header.Get("Sealpost-Canary"), body2 != body)
	}
	_, page := get(t, c, f.srv.URL+"/transparency?period="+url.QueryEscape(f.period))
	if !strings.Contains(page, "<strong>Lapsed.</strong>") || strings.Contains(page, "<strong>Current.</strong>") {
		t.Errorf("/transparency does not say the canary lapsed")
	}
}

// noCanary is a Log that never issued a canary.
type noCanary struct{ web.Log }

func (noCanary) Canary() ([]byte, bool) { return nil, true }

func TestNoCanary(t *testing.T) {
	f := newFixture(t, func(l web.Log) web.Log { return noCanary{l} })
	c := client(t)
	if resp, _ := get(t, c, f.srv.URL+"/canary"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/canary with none issued: %d, want 404", resp.StatusCode)
	}
	if _, page := get(t, c, f.srv.URL+"/transparency"); !strings.Contains(page, "No warrant canary has been issued.") {
		t.Errorf("/transparency does not say no canary was issued")
	}
}
