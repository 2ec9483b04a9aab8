package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestMXScreens runs `sealpost serve` with a DNS blocklist and
// greylisting in its config, against a real DNS server that lists
// 127.0.0.1 in zen.test, and Python's smtplib as the sending MTA: the
// listed source is refused at MAIL, the clean one is greylisted, retries
// after the delay and delivers, and its next message passes at once. The
// greylisting store on disk names no one.
func TestMXScreens(t *testing.T) {
	py := testenv.NeedTool(t, "python3", "python3")
	dns := testenv.SenderDNS(t)
	dns.Add(t, `1.0.0.127.zen.test. 300 IN A 127.0.0.2`,
		`1.0.0.127.zen.test. 300 IN TXT "Listed by the test list"`)
	dir := t.TempDir()
	conf := writeConfig(t, dir, "", `[mx]
dnsbl = ["zen.test"]
greylist = true
greylist_delay = "2s"
`)
	mustSealpost(t, "", "domain", "add", "demo.example", "--region", "ie", "--config", conf)
	mustSealpost(t, alicePass+"\n", "account", "add", alice, "--config", conf)
	logFile := filepath.Join(dir, "serve.log")
	d := testenv.Start(t, logFile, "serve", "--config", conf, "--dns", dns.Addr)

	const sender = "x@example.org"
	out, err := exec.Command(py, "testdata/pyscreens.py", d.Addrs["smtp"], "127.0.0.1", "127.0.0.2", sender, alice).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(logFile)
		t.Fatalf("pyscreens: %v\n%s\nserver log:\n%s", err, out, log)
	}
	var r struct {
		ListedMail  []any `json:"listed_mail"`
		FirstRcpt   []any `json:"first_rcpt"`
		RetryData   []any `json:"retry_data"`
		Retries     int   `json:"retries"`
		NextRefused int   `json:"next_refused"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("pyscreens output %q: %v", out, err)
	}
	if r.ListedMail[0] != float64(554) || r.ListedMail[1] != "5.7.1 Service unavailable; client [127.0.0.1] blocked using zen.test; Listed by the test list" {
		t.Errorf("listed client's MAIL: %v", r.ListedMail)
	}
	if r.FirstRcpt[0] != float64(451) || !strings.HasPrefix(r.FirstRcpt[1].(string), "4.7.1 Greylisted, try again in ") {
		t.Errorf("first RCPT: %v", r.FirstRcpt)
	}
	if r.RetryData[0] != float64(250) || r.Retries < 1 || r.NextRefused != 0 {
		t.Errorf("retry DATA %v after %d early retries; next message refused for %d recipients", r.RetryData, r.Retries, r.NextRefused)
	}
	c := login(t, d.Addrs["imaps"], alice, alicePass)
	if _, msgs := fetchAll(t, c, "INBOX"); len(msgs) != 2 {
		t.Errorf("alice has %d messages, want 2", len(msgs))
	}
	c.Logout().Wait()
	d.Stop()

	files, _ := filepath.Glob(filepath.Join(dir, "data", "greylist.db*"))
	if len(files) == 0 {
		t.Fatal("no greylisting store in the data folder")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, name := range []string{"alice", "demo.example", "example.org", "127.0.0"} {
			if bytes.Contains(bytes.ToLower(b), []byte(name)) {
				t.Errorf("%s holds %q", filepath.Base(f), name)
			}
		}
	}
}
