package web_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/transparency"
	"github.com/sealpost/sealpost/web"
)

// These tests drive Debian's chromium, headless, against the app on
// 127.0.0.1 (a secure context, so WebCrypto works): the proofs on the
// privacy page are checked by /static/verify.js in a real browser, under
// the page's real Content-Security-Policy.

func browser(t *testing.T) (context.Context, func() []string) { return testenv.Browser(t) }

// signIn signs in through the form, as a person would.
func signIn(ctx context.Context, base, addr, pass string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(base + "/me"), // redirected to the form
		chromedp.WaitVisible(`#address`, chromedp.ByQuery),
		chromedp.SendKeys(`#address`, addr, chromedp.ByQuery),
		chromedp.SendKeys(`#password`, pass, chromedp.ByQuery),
		chromedp.Click(`main form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#where`, chromedp.ByQuery),
	}
}

// row is one entry row of the privacy page as the browser shows it.
type row struct {
	Demand   string             `json:"demand"`
	Kind     sealpost.EventKind `json:"kind"`
	Outcome  string             `json:"outcome"`
	Proof    string             `json:"proof"`
	Verified string             `json:"verified"`
}

const rowsJS = `Array.from(document.querySelectorAll('#entries tbody tr')).map(r => ({
	demand: r.dataset.demand, kind: r.dataset.kind, outcome: r.cells[5].textContent,
	proof: r.querySelector('td.proof').textContent, verified: r.querySelector('td.proof').dataset.verified || ''}))`

// checkedPage waits for verify.js to finish and reads the page.
func checkedPage(ctx context.Context, main, status *string, rows *[]row) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.WaitVisible(`body[data-proofs-checked="done"]`, chromedp.ByQuery),
		chromedp.Text(`main`, main, chromedp.ByQuery),
		chromedp.Text(`#checkpoint-status`, status, chromedp.ByQuery),
		chromedp.Evaluate(rowsJS, rows),
	}
}

func TestBrowserPrivacyPageVerifies(t *testing.T) {
	ctx, problems := browser(t)
	f := newFixture(t, nil)
	var main, status string
	var rows []row
	if err := chromedp.Run(ctx, signIn(ctx, f.srv.URL, alice, alicePass), checkedPage(ctx, &main, &status, &rows)); err != nil {
		t.Fatalf("browser: %v (problems: %v)", err, problems())
	}
	if !strings.Contains(main, "Ireland") {
		t.Errorf("the page does not say Ireland:\n%s", main)
	}
	if want := "Checkpoint: size " + strconv.FormatUint(f.log.Size(), 10) + ", signature verified"; status != want {
		t.Errorf("checkpoint status %q, want %q", status, want)
	}
	var rejected bool
	for _, r := range rows {
		if r.Demand == gaggedDemand || r.Demand == bobDemand {
			t.Errorf("the page shows demand %s", r.Demand)
		}
		if r.Proof != "verified" || r.Verified != "true" {
			t.Errorf("entry %s %s: proof %q (data-verified %q), want verified", r.Demand, r.Kind, r.Proof, r.Verified)
		}
		if r.Demand == lapsedDemand && r.Kind == sealpost.EventDemandDecided && strings.Contains(r.Outcome, "reject out of jurisdiction") {
			rejected = true
		}
	}
	if !rejected {
		t.Errorf("no rejected demand %s among %+v", lapsedDemand, rows)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}
}

// tampered stands between the pages and the ledger and alters what the
// privacy page is given to show.
type tampered struct {
	web.Log
	mu  sync.Mutex
	mut func(ctx context.Context, l web.Log, c *transparency.Checked)
}

func (t *tampered) Owned(ctx context.Context, addr string, now time.Time) (transparency.Checked, error) {
	c, err := t.Log.Owned(ctx, addr, now)
	if err != nil {
		return c, err
	}
	t.mu.Lock()
	mut := t.mut
	t.mu.Unlock()
	if mut != nil {
		c.Checkpoint = append([]byte(nil), c.Checkpoint...)
		c.Entries = append([]transparency.Owned(nil), c.Entries...)
		for i := range c.Entries {
			e := &c.Entries[i]
			e.Data = append([]byte(nil), e.Data...)
			e.Proof = append([][32]byte(nil), e.Proof...)
		}
		mut(ctx, t.Log, &c)
	}
	return c, nil
}

// decided returns the index in c.Entries of the decision entry.
func decided(c *transparency.Checked) int {
	for i, o := range c.Entries {
		if o.Entry.Kind == sealpost.EventDemandDecided {
			return i
		}
	}
	panic("no demand.decided entry")
}

