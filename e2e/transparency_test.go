package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/transparency"
)

// nsRequest is a national-security request: its log entries are withheld,
// and it stops the warrant canary.
const nsRequest = `{
  "reference": "NSL-2026-0042",
  "authority": "Federal Bureau of Investigation",
  "country": "US",
  "instrument": "national_security_request",
  "legal_basis": "18 U.S.C. 2709",
  "targets": ["bob@demo.example"],
  "categories": ["subscriber"],
  "nondisclosure_until": "2030-01-01",
  "received": "2026-11-02"
}`

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return b
}

// waitForLog waits until the log served at web holds an entry matching re
// (the ledger publishes every two seconds) and returns the log's size.
func waitForLog(t *testing.T, web string, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := sealpost(t, "", "log", "mine", "--secret", "00", "--url", web) // audits the log; lists nothing
		_ = out
		cp := httpGet(t, web+"/log/checkpoint")
		size, _ := strconv.Atoi(strings.Split(string(cp), "\n")[1])
		var all []byte
		for n := 0; n*256 < size; n++ {
			w := min(256, size-n*256)
			p := "/log/tile/entries/" + tileIndex(n)
			if w < 256 {
				p += ".p/" + strconv.Itoa(w)
			}
			all = append(all, httpGet(t, web+p)...)
		}
		if re.Match(all) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log never got an entry matching %s", re)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func tileIndex(n int) string { return strconv.Itoa(1000 + n)[1:] } // n < 1000: "000".."999"

// TestTransparencyLog runs the transparency log on the real binary: demands
// filed (one under a nondisclosure order, one a national-security request),
// the order lapsing, the log audited by `sealpost log verify` from a
// trusted checkpoint, the report recomputed from the log alone and equal
// to the one the server publishes, and every kind of tampering caught.
func TestTransparencyLog(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	web := "http://" + d.Addrs["web"]
	firstCP := httpGet(t, web+"/log/checkpoint")
	canary1 := httpGet(t, web+"/canary")
	key := strings.TrimSpace(string(httpGet(t, web+"/log/key")))
	d.Stop()
	dd := []string{"--data", data}
	if got := strings.TrimSpace(mustSealpost(t, "", append([]string{"log", "key"}, dd...)...)); got != key {
		t.Fatalf("log key %q, served %q", got, key)
	}

	out := mustOfficer(t, "officer-a", append([]string{"demand", "file", filepath.Join(demands, "us-warrant-alice-gag.json")}, dd...)...)
	gagID := regexp.MustCompile(`D-\d{4}-\d{6}`).FindString(out)
	mustOfficer(t, "officer-a", append([]string{"demand", "transition", gagID, "in_review"}, dd...)...)
	mustOfficer(t, "officer-a", append([]string{"demand", "transition", gagID, "rejected", "--note", "out of jurisdiction"}, dd...)...)
	out = mustOfficer(t, "officer-a", append([]string{"demand", "file", filepath.Join(demands, "us-warrant-bob.json"), "--docs", filepath.Join(demands, "documents")}, dd...)...)
	bobID := regexp.MustCompile(`D-\d{4}-\d{6}`).FindString(out)
	mustOfficer(t, "officer-a", append([]string{"demand", "transition", bobID, "in_review"}, dd...)...)
	mustOfficer(t, "officer-a", append([]string{"demand", "transition", bobID, "challenged"}, dd...)...)
	ns := filepath.Join(dir, "ns.json")
	os.WriteFile(ns, []byte(nsRequest), 0o600)
	out = mustOfficer(t, "officer-a", append([]string{"demand", "file", ns}, dd...)...)
	nsID := regexp.MustCompile(`D-\d{4}-\d{6}`).FindString(out)
	// A second one whose order ends this year: opened when it lapses.
	os.WriteFile(ns, []byte(strings.NewReplacer("NSL-2026-0042", "NSL-2026-0043", "2030-01-01", "2026-12-31").Replace(nsRequest)), 0o600)
	out = mustOfficer(t, "officer-a", append([]string{"demand", "file", ns}, dd...)...)
	ns2ID := regexp.MustCompile(`D-\d{4}-\d{6}`).FindString(out)

	// Forty days on, the nondisclosure order of alice's warrant has lapsed:
	// the server sends her notice, and the notice's entry reveals the
	// entries the order had covered.
	d = testenv.StartDemoArgs(t, data, filepath.Join(dir, "demo2.log"),
		"--smtp", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--submissions", "127.0.0.1:0",
		"--imap", "127.0.0.1:0", "--imaps", "127.0.0.1:0", "--web", "127.0.0.1:0", "--clock-offset", "1000h")
	web = "http://" + d.Addrs["web"]
	waitForLog(t, web, regexp.MustCompile(`"kind":"notice.sent"[^\n]*"reveals":\[\{"index":\d+`))
	waitForLog(t, web, regexp.MustCompile(`"opens":\[`))

	// Nothing in the public log names an account, an authority or an officer.
	cp := httpGet(t, web+"/log/checkpoint")
	size, _ := strconv.Atoi(strings.Split(string(cp), "\n")[1])
	bundle := httpGet(t, web+"/log/tile/entries/000.p/"+strconv.Itoa(size))
	for _, name := range []string{"alice", "bob@", "Department of Justice", "Federal Bureau", "officer-a", "NSL-2026"} {
		if bytes.Contains(bundle, []byte(name)) {
			t.Errorf("the public log names %q", name)
		}
	}
	// The national-security request under an order is withheld; the one
	// whose order lapsed was opened by its notice, and every opening checks
	// against its commitment.
	entries := splitBundle(bundle)
	var withheld, opened int
	for i, raw := range entries {
		e, err := transparency.Parse(raw)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if e.Kind == transparency.KindWithheld {
			withheld++
		}
		for _, o := range e.Opens {
			w, _ := transparency.Parse(entries[o.Index])
			full, _ := transparency.Parse([]byte(o.Entry))
			if !o.Check(w) || full.DemandOf() != ns2ID {
				t.Errorf("entry %d opens entry %d wrongly: %s", i, o.Index, o.Entry)
			}
			opened++
		}
	}
	if withheld < 6 || opened < 3 || bytes.Contains(bundle, []byte(nsID)) {
		t.Errorf("%d withheld entries, %d opened; the gagged request %s named: %v", withheld, opened, nsID, bytes.Contains(bundle, []byte(nsID)))
	}
	if !bytes.Contains(bundle, []byte(`"kind":"policy.loaded"`)) {
		t.Error("the policy in force is not in the log")
	}

	// An outside monitor audits the log from the checkpoint it saw first.
	trusted := filepath.Join(dir, "trusted")
	os.WriteFile(trusted, firstCP, 0o600)
	out = mustSealpost(t, "", "log", "verify", "--url", web, "--key", key, "--trusted", trusted, "--save")
	if !strings.Contains(out, "log verified: "+strconv.Itoa(size)+" entries") || !strings.Contains(out, "consistent with the trusted checkpoint") {
		t.Errorf("log verify: %s", out)
	}
	if b, _ := os.ReadFile(trusted); !bytes.Equal(b, cp) {
		t.Errorf("--save kept %q, latest is %q", b, cp)
	}

	// Alice signs in to her privacy page in a real browser: her mail is in
	// Ireland, and the rejected US warrant, once its order lapsed, is there
	// with its proof checked by the page against the signed checkpoint.
	ctx, problems := testenv.Browser(t)
	var main, status, secret string
	var rows []struct{ Demand, Kind, Outcome, Proof, Verified string }
	err := chromedp.Run(ctx,
		chromedp.Navigate(web+"/me"),
		chromedp.WaitVisible(`#address`, chromedp.ByQuery),
		chromedp.SendKeys(`#address`, alice, chromedp.ByQuery),
		chromedp.SendKeys(`#password`, "alice-demo-pass", chromedp.ByQuery),
		chromedp.Click(`main form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-proofs-checked="done"]`, chromedp.ByQuery),
		chromedp.Text(`main`, &main, chromedp.ByQuery),
		chromedp.Text(`#checkpoint-status`, &status, chromedp.ByQuery),
		chromedp.Text(`#account-secret`, &secret, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#entries tbody tr')).map(r => ({
			Demand: r.dataset.demand || '', Kind: r.dataset.kind || '', Outcome: r.cells[5].textContent,
			Proof: r.querySelector('td.proof').textContent, Verified: r.querySelector('td.proof').dataset.verified || ''}))`, &rows),
	)
	if err != nil {
		t.Fatalf("browser: %v (page problems: %v)", err, problems())
	}
	if !strings.Contains(main, "Ireland") {
		t.Errorf("alice's page does not say Ireland:\n%s", main)
	}
	if !strings.HasSuffix(status, "signature verified") {
		t.Errorf("checkpoint status %q", status)
	}
	var sawRejected bool
	for _, r := range rows {
		if r.Proof != "verified" || r.Verified != "true" {
			t.Errorf("entry %+v: proof not verified", r)
		}
		if r.Demand == gagID && r.Kind == "demand.decided" && strings.Contains(r.Outcome, "reject out of jurisdiction") {
			sawRejected = true
		}
	}
	if !sawRejected {
		t.Errorf("alice's page lacks the rejected warrant %s: %+v", gagID, rows)
	}
	// Her secret finds the same entries in the whole public log, including
	// the one the order covered (through the notice's reveal).
	out = mustSealpost(t, "", "log", "mine", "--secret", strings.TrimSpace(secret), "--url", web, "--key", key)
	if !regexp.MustCompile(`demand.decided `+gagID).MatchString(out) || !regexp.MustCompile(`notice.sent `+gagID).MatchString(out) {
		t.Errorf("log mine with alice's secret:\n%s", out)
	}
	if n := len(regexp.MustCompile(`(?m)^\d+\t`).FindAllString(out, -1)); n != len(rows) {
		t.Errorf("log mine finds %d entries, the page shows %d:\n%s", n, len(rows), out)
	}
	// The public report page renders its charts.
	var charts, rects int
	err = chromedp.Run(ctx,
		chromedp.Navigate(web+"/transparency?period=2026-H2"),
		chromedp.WaitVisible(`svg.chart`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('svg.chart').length`, &charts),
		chromedp.Evaluate(`document.querySelectorAll('svg.chart rect').length`, &rects),
	)
	if err != nil || charts < 2 || rects == 0 {
		t.Errorf("report page: %d charts, %d bars, %v", charts, rects, err)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}

	// Alice moves her mailbox to the United States from her page; the move
	// is published in the log.
	var where string
	if err := chromedp.Run(ctx, chromedp.Navigate(web+"/me"), chromedp.Text(`section[aria-labelledby="where"] dl`, &where, chromedp.ByQuery)); err != nil || !strings.Contains(where, "Ireland") {
		t.Fatalf("before the move alice's region reads %q, %v", where, err)
	}
	err = chromedp.Run(ctx,
		chromedp.WaitVisible(`#move-password`, chromedp.ByQuery),
		chromedp.SetValue(`#region`, "us", chromedp.ByQuery),
		chromedp.SendKeys(`#move-password`, "alice-demo-pass", chromedp.ByQuery),
		chromedp.Submit(`#move-password`, chromedp.ByQuery),
		chromedp.WaitVisible(`p.flash[role="status"]`, chromedp.ByQuery),
		chromedp.Text(`section[aria-labelledby="where"] dl`, &where, chromedp.ByQuery),
	)
	if err != nil || !strings.Contains(where, "United States") {
		t.Errorf("after moving from the page: %v\n%s", err, where)
	}
	waitForLog(t, web, regexp.MustCompile(`"kind":"mailbox.move.completed","actor":"owner","subject":"[0-9a-f]{64}","salt":"[0-9a-f]+","detail":\{"from":"ie","to":"us"\}`))
	// The monitor's next run: the grown log extends what it trusted.
	out = mustSealpost(t, "", "log", "verify", "--url", web, "--key", key, "--trusted", trusted, "--save")
	if !strings.Contains(out, "consistent with the trusted checkpoint of "+strconv.Itoa(size)+" entries") {
		t.Errorf("log verify after growth: %s", out)
	}
	cp = httpGet(t, web+"/log/checkpoint")
	size, _ = strconv.Atoi(strings.Split(string(cp), "\n")[1])

	// Single proofs on request: an entry's inclusion, and consistency of the
	// latest tree with the first checkpoint.
	first := filepath.Join(dir, "first")
	os.WriteFile(first, firstCP, 0o600)
	if out := mustSealpost(t, "", "log", "prove", "--url", web, "--key", key, "--trusted", first); !strings.Contains(out, "extends the trusted one of") {
		t.Errorf("log prove --trusted: %s", out)
	}
	if out := mustSealpost(t, "", "log", "prove", "--url", web, "--key", key, "--index", "3"); !strings.Contains(out, "entry 3 is in the log of "+strconv.Itoa(size)+" entries") {
		t.Errorf("log prove --index: %s", out)
	}

	// Bob's secret finds the national-security request's entries once opened,
	// and nothing of the one still under its order.
	out = mustSealpost(t, "", "log", "mine", "--secret", ownerSecret(t, web, bob, "bob-demo-pass"), "--url", web, "--key", key)
	if n := strings.Count(out, "(withheld, opened)"); n != 2 || !strings.Contains(out, "demand.decided "+ns2ID) || strings.Contains(out, nsID) {
		t.Errorf("log mine with bob's secret: %d opened entries:\n%s", n, out)
	}

	// The canary was not renewed after the national-security request, and
	// has expired.
	canary2 := httpGet(t, web+"/canary")
	if !bytes.Equal(canary1[:bytes.Index(canary1, []byte("\n\n"))], canary2[:bytes.Index(canary2, []byte("\n\n"))]) {
		t.Errorf("the canary was renewed after a national-security request:\n%s", canary2)
	}
	if n := bytes.Count(bundle, []byte(`"kind":"canary.signed"`)); n != 1 {
		t.Errorf("%d canary statements in the log, want 1", n)
	}

	// The report, recomputed by the command line from the verified log
	// alone, is the one the server publishes, and counts what happened.
	period := "2026-H2"
	mine := mustSealpost(t, "", "report", "--url", web, "--key", key, "--period", period, "--format", "json")
	served := httpGet(t, web+"/transparency/report.json?period="+period)
	if strings.TrimSpace(mine) != strings.TrimSpace(string(served)) {
		t.Errorf("recomputed report differs from the served one:\n%s\n---\n%s", mine, served)
	}
	var rep struct {
		Checkpoint struct {
			Size uint64 `json:"size"`
		} `json:"checkpoint"`
		Rows []map[string]any `json:"rows"`
		NS   map[string]any   `json:"national_security"`
	}
	if err := json.Unmarshal([]byte(mine), &rep); err != nil {
		t.Fatalf("report json: %v\n%s", err, mine)
	}
	if rep.Checkpoint.Size != uint64(size) {
		t.Errorf("report computed from a checkpoint of %d entries, want %d", rep.Checkpoint.Size, size)
	}
	var warrants map[string]any
	for _, r := range rep.Rows {
		if r["country"] == "US" && r["instrument"] == "search_warrant" {
			warrants = r
		}
	}
	want := map[string]float64{"requests": 2, "accounts_specified": 2, "rejected": 1, "rejected_out_of_jurisdiction": 1, "challenged": 1, "pending": 1, "users_notified": 2, "notices_delayed_by_nondisclosure": 1} // bob notified at once, alice after the lapse
	for k, v := range want {
		if got, _ := warrants[k].(float64); got != v {
			t.Errorf("US search warrants %s = %v, want %v (row %v)", k, warrants[k], v, warrants)
		}
	}
	if rep.NS["band"] != "0–249" {
		t.Errorf("national-security band %v", rep.NS)
	}

	// Tampering, as a monitor sees it: a proxy alters what the log serves.
	skey, err := os.ReadFile(filepath.Join(data, "keys", "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		alter func(path string, b []byte) []byte
		want  string
	}{
		{"flip a byte", func(p string, b []byte) []byte {
			if strings.HasPrefix(p, "tile/entries/") {
				b[len(b)/2] ^= 0x01
			}
			return b
		}, "entry"},
		{"drop an entry", func(p string, b []byte) []byte {
			if strings.HasPrefix(p, "tile/entries/") {
				es := splitBundle(b)
				return joinBundle(append(es[:2:2], es[3:]...))
			}
			return b
		}, "tile/entries/000"},
		{"reorder entries", func(p string, b []byte) []byte {
			if strings.HasPrefix(p, "tile/entries/") {
				es := splitBundle(b)
				es[1], es[2] = es[2], es[1]
				return joinBundle(es)
			}
			return b
		}, "entry 1"},
		{"truncate the log", func(p string, b []byte) []byte {
			if p == "checkpoint" {
				return firstCP
			}
			return b
		}, "truncated"},
		{"fork the log", func(p string, b []byte) []byte {
			if p == "checkpoint" {
				return resign(t, string(skey), b)
			}
			return b
		}, "forked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				resp, err := http.Get(web + r.URL.Path)
				if err != nil {
					http.Error(w, err.Error(), 502)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				w.WriteHeader(resp.StatusCode)
				w.Write(tc.alter(strings.TrimPrefix(r.URL.Path, "/log/"), b))
			}))
			defer proxy.Close()
			out, err := sealpost(t, "", "log", "verify", "--url", proxy.URL, "--key", key, "--trusted", trusted)
			if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(out, tc.want) {
				t.Errorf("log verify on a log with %s: err %v, want a failure naming %q:\n%s", tc.name, err, tc.want, out)
			}
		})
	}

	// Tampering on the operator's own disk: the stopped server's log.
	d.Stop()
	mustSealpost(t, "", append([]string{"log", "verify"}, dd...)...)
	// A self-contained proof of one entry checks offline; altered, it fails.
	proof := mustSealpost(t, "", append([]string{"log", "proof", "2"}, dd...)...)
	pf := filepath.Join(dir, "proof")
	os.WriteFile(pf, []byte(proof), 0o600)
	if out := mustSealpost(t, "", "log", "check-proof", pf, "--key", key); !strings.Contains(out, "proof verified: entry 2 ") {
		t.Errorf("check-proof: %s", out)
	}
	extra := regexp.MustCompile(`(?m)^extra (\S+)$`).FindStringSubmatch(proof)
	if extra == nil {
		t.Fatalf("proof without extra data:\n%s", proof)
	}
	entry, _ := base64.StdEncoding.DecodeString(extra[1])
	forged := base64.StdEncoding.EncodeToString(bytes.Replace(entry, []byte(`"actor":"admin"`), []byte(`"actor":"owner"`), 1))
	os.WriteFile(pf, []byte(strings.Replace(proof, extra[1], forged, 1)), 0o600)
	if out, err := sealpost(t, "", "log", "check-proof", pf, "--key", key); err == nil || !strings.Contains(out, "FAILED") {
		t.Errorf("check-proof of an altered proof: %v\n%s", err, out)
	}
	onDisk := filepath.Join(data, "log", "tree", "entries")
	b, _ := os.ReadFile(onDisk)
	b[len(b)/3] ^= 0x20
	os.WriteFile(onDisk, b, 0o600)
	if out, err := sealpost(t, "", append([]string{"log", "verify"}, dd...)...); err == nil || !strings.Contains(out, "entry") {
		t.Errorf("log verify --data after flipping a byte on disk: %v\n%s", err, out)
	}
}

