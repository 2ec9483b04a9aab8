package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/testenv"
)

// serveConfig writes a one-region configuration for `sealpost serve`,
// every listener on 127.0.0.1 (the web app included), plus the TOML extra,
// hosting sender.test with alice in it. It returns the file's path.
func serveConfig(t testing.TB, dir, extra string) string {
	t.Helper()
	conf := filepath.Join(dir, "sealpost.toml")
	os.WriteFile(conf, []byte(`hostname = "mail.sender.test"
data_dir = "data"
`+euRegion+`[listen]
smtp = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"
imap = "127.0.0.1:0"
imaps = "127.0.0.1:0"
[legal]
web = "127.0.0.1:0"
[tls]
self_signed = true
`+cheapArgon2(extra)+extra), 0o600)
	mustSealpost(t, "", "domain", "add", "sender.test", "--config", conf)
	mustSealpost(t, alicePass+"\n", "account", "add", "alice@sender.test", "--config", conf)
	return conf
}

// euRegion is the one region of the configurations these tests write.
const euRegion = `[[region]]
id = "eu"
name = "Europe"
country = "DE"
zones = ["EU"]
`

// cheapArgon2 is the tests' Argon2id section unless extra has its own.
func cheapArgon2(extra string) string {
	if strings.Contains(extra, "[argon2]") {
		return ""
	}
	return "[argon2]\ntime = 1\nmemory_kib = 1024\nthreads = 1\n"
}

// outboundConfig is serveConfig with the test's DNS server and a queue
// that retries after a second.
func outboundConfig(t *testing.T, dir, dnsAddr string) string {
	t.Helper()
	return serveConfig(t, dir, fmt.Sprintf(`[dns]
servers = [%q]
timeout = "2s"
[outbound]
min_backoff = "1s"
max_backoff = "2s"
concurrency = 8
per_domain = 8
per_connection = 50
`, dnsAddr))
}

var messageID = regexp.MustCompile(`(?m)^Message-ID: <([^>]+)>`)