func TestBrowserTamperedProofsFail(t *testing.T) {
	ctx, problems := browser(t)
	tl := &tampered{}
	f := newFixture(t, func(l web.Log) web.Log { tl.Log = l; return tl })
	if err := chromedp.Run(ctx, signIn(ctx, f.srv.URL, alice, alicePass)); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	for _, tc := range []struct {
		name       string
		mut        func(ctx context.Context, l web.Log, c *transparency.Checked)
		want       string // in the decision entry's proof cell
		checkpoint bool   // the checkpoint fails too
	}{
		{"proof hash", func(_ context.Context, _ web.Log, c *transparency.Checked) {
			c.Entries[decided(c)].Proof[0][7] ^= 0x01
		}, "FAILED: inclusion proof does not lead to the checkpoint root", false},
		{"entry", func(_ context.Context, _ web.Log, c *transparency.Checked) {
			// The server claims the demand was found eligible.
			e := &c.Entries[decided(c)]
			e.Data = []byte(strings.Replace(string(e.Data), "reject_out_of_jurisdiction", "eligible", 1))
		}, "FAILED: inclusion proof does not lead to the checkpoint root", false},
		{"proof too short", func(_ context.Context, _ web.Log, c *transparency.Checked) {
			e := &c.Entries[decided(c)]
			e.Proof = e.Proof[:len(e.Proof)-1]
		}, "FAILED: inclusion proof is too short", false},
		{"someone else's entry", func(ctx context.Context, l web.Log, c *transparency.Checked) {
			// A valid entry of the log, but bob's, shown as alice's.
			b, err := l.Owned(ctx, bob, time.Now())
			if err != nil || len(b.Entries) == 0 {
				panic("no entry of bob's")
			}
			c.Entries[decided(c)] = b.Entries[0]
		}, "FAILED: entry is not about this account", false},
		{"row differs from the entry", func(_ context.Context, _ web.Log, c *transparency.Checked) {
			c.Entries[decided(c)].Entry.Time = "2000-01-01T00:00:00Z"
		}, "FAILED: the row shown does not match the logged entry", false},
		{"checkpoint signature", func(_ context.Context, _ web.Log, c *transparency.Checked) {
			// Flip one base64 character of the signature.
			cp := c.Checkpoint
			i := len(cp) - 10
			if cp[i] == 'A' {
				cp[i] = 'B'
			} else {
				cp[i] = 'A'
			}
		}, "FAILED: checkpoint signature does not verify", true},
		{"checkpoint root", func(_ context.Context, _ web.Log, c *transparency.Checked) {
			// Another root under the same signature.
			lines := strings.SplitN(string(c.Checkpoint), "\n", 4)
			r := []byte(lines[2])
			if r[0] == 'A' {
				r[0] = 'B'
			} else {
				r[0] = 'A'
			}
			lines[2] = string(r)
			c.Checkpoint = []byte(strings.Join(lines, "\n"))
		}, "FAILED: checkpoint signature does not verify", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl.mu.Lock()
			tl.mut = tc.mut
			tl.mu.Unlock()
			var main, status string
			var rows []row
			if err := chromedp.Run(ctx, chromedp.Navigate(f.srv.URL+"/me"), checkedPage(ctx, &main, &status, &rows)); err != nil {
				t.Fatalf("browser: %v", err)
			}
			if ok := strings.HasSuffix(status, "signature verified"); ok == tc.checkpoint {
				t.Errorf("checkpoint status %q", status)
			}
			var seen bool
			for _, r := range rows {
				if r.Kind != sealpost.EventDemandDecided && !tc.checkpoint {
					if r.Proof != "verified" {
						t.Errorf("untouched entry %s: %q", r.Kind, r.Proof)
					}
					continue
				}
				seen = true
				if r.Proof != tc.want || r.Verified != "false" {
					t.Errorf("entry %s %s: proof %q (data-verified %q), want %q", r.Demand, r.Kind, r.Proof, r.Verified, tc.want)
				}
			}
			if !seen {
				t.Errorf("no tampered row among %+v", rows)
			}
		})
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}
}

func TestBrowserReportCharts(t *testing.T) {
	ctx, problems := browser(t)
	f := newFixture(t, nil)
	var charts, rects int
	var canary string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(f.srv.URL+"/transparency?period="+f.period),
		chromedp.WaitVisible(`svg.chart`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('svg.chart').length`, &charts),
		chromedp.Evaluate(`document.querySelectorAll('svg.chart rect').length`, &rects),
		chromedp.Text(`#canary`, &canary, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if charts == 0 || rects == 0 {
		t.Errorf("the report shows %d charts with %d bars", charts, rects)
	}
	if !strings.Contains(canary, "Current.") {
		t.Errorf("canary section: %q", canary)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}
}

