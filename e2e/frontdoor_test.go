package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/sealpost/sealpost/internal/testenv"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestFrontDoorTwoRegionalNodes runs the second deployment shape with real
// processes on loopback: a node for region ie, a node for region us (each
// opening only its own storage), and a front door that opens none. Clients
// talk only to the front door.
func TestFrontDoorTwoRegionalNodes(t *testing.T) {
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	mustSealpost(t, "", "cluster", "init", "--dir", certs, "--region", "ie", "--region", "us")
	internal := map[string]string{"ie": freeAddr(t), "us": freeAddr(t)}
	regions := ""
	for _, r := range []struct{ id, name, country, zone string }{{"ie", "Ireland", "IE", "EU"}, {"us", "United States", "US", "US"}} {
		regions += fmt.Sprintf(`[[region]]
id = %q
name = %q
country = %q
zones = [%q]
store.path = %q
blobs.path = %q
internal = %q
`, r.id, r.name, r.country, r.zone, filepath.Join(dir, "storage", r.id, "meta.db"), filepath.Join(dir, "storage", r.id, "blobs"), internal[r.id])
	}
	conf := func(name, listen string) string {
		path := filepath.Join(dir, name+".toml")
		text := fmt.Sprintf(`hostname = "%s.demo.example"
data_dir = %q
directory = %q
%s
[cluster]
ca = %q
cert = %q
key = %q
[listen]
%s
[tls]
self_signed = true
[argon2]
time = 1
memory_kib = 8192
threads = 1
`, name, filepath.Join(dir, name+"-data"), filepath.Join(dir, "directory.db"), regions,
			filepath.Join(certs, "ca.crt"), filepath.Join(certs, name+".crt"), filepath.Join(certs, name+".key"), listen)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ieConf := conf("region-ie", "")
	usConf := conf("region-us", "")
	fdConf := conf("frontdoor", `smtp = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"
imap = "127.0.0.1:0"
imaps = "127.0.0.1:0"
managesieve = "127.0.0.1:0"`)

	// Administration runs with the nodes stopped, as for the demo.
	mustSealpost(t, "", "domain", "add", "demo.example", "--region", "ie", "--config", ieConf)
	mustSealpost(t, alicePass+"\n", "account", "add", alice, "--region", "ie", "--config", ieConf)
	mustSealpost(t, bobPass+"\n", "account", "add", bob, "--region", "us", "--config", ieConf)

	ie := testenv.Start(t, filepath.Join(dir, "ie.log"), "serve", "--config", ieConf, "--region", "ie")
	us := testenv.Start(t, filepath.Join(dir, "us.log"), "serve", "--config", usConf, "--region", "us")
	// The front door runs the MX, which checks mail with this DNS.
	fd := testenv.Start(t, filepath.Join(dir, "fd.log"), "serve", "--config", fdConf, "--front-door", "--dns", testenv.SenderDNS(t).Addr)
	if ie.Addrs["internal-ie"] != internal["ie"] || us.Addrs["internal-us"] != internal["us"] {
		t.Fatalf("nodes listen on %v and %v, want internal addresses %v", ie.Addrs, us.Addrs, internal)
	}
	if len(ie.Addrs) != 1 || len(us.Addrs) != 1 {
		t.Errorf("regional nodes should listen only internally: %v %v", ie.Addrs, us.Addrs)
	}

	// MX at the front door: each copy is sealed there and handed to the
	// recipient's home region.
	marker := "frontdoor-marker-7d1f"
	c, err := smtp.Dial(fd.Addrs["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, "x@example.org", []string{alice, bob}, message("x@example.org", alice, "to both", marker)); err != nil {
		t.Fatalf("MX through the front door: %v", err)
	}
	c.Quit()

	// Submission at the front door (implicit TLS), authenticated at bob's
	// home region, proxied there.
	conn, err := tls.Dial("tcp", fd.Addrs["submissions"], testenv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := smtp.NewClient(conn, "frontdoor.demo.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Auth(smtp.PlainAuth("", bob, "wrong-password", "frontdoor.demo.example")); err == nil {
		t.Fatal("AUTH with a wrong password succeeded")
	}
	sc.Close()
	conn, _ = tls.Dial("tcp", fd.Addrs["submissions"], testenv.ClientTLS())
	sc, _ = smtp.NewClient(conn, "frontdoor.demo.example")
	if err := sc.Auth(smtp.PlainAuth("", bob, bobPass, "frontdoor.demo.example")); err != nil {
		t.Fatalf("AUTH through the front door: %v", err)
	}
	if err := send(sc, bob, []string{alice}, message(bob, alice, "from bob", marker+" submitted")); err != nil {
		t.Fatalf("submission through the front door: %v", err)
	}
	sc.Quit()

	// IMAP at the front door: each owner lands in their home region.
	ca := login(t, fd.Addrs["imaps"], alice, alicePass)
	_, inbox := fetchAll(t, ca, "INBOX")
	if len(inbox) != 2 {
		t.Fatalf("alice's INBOX through the front door has %d messages, want 2", len(inbox))
	}
	ca.Logout().Wait()
	cb := login(t, fd.Addrs["imaps"], bob, bobPass)
	if _, in := fetchAll(t, cb, "INBOX"); len(in) != 1 {
		t.Errorf("bob's INBOX has %d messages, want 1", len(in))
	}
	if _, sent := fetchAll(t, cb, "Sent"); len(sent) != 0 {
		t.Errorf("bob's Sent has %d server copies, want none (the default)", len(sent))
	}
	cb.Logout().Wait()
	if _, err := loginErr(fd.Addrs["imaps"], alice, "wrong-password"); err == nil {
		t.Error("IMAP LOGIN with a wrong password succeeded through the front door")
	}

	// ManageSieve at the front door (sieve-connect, STARTTLS): bob's
	// script is stored at his home region, and mail for him that arrives
	// at the front door's MX crosses to us as it arrived and is filed by
	// the script there.
	if out, err := sieveConnect(t, fd.Addrs["managesieve"], bob, "wrong-password", "--list"); err == nil {
		t.Errorf("sieve-connect with a wrong password succeeded through the front door:\n%s", out)
	}
	uploadScript(t, fd.Addrs["managesieve"], bob, bobPass, "rules",
		"require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"weekly\" { fileinto :create \"Lists\"; }\n")
	if out, err := sieveConnect(t, fd.Addrs["managesieve"], bob, bobPass, "--list"); err != nil || !strings.Contains(out, "rules") {
		t.Errorf("sieve-connect --list through the front door: %v\n%s", err, out)
	}
	c, err = smtp.Dial(fd.Addrs["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, "x@example.org", []string{bob}, message("x@example.org", bob, "weekly news", marker+" filtered")); err != nil {
		t.Fatalf("MX through the front door, for a filtered account: %v", err)
	}
	c.Quit()
	cb = login(t, fd.Addrs["imaps"], bob, bobPass)
	if _, lists := fetchAll(t, cb, "Lists"); len(lists) != 1 {
		t.Errorf("bob's Lists has %d messages, want 1 (filed by his script at his home region)", len(lists))
	}
	if _, in := fetchAll(t, cb, "INBOX"); len(in) != 1 {
		t.Errorf("bob's INBOX has %d messages, want 1", len(in))
	}
	cb.Logout().Wait()

	fd.Stop()
	ie.Stop()
	us.Stop()
	// Each region's storage holds its own account only; the front door's
	// folder holds no mail, sealed or not.
	out := mustSealpost(t, "", "residency", "audit", "--config", ieConf)
	// bob keeps no server Sent copy (the default): us holds alice's message to him.
	for _, want := range []string{"OK:", "region ie: 2 blobs", "alice@demo.example  home ie", "region us: 2 blobs", "bob@demo.example  home us"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %q:\n%s", want, out)
		}
	}
	filepath.Walk(filepath.Join(dir, "frontdoor-data"), func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s holds the message in the clear", path)
			}
			if strings.Contains(path, "regions") || strings.Contains(path, "blobs") {
				t.Errorf("the front door stored %s", path)
			}
		}
		return nil
	})
}

// loginErr tries an IMAP login over TLS and returns its error.
func loginErr(addr, user, pass string) (bool, error) {
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: testenv.ClientTLS()})
	if err != nil {
		return false, err
	}
	defer c.Close()
	return true, c.Login(user, pass).Wait()
}

// send runs one SMTP transaction on c.
func send(c *smtp.Client, from string, to []string, raw []byte) error {
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	return w.Close()
}