// TestOutboundCrash delivers 1,000 submitted messages to a real Postfix
// and kills the server with SIGKILL in the middle of it. After a restart
// every message arrives, and none more than twice: only a message whose
// 250 came back but was not yet recorded is sent again, at most one per
// connection in flight.
func TestOutboundCrash(t *testing.T) {
	dns := testenv.NewDNS(t, "peer.test. 300 IN MX 10 mx.peer.test.", "mx.peer.test. 300 IN A 127.0.0.2")
	pf := testenv.StartPostfix(t, testenv.PostfixOptions{Addr: "127.0.0.2:25", Domains: []string{"peer.test"}})
	dir := t.TempDir()
	conf := outboundConfig(t, dir, dns.Addr)
	logFile := filepath.Join(dir, "serve.log")
	d := testenv.Start(t, logFile, "serve", "--config", conf)

	// The queue fills first: while DNS fails, every message is deferred.
	dns.Fail("peer.test", 2) // SERVFAIL
	const n, clients = 1000, 4
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			c, err := smtp.DialTLS(d.Addrs["submissions"], testenv.ClientTLS())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := c.Auth(plainAuth("alice@sender.test", alicePass)); err != nil {
				t.Error(err)
				return
			}
			for i := w; i < n; i += clients {
				to := fmt.Sprintf("r%d@peer.test", i%10)
				raw := message("alice@sender.test", to, fmt.Sprintf("crash %d", i), strings.Repeat("sealed, then sent.\r\n", 50))
				if err := c.SendMail("alice@sender.test", []string{to}, bytes.NewReader(raw)); err != nil {
					t.Errorf("submission %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(pf.Messages()) != 0 {
		t.Fatal("delivered while DNS failed")
	}
	dns.Fail("peer.test", 0)

	// Kill the server once Postfix has some, not all.
	deadline := time.Now().Add(60 * time.Second)
	for len(pf.Messages()) < 100 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	d.Kill()
	before := len(pf.Messages())
	if before >= n {
		t.Fatalf("all %d were delivered before the kill: the test proves nothing", before)
	}
	t.Logf("killed with %d of %d delivered", before, n)

	d = testenv.Start(t, logFile, "serve", "--config", conf)
	defer d.Stop()
	deadline = time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if out := mustSealpost(t, "", "queue", "list", "--config", conf); strings.Contains(out, "The queue is empty") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for pf.Queued() > 0 && time.Now().Before(deadline) { // Postfix's own hand-off to its Maildir
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	counts := map[string]int{}
	for _, m := range pf.Messages() {
		if id := messageID.FindSubmatch(m); id != nil {
			counts[string(id[1])]++
		}
	}
	dups := 0
	for i := range n {
		id := fmt.Sprintf("crash-%d@e2e.test", i)
		switch counts[id] {
		case 0:
			t.Errorf("message %d was lost", i)
		case 1:
		case 2:
			dups++
		default:
			t.Errorf("message %d arrived %d times", i, counts[id])
		}
	}
	// At most one message per connection in flight (concurrency 8) is
	// delivered twice.
	if dups > 8 {
		t.Errorf("%d messages arrived twice, more than the 8 connections in flight", dups)
	}
	t.Logf("after the restart: %d messages, %d delivered twice", len(pf.Messages()), dups)
}

// TestOutboundBounce: through the real binary, a recipient Postfix refuses
// and a domain with a null MX each earn alice exactly one bounce in her
// INBOX, read over IMAP; the other recipient gets the message, unchanged
// but for trace fields and signatures, signed twice (dkimpy verifies).
// A temporary refusal stays queued, and 'queue list' says why.
func TestOutboundBounce(t *testing.T) {
	dns := testenv.NewDNS(t, "peer.test. 300 IN MX 10 mx.peer.test.", "mx.peer.test. 300 IN A 127.0.0.2",
		"nomail.test. 300 IN MX 0 .")
	pf := testenv.StartPostfix(t, testenv.PostfixOptions{Addr: "127.0.0.2:25", Domains: []string{"peer.test"}})
	dir := t.TempDir()
	conf := outboundConfig(t, dir, dns.Addr)
	d := testenv.Start(t, filepath.Join(dir, "serve.log"), "serve", "--config", conf)
	defer d.Stop()
	c, err := smtp.DialTLS(d.Addrs["submissions"], testenv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(plainAuth("alice@sender.test", alicePass)); err != nil {
		t.Fatal(err)
	}
	rcpts := []string{"carol@peer.test", "perm-dave@peer.test", "erin@nomail.test", "temp-frank@peer.test"}
	sent := awkward("alice@sender.test", "carol@peer.test", "bounce me")
	if err := c.SendMail("alice@sender.test", rcpts, bytes.NewReader(sent)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	deadline := time.Now().Add(30 * time.Second)
	var dsns map[imap.UID][]byte
	for time.Now().Before(deadline) {
		ca := login(t, d.Addrs["imaps"], "alice@sender.test", alicePass)
		_, dsns = fetchAll(t, ca, "INBOX")
		ca.Logout().Wait()
		if len(dsns) >= 2 && len(pf.Messages()) >= 1 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(dsns) != 2 {
		t.Fatalf("alice has %d messages in INBOX, want 2 bounces", len(dsns))
	}
	var all string
	for _, b := range dsns {
		if !bytes.Contains(b, []byte("report-type=delivery-status")) || !bytes.Contains(b, []byte("From: Mail Delivery System")) {
			t.Errorf("not a bounce: %.300q", b)
		}
		all += string(b)
	}
	for _, want := range []string{"Final-Recipient: rfc822; perm-dave@peer.test", "Status: 5.1.1", "Final-Recipient: rfc822; erin@nomail.test", "Status: 5.1.10"} {
		if !strings.Contains(all, want) {
			t.Errorf("the bounces lack %q", want)
		}
	}
	if strings.Contains(all, "carol@peer.test>: ") || strings.Contains(all, "Final-Recipient: rfc822; temp-frank") {
		t.Error("a bounce names a recipient that was delivered or deferred")
	}
	got := pf.Messages()
	if len(got) != 1 || !bytes.Contains(got[0], []byte("Subject: bounce me")) {
		t.Fatalf("Postfix holds %d messages", len(got))
	}
	// What Postfix stored is what alice sent, byte for byte, but for the
	// trace fields and the signatures (and Maildir's LF line ends).
	if got, want := stripFields(got[0], "Return-Path", "Delivered-To", "X-Original-To", "Received", "DKIM-Signature"), stripFields(sent); !bytes.Equal(got, want) {
		t.Errorf("the message changed on the way:\n got %q\nwant %q", got, want)
	}
	// Both DKIM signatures verify with dkimpy, an implementation
	// independent of ours, against the records 'domain records' prints.
	verifyDKIM(t, bytes.ReplaceAll(got[0], []byte("\n"), []byte("\r\n")), mustSealpost(t, "", "domain", "records", "sender.test", "--config", conf))
	out := mustSealpost(t, "", "queue", "list", "--config", conf)
	if !strings.Contains(out, "temp-frank@peer.test") || !strings.Contains(out, "4.2.0") || !strings.Contains(out, "1 queued") {
		t.Errorf("queue list:\n%s", out)
	}
	if strings.Contains(out, "begins with a dot") || strings.Contains(out, "bounce me") {
		t.Error("queue list shows content")
	}
}

// verifyDKIM checks every DKIM signature of msg with Debian's dkimpy,
// resolving keys from zone (the output of 'sealpost domain records'). It
// wants two signatures, ed25519-sha256 and rsa-sha256, both good.
func verifyDKIM(t *testing.T, msg []byte, zone string) {
	t.Helper()
	py := testenv.NeedPythonModule(t, "dkim", "python3-dkim")
	records := map[string]string{}
	quoted := regexp.MustCompile(`"([^"]*)"`)
	for _, line := range strings.Split(zone, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.Contains(f[0], "._domainkey.") || f[3] != "TXT" {
			continue
		}
		var v strings.Builder
		for _, m := range quoted.FindAllStringSubmatch(line, -1) {
			v.WriteString(m[1])
		}
		records[f[0]] = v.String()
	}
	if len(records) < 2 {
		t.Fatalf("domain records printed %d DKIM keys:\n%s", len(records), zone)
	}
	dir := t.TempDir()
	js, _ := json.Marshal(records)
	os.WriteFile(filepath.Join(dir, "msg.eml"), msg, 0o600)
	os.WriteFile(filepath.Join(dir, "records.json"), js, 0o600)
	out, err := exec.Command(py, "../dkimsign/testdata/verify.py", filepath.Join(dir, "msg.eml"), filepath.Join(dir, "records.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("verify.py: %v\n%s", err, out)
	}
	algs := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Algorithm, Error string
			OK               bool
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || !r.OK {
			t.Errorf("dkimpy: %s (%v)", line, err)
		}
		algs[r.Algorithm] = r.OK
	}
	if !algs["ed25519-sha256"] || !algs["rsa-sha256"] {
		t.Errorf("dkimpy verified %v, want ed25519-sha256 and rsa-sha256", algs)
	}
}

// TestDemoWithoutResolver: the demo on a machine whose resolver never
// answers (a UDP socket that reads and says nothing). alice's mail to bob
// is delivered at once, as DNS has no part in local delivery; her mail to
// a remote domain is kept in the queue, deferred, and 'queue list' (over
// the running server's control socket) says why.
func TestDemoWithoutResolver(t *testing.T) {
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.Start(t, filepath.Join(dir, "demo.log"), "demo", "--data", data, "--dns", dead.LocalAddr().String())
	defer d.Stop()
	c, err := smtp.DialStartTLS(d.Addrs["submission"], testenv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(plainAuth(alice, alicePass)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(alice, []string{bob, "carol@remote.test"}, bytes.NewReader(message(alice, bob, "offline", "hello"))); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	cb := login(t, d.Addrs["imaps"], bob, bobPass)
	if _, got := fetchAll(t, cb, "INBOX"); len(got) != 1 {
		t.Fatalf("bob's INBOX has %d messages, want 1", len(got))
	}
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		out = mustSealpost(t, "", "queue", "list", "--data", data)
		if strings.Contains(out, "carol@remote.test") && strings.Contains(out, "Cannot look up") {
			break
		}
	}
	if !strings.Contains(out, "carol@remote.test") || !strings.Contains(out, "Cannot look up the mail exchangers of remote.test") || !strings.Contains(out, "1 queued") {
		t.Errorf("queue list, after a failed attempt:\n%s", out)
	}
}