// TestBrowserPhoneAndAccessible opens every page at a phone's width (375
// CSS pixels) and checks that none scrolls sideways as a whole, and the
// basics a screen reader needs: a language, one h1, a label for every
// form control, a scope for every table header, a title for every chart.
func TestBrowserPhoneAndAccessible(t *testing.T) {
	ctx, problems := browser(t)
	f := newFixture(t, nil)
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(375, 740, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	const audit = `(() => {
		const bad = [];
		if (!document.documentElement.lang) bad.push('no lang');
		if (document.querySelectorAll('h1').length !== 1) bad.push(document.querySelectorAll('h1').length + ' h1');
		for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
			if (!el.labels || el.labels.length === 0) bad.push('unlabelled ' + (el.id || el.name));
		}
		for (const th of document.querySelectorAll('th')) {
			if (!th.getAttribute('scope')) bad.push('th without scope: ' + th.textContent.trim());
		}
		for (const svg of document.querySelectorAll('svg.chart')) {
			if (!svg.querySelector('title')) bad.push('chart without title');
		}
		if (document.documentElement.scrollWidth > window.innerWidth + 1) {
			bad.push('page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
		}
		return bad;
	})()`
	check := func(name string) {
		t.Helper()
		var bad []string
		if err := chromedp.Run(ctx, chromedp.Evaluate(audit, &bad)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(bad) > 0 {
			t.Errorf("%s at phone width: %v", name, bad)
		}
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(f.srv.URL+"/me/login"), chromedp.WaitVisible(`#address`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	check("sign-in page")
	if err := chromedp.Run(ctx, signIn(ctx, f.srv.URL, alice, alicePass), chromedp.WaitVisible(`body[data-proofs-checked="done"]`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	check("privacy page")
	if err := chromedp.Run(ctx, chromedp.Navigate(f.srv.URL+"/transparency?period="+f.period), chromedp.WaitVisible(`svg.chart`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	check("transparency report")
	if err := chromedp.Run(ctx, chromedp.Navigate(f.srv.URL+"/console/login"), chromedp.WaitVisible(`form`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	check("legal console sign-in")
	if p := problems(); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}
}

// The Filters section in a real browser: a hostile script is shown as text
// (the textarea holds it exactly, no element is made of it), and an edited
// script is saved through the form, as typed but for the line ends HTML
// gives a textarea's value when it is sent (CRLF, as RFC 5228 writes them).
func TestBrowserFilterSave(t *testing.T) {
	ctx, problems := browser(t)
	f := newFixture(t, nil)
	hostile := "\n# </textarea><script>document.title='owned'</script>\nkeep;\n"
	f.owners.setScript(alice, hostile)
	var shown, title, saved, flash string
	var scripts int
	edited := "require \"fileinto\";\nif header :contains \"subject\" \"[list]\" {\n  fileinto \"Lists\";\n}\n"
	if err := chromedp.Run(ctx, signIn(ctx, f.srv.URL, alice, alicePass),
		chromedp.WaitVisible(`#filters`, chromedp.ByQuery),
		chromedp.Value(`#script`, &shown, chromedp.ByQuery),
		chromedp.Title(&title),
		chromedp.Evaluate(`document.querySelectorAll('script').length`, &scripts),
		chromedp.SetValue(`#script`, edited, chromedp.ByQuery),
		chromedp.SendKeys(`#script-password`, alicePass, chromedp.ByQuery),
		chromedp.Click(`#save-script`, chromedp.ByQuery),
		chromedp.WaitVisible(`p.flash`, chromedp.ByQuery),
		chromedp.Text(`p.flash`, &flash, chromedp.ByQuery),
		chromedp.Value(`#script`, &saved, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("browser: %v (problems: %v)", err, problems())
	}
	if shown != hostile || title == "owned" || scripts != 2 {
		t.Errorf("the hostile script: textarea %q (want %q), title %q, %d script elements (want 2)", shown, hostile, title, scripts)
	}
	if !strings.Contains(flash, "Your script is saved and active.") {
		t.Errorf("after saving: %q", flash)
	}
	sent := strings.ReplaceAll(edited, "\n", "\r\n")
	if ch := f.owners.takeChanges(); len(ch) != 1 || string(ch[0].Script) != sent {
		t.Errorf("changes: %+v, want the script %q", ch, sent)
	}
	if saved != strings.ReplaceAll(sent, "\r\n", "\n") {
		t.Errorf("the textarea after saving: %q", saved)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}
}