// splitBundle and joinBundle read and write a C2SP tlog-tiles entry bundle:
// each entry prefixed by its length, two bytes big-endian.
func splitBundle(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out
}

func joinBundle(es [][]byte) []byte {
	var b []byte
	for _, e := range es {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b
}

// resign returns a checkpoint of the same size as cp with another root,
// signed with the log's own key: a fork only the operator could make.
func resign(t *testing.T, skey string, cp []byte) []byte {
	signer, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		t.Fatal(err)
	}
	var c log.Checkpoint
	body := cp[:bytes.Index(cp, []byte("\n\n"))+1]
	if _, err := c.Unmarshal(body); err != nil {
		t.Fatal(err)
	}
	c.Hash = bytes.Repeat([]byte{0x42}, 32)
	out, err := note.Sign(&note.Note{Text: string(c.Marshal())}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ownerSecret signs in to an owner's privacy page over plain HTTP (as a
// script would) and returns the account secret it shows.
func ownerSecret(t *testing.T, web, addr, pass string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(web + "/me/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	resp, err = c.PostForm(web+"/me/login", url.Values{"csrf": {string(m[1])}, "address": {addr}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m = regexp.MustCompile(`<code id="account-secret">([0-9a-f]{64})</code>`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("signing in as %s: %s\n%s", addr, resp.Status, page)
	}
	return string(m[1])
}
