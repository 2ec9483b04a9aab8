package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
	"github.com/sealpost/sealpost/internal/testenv"
)

// sieveConnect runs Debian's sieve-connect (a real ManageSieve client)
// against the demo's ManageSieve listener (STARTTLS, the demo's
// self-signed certificate) as user, with args.
func sieveConnect(t testing.TB, addr, user, pass string, args ...string) (string, error) {
	t.Helper()
	bin := testenv.NeedTool(t, "sieve-connect", "sieve-connect")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(pass + "\n")
	w.Close()
	defer r.Close()
	cmd := exec.Command(bin, append([]string{"--server", host, "--port", port, "--user", user,
		"--passwordfd", "3", "--notlsverify", "--authmech", "PLAIN"}, args...)...)
	cmd.ExtraFiles = []*os.File{r}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// uploadScript uploads src as name with sieve-connect and activates it.
func uploadScript(t testing.TB, addr, user, pass, name, src string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), name+".sieve")
	os.WriteFile(f, []byte(src), 0o600)
	if out, err := sieveConnect(t, addr, user, pass, "--upload", "--localsieve", f, "--remotesieve", name); err != nil {
		t.Fatalf("sieve-connect --upload: %v\n%s", err, out)
	}
	if out, err := sieveConnect(t, addr, user, pass, "--activate", "--remotesieve", name); err != nil {
		t.Fatalf("sieve-connect --activate: %v\n%s", err, out)
	}
}

// sendMX delivers raw over the MX and returns the SMTP error, if any.
func sendMX(t testing.TB, addr, from, to string, raw []byte) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail(from, []string{to}, bytes.NewReader(raw))
}

// mailboxContents maps each of the account's mailboxes to the subjects
// and flags of its messages.
func mailboxContents(t testing.TB, c *imapclient.Client) map[string]map[string][]imap.Flag {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]imap.Flag{}
	for _, mb := range list {
		if slices.Contains(mb.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(mb.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		sel, err := c.Select(mb.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("select %s: %v", mb.Mailbox, err)
		}
		out[mb.Mailbox] = map[string][]imap.Flag{}
		if sel.NumMessages == 0 {
			continue
		}
		var all imap.SeqSet
		all.AddRange(1, sel.NumMessages)
		msgs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			out[mb.Mailbox][m.Envelope.Subject] = m.Flags
		}
	}
	return out
}

// where returns the mailboxes holding a message with that subject.
func where(boxes map[string]map[string][]imap.Flag, subject string) []string {
	var in []string
	for name, msgs := range boxes {
		if _, ok := msgs[subject]; ok {
			in = append(in, name)
		}
	}
	return in
}

const rulesScript = `require ["fileinto", "mailbox", "imap4flags", "envelope", "subaddress",
  "copy", "reject", "vacation", "variables", "body", "relational", "date", "index"];

# Mailing lists go to a folder of their own, made when first needed.
if header :contains "list-id" "golang-nuts" { fileinto :create "Lists/golang"; stop; }
# The +detail of the address files by itself.
if envelope :detail "to" "news" { fileinto :create "News"; stop; }
if header :contains "subject" "urgent" { addflag "\\Flagged"; }
if address :is "from" "pest@example.org" { discard; stop; }
if header :contains "subject" "forward me" { redirect :copy "bob@demo.example"; }
if header :contains "subject" "reject me" { reject "I do not take mail about that."; stop; }
if body :text :contains "invoice-7731" { fileinto :create :flags "$Invoice" "Invoices"; }
if header :matches "subject" "ticket *" { set "n" "${1}"; fileinto :create "Tickets/${n}"; stop; }
if header :count "ge" :comparator "i;ascii-numeric" "received" "30" { discard; stop; }
if header :contains "subject" "to nowhere" { fileinto "Missing"; }
if address :is "from" "bob@demo.example" {
  vacation :days 7 :subject "Away" :addresses ["alice@demo.example"] "I am away until Monday.";
}
`

// TestSieveRules uploads a script with sieve-connect (a real ManageSieve
// client, over STARTTLS) and delivers a message for each rule through the
// MX or submission, then reads where each went with go-imap and with
// Python's imaplib.
func TestSieveRules(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "demo.log"))
			t.Logf("server log:\n%s", log)
		}
	})
	ms := d.Addrs["managesieve"]
	if ms == "" {
		t.Fatal("the demo printed no managesieve listener")
	}

	// A script with an error is refused with its line number, and nothing
	// is stored.
	bad := filepath.Join(dir, "bad.sieve")
	os.WriteFile(bad, []byte("require \"fileinto\";\nif header :contains \"subject\" \"x\" {\n  fileinto \"A\"\n}\n"), 0o600)
	out, err := sieveConnect(t, ms, alice, alicePass, "--upload", "--localsieve", bad, "--remotesieve", "bad")
	if err == nil || !strings.Contains(out, "line 3") {
		t.Errorf("a script with a syntax error: err %v, output %q (want a refusal naming line 3)", err, out)
	}
	if out, _ := sieveConnect(t, ms, alice, alicePass, "--list"); strings.Contains(out, "bad") {
		t.Errorf("the refused script was stored: %q", out)
	}
	if _, err := sieveConnect(t, ms, alice, "wrong-password", "--list"); err == nil {
		t.Error("sieve-connect with a wrong password succeeded")
	}

	uploadScript(t, ms, alice, alicePass, "rules", rulesScript)
	got, err := sieveConnect(t, ms, alice, alicePass, "--download", "--remotesieve", "rules", "--localsieve", filepath.Join(dir, "back.sieve"))
	if err != nil {
		t.Fatalf("download: %v %s", err, got)
	}
	if back, _ := os.ReadFile(filepath.Join(dir, "back.sieve")); string(back) != rulesScript {
		t.Errorf("downloaded script differs from the uploaded one:\n%s", back)
	}

	mx := d.Addrs["smtp"]
	ext := "sender@example.org"
	msg := func(subject, extra, body string) []byte {
		return fmt.Appendf(nil, "From: <%s>\r\nTo: <%s>\r\n%sSubject: %s\r\nMessage-ID: <%d.%s@example.org>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\n%s\r\n",
			ext, alice, extra, subject, time.Now().UnixNano(), strings.ReplaceAll(subject, " ", "-"), body)
	}
	mustSend := func(to string, raw []byte) {
		t.Helper()
		if err := sendMX(t, mx, ext, to, raw); err != nil {
			t.Fatalf("send %q: %v", raw[:60], err)
		}
	}
	mustSend(alice, msg("go 1.27 is out", "List-Id: <golang-nuts.googlegroups.com>\r\n", "release notes"))
	mustSend("alice+news@demo.example", msg("the daily news", "", "headlines"))
	mustSend(alice, msg("urgent: the roof", "", "it leaks"))
	if err := sendMX(t, mx, "pest@example.org", alice, bytes.ReplaceAll(msg("buy now", "", "x"), []byte("From: <sender@"), []byte("From: <pest@"))); err != nil {
		t.Fatalf("discarded message refused: %v", err)
	}
	mustSend(alice, msg("please forward me", "", "to bob"))
	err = sendMX(t, mx, ext, alice, msg("reject me please", "", "no"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) || !strings.Contains(se.Message, "I do not take mail about that.") {
		t.Errorf("reject: got %v, want 550 5.7.1 with the script's reason", err)
	}
	mustSend(alice, msg("your bill", "", "see invoice-7731 attached"))
	mustSend(alice, msg("ticket 4521", "", "a ticket"))
	mustSend(alice, msg("going to nowhere", "", "fileinto a missing mailbox without :create"))
	mustSend(alice, msg("plain mail", "", "nothing special"))

	// bob writes to alice twice: one vacation reply, filed in bob's INBOX.
	for i := range 2 {
		sc, err := smtp.DialTLS(d.Addrs["submissions"], testenv.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Auth(plainAuth(bob, bobPass)); err != nil {
			t.Fatal(err)
		}
		if err := sc.SendMail(bob, []string{alice}, bytes.NewReader(message(bob, alice, fmt.Sprintf("lunch %d", i), "shall we?"))); err != nil {
			t.Fatal(err)
		}
		sc.Close()
	}

	ac := login(t, d.Addrs["imaps"], alice, alicePass)
	boxes := mailboxContents(t, ac)
	checks := []struct {
		subject string
		want    []string
		flag    imap.Flag
	}{
		{"go 1.27 is out", []string{"Lists/golang"}, ""},
		{"the daily news", []string{"News"}, ""},
		{"urgent: the roof", []string{"INBOX"}, imap.FlagFlagged},
		{"buy now", nil, ""},
		{"please forward me", []string{"INBOX"}, ""},
		{"reject me please", nil, ""},
		{"your bill", []string{"Invoices"}, "$Invoice"},
		{"ticket 4521", []string{"Tickets/4521"}, ""},
		{"going to nowhere", []string{"INBOX"}, ""},
		{"plain mail", []string{"INBOX"}, ""},
		{"lunch 0", []string{"INBOX"}, ""},
	}
	for _, c := range checks {
		in := where(boxes, c.subject)
		if strings.Join(in, ",") != strings.Join(c.want, ",") {
			t.Errorf("%q is in %v, want %v", c.subject, in, c.want)
			continue
		}
		// Keywords compare without regard to case (RFC 9051 2.3.2); the
		// interpreter keeps only registered ones in their usual case.
		if c.flag != "" && !slices.ContainsFunc(boxes[c.want[0]][c.subject], func(f imap.Flag) bool { return strings.EqualFold(string(f), string(c.flag)) }) {
			t.Errorf("%q has flags %v, want %s", c.subject, boxes[c.want[0]][c.subject], c.flag)
		}
	}
	// The failed fileinto is told to the owner, once.
	notes := 0
	for s := range boxes["INBOX"] {
		if s == "Your mail filter failed" {
			notes++
		}
	}
	if notes != 1 {
		t.Errorf("%d notices of the script's failure in INBOX, want 1", notes)
	}

	bc := login(t, d.Addrs["imaps"], bob, bobPass)
	bobBoxes := mailboxContents(t, bc)
	if in := where(bobBoxes, "please forward me"); len(in) != 1 || in[0] != "INBOX" {
		t.Errorf("redirected copy in bob's %v, want INBOX", in)
	}
	if n := len(where(bobBoxes, "Away")); n != 1 {
		t.Errorf("bob got %d vacation replies, want 1 (one per sender per period)", n)
	}
	_, inbox := fetchAll(t, bc, "INBOX")
	for _, raw := range inbox {
		if bytes.Contains(raw, []byte("Subject: please forward me")) && !bytes.Contains(raw, []byte("Delivered-To: alice@demo.example")) {
			t.Errorf("redirected copy lacks Delivered-To:\n%s", raw)
		}
		if bytes.Contains(raw, []byte("Subject: Away")) && (!bytes.Contains(raw, []byte("Auto-Submitted: auto-replied")) || !bytes.Contains(raw, []byte("I am away until Monday."))) {
			t.Errorf("vacation reply malformed:\n%s", raw)
		}
	}

	// Python's imaplib sees the same folders.
	py := testenv.NeedTool(t, "python3", "python3")
	script := `import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
host, port = sys.argv[1].rsplit(":", 1)
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx); m.login(sys.argv[2], sys.argv[3])
for box in ["Lists/golang", "News", "Invoices", "Tickets/4521"]:
    typ, data = m.select('"' + box + '"', readonly=True)
    print(box, typ, data[0].decode())
`
	pout, err := exec.Command(py, "-c", script, d.Addrs["imaps"], alice, alicePass).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, pout)
	}
	for _, box := range []string{"Lists/golang", "News", "Invoices", "Tickets/4521"} {
		if !strings.Contains(string(pout), box+" OK 1") {
			t.Errorf("imaplib: %s does not hold one message:\n%s", box, pout)
		}
	}
}

// TestSieveVacationLoop: two accounts whose scripts both answer
// everything with a vacation reply do not answer each other's replies
// (RFC 3834: replies are Auto-Submitted and never answered), and a
// redirect loop between them ends.
func TestSieveVacationLoop(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	ms := d.Addrs["managesieve"]
	away := `require ["vacation"]; vacation :days 1 :addresses ["%s"] "away";`
	uploadScript(t, ms, alice, alicePass, "v", fmt.Sprintf(away, alice))
	uploadScript(t, ms, bob, bobPass, "v", fmt.Sprintf(away, bob))
	sc, err := smtp.DialTLS(d.Addrs["submissions"], testenv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Auth(plainAuth(bob, bobPass)); err != nil {
		t.Fatal(err)
	}
	if err := sc.SendMail(bob, []string{alice}, bytes.NewReader(message(bob, alice, "hello", "hi"))); err != nil {
		t.Fatal(err)
	}
	sc.Close()
	ac := login(t, d.Addrs["imaps"], alice, alicePass)
	bc := login(t, d.Addrs["imaps"], bob, bobPass)
	if _, m := fetchAll(t, ac, "INBOX"); len(m) != 1 {
		t.Errorf("alice has %d messages, want 1 (bob's, and no reply to her reply)", len(m))
	}
	if _, m := fetchAll(t, bc, "INBOX"); len(m) != 1 {
		t.Errorf("bob has %d messages, want 1 (alice's vacation reply)", len(m))
	}

	// Each redirects everything to the other: the loop ends with the
	// message kept, after a bounded number of hops.
	uploadScript(t, ms, alice, alicePass, "r", `redirect "bob@demo.example";`)
	uploadScript(t, ms, bob, bobPass, "r", `redirect "alice@demo.example";`)
	if err := sendMX(t, d.Addrs["smtp"], "sender@example.org", alice, message("sender@example.org", alice, "ping pong", "x")); err != nil {
		t.Fatalf("redirect loop: %v", err)
	}
	_, a := fetchAll(t, ac, "INBOX")
	_, b := fetchAll(t, bc, "INBOX")
	kept := 0
	for _, m := range append(mapValues(a), mapValues(b)...) {
		if bytes.Contains(m, []byte("Subject: ping pong")) {
			kept++
		}
	}
	if kept != 1 {
		t.Errorf("the looping message was kept %d times, want once", kept)
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestOwnerPageFilter: the owner signs in to the web app's page, saves a
// Sieve script there (the server's Owners.SetFilter: the password asked
// again, the script compiled, sealed, made active), mail is sorted by it;
// then the switch turns server-side filtering off and mail is no longer
// sorted; a script with an error shows the compiler's line.
func TestOwnerPageFilter(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	web := "http://" + d.Addrs["web"]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 60 * time.Second}
	csrfOf := func(page []byte) string {
		t.Helper()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
		if m == nil {
			t.Fatalf("no CSRF token in:\n%s", page)
		}
		return string(m[1])
	}
	get := func(path string) []byte {
		t.Helper()
		resp, err := c.Get(web + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	resp, err := c.PostForm(web+"/me/login", url.Values{"csrf": {csrfOf(get("/me/login"))}, "address": {alice}, "password": {alicePass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	post := func(path string, fields map[string]string) (int, []byte) {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		mw.Close()
		resp, err := c.Post(web+path, mw.FormDataContentType(), &body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	csrf := csrfOf(get("/me"))
	script := "require [\"fileinto\", \"mailbox\"];\r\nif header :contains \"subject\" \"invoice\" { fileinto :create \"Bills\"; }\r\n"
	if code, page := post("/me/filter/script", map[string]string{"csrf": csrf, "password": alicePass, "script": script}); code != http.StatusOK {
		t.Fatalf("saving the script: HTTP %d\n%s", code, page)
	}
	if code, page := post("/me/filter/script", map[string]string{"csrf": csrf, "password": alicePass, "script": "require \"fileinto\";\nfileinto \"x\"\n"}); code != http.StatusBadRequest || !bytes.Contains(page, []byte("line 2")) {
		t.Errorf("a script with an error: HTTP %d, want 400 naming line 2:\n%s", code, regexp.MustCompile(`(?s)not saved.{0,300}`).Find(page))
	}
	if code, _ := post("/me/filter/script", map[string]string{"csrf": csrf, "password": "wrong", "script": script}); code != http.StatusForbidden {
		t.Errorf("a wrong password: HTTP %d, want 403", code)
	}
	page := get("/me")
	if !bytes.Contains(page, []byte("sealpost")) || !bytes.Contains(page, []byte("fileinto :create &#34;Bills&#34;")) {
		t.Errorf("the page does not show the active script:\n%s", page)
	}
	deliver(t, d.Addrs["smtp"], "sender@example.org", alice, message("sender@example.org", alice, "your invoice", "pay"))

	if code, page := post("/me/filter/mode", map[string]string{"csrf": csrf, "password": alicePass, "server_filter": "off"}); code != http.StatusOK {
		t.Fatalf("turning filtering off: HTTP %d\n%s", code, page)
	}
	deliver(t, d.Addrs["smtp"], "sender@example.org", alice, message("sender@example.org", alice, "another invoice", "pay"))
	if out, err := sieveConnect(t, d.Addrs["managesieve"], alice, alicePass, "--activate", "--remotesieve", "sealpost"); err == nil {
		t.Errorf("activating a script with filtering off succeeded: %s", out)
	} else if !strings.Contains(out, "server-side rules are off") {
		t.Errorf("activating with filtering off: %q, want the reason", out)
	}

	ac := login(t, d.Addrs["imaps"], alice, alicePass)
	boxes := mailboxContents(t, ac)
	if in := where(boxes, "your invoice"); len(in) != 1 || in[0] != "Bills" {
		t.Errorf("the first invoice is in %v, want Bills", in)
	}
	if in := where(boxes, "another invoice"); len(in) != 1 || in[0] != "INBOX" {
		t.Errorf("with filtering off the second invoice is in %v, want INBOX", in)
	}
}
