package e2e

import (
	"bytes"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestAutoconfigDemo fetches the demo's Thunderbird autoconfig file,
// asks its autodiscover, and downloads alice's Apple profile from her
// privacy page (read by Python's plistlib): each names the ports the
// demo's listeners are bound to.
func TestAutoconfigDemo(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	base := "http://" + d.Addrs["web"]
	port := func(name string) string { _, p, _ := net.SplitHostPort(d.Addrs[name]); return p }

	resp, err := http.Get(base + "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice@demo.example")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/xml; charset=utf-8" {
		t.Fatalf("%s: %s\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var cc struct {
		XMLName  xml.Name `xml:"clientConfig"`
		Version  string   `xml:"version,attr"`
		Provider struct {
			ID      string `xml:"id,attr"`
			Servers []struct {
				XMLName xml.Name
				Type    string `xml:"type,attr"`
				Host    string `xml:"hostname"`
				Port    string `xml:"port"`
				Socket  string `xml:"socketType"`
			} `xml:",any"`
		} `xml:"emailProvider"`
	}
	if err := xml.Unmarshal(body, &cc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range cc.Provider.Servers {
		if s.Type != "" {
			got = append(got, strings.Join([]string{s.XMLName.Local, s.Type, s.Host, s.Port, s.Socket}, " "))
		}
	}
	want := []string{
		"incomingServer imap localhost " + port("imaps") + " SSL", "incomingServer imap localhost " + port("imap") + " STARTTLS",
		"outgoingServer smtp localhost " + port("submissions") + " SSL", "outgoingServer smtp localhost " + port("submission") + " STARTTLS",
	}
	if cc.Version != "1.1" || cc.Provider.ID != "demo.example" || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("version %q id %q servers\n%s\nwant\n%s", cc.Version, cc.Provider.ID, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Not for a domain the demo does not host.
	if resp, err := http.Get(base + "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice@example.com"); err != nil || resp.StatusCode != 404 {
		t.Errorf("another domain: %v %v", resp.Status, err)
	}

	req := `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>bob@demo.example</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`
	resp, err = http.Post(base+"/Autodiscover/Autodiscover.xml", "text/xml", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<Port>"+port("imaps")+"</Port>") || !strings.Contains(string(body), "<LoginName>bob@demo.example</LoginName>") {
		t.Errorf("autodiscover: %s\n%s", resp.Status, body)
	}

	// The profile: only for the signed-in owner.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = c.Get(base + "/me/mobileconfig")
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed out: %v %v", resp.Status, err)
	}
	resp, err = c.Get(base + "/me/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token:\n%s", body)
	}
	resp, err = c.PostForm(base+"/me/login", url.Values{"csrf": {string(m[1])}, "address": {"alice@demo.example"}, "password": {"alice-demo-pass"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %v %v", resp.Status, err)
	}
	resp, err = c.Get(base + "/me")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `href="/me/mobileconfig"`) {
		t.Error("the privacy page does not offer the profile")
	}
	resp, err = c.Get(base + "/me/mobileconfig")
	if err != nil {
		t.Fatal(err)
	}
	profile, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("profile: %s %v", resp.Status, resp.Header)
	}
	py := testenv.NeedTool(t, "python3", "python3")
	cmd := exec.Command(py, "-c", `
import io, plistlib, sys
p = plistlib.load(io.BytesIO(sys.stdin.buffer.read()), fmt=plistlib.FMT_XML)
[m] = p["PayloadContent"]
print(p["PayloadType"], m["PayloadType"], m["EmailAddress"], m["IncomingMailServerHostName"], m["IncomingMailServerPortNumber"], m["OutgoingMailServerPortNumber"], "IncomingPassword" in m)
`)
	cmd.Stdin = bytes.NewReader(profile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s", err, out)
	}
	if w := "Configuration com.apple.mail.managed alice@demo.example localhost " + port("imaps") + " " + port("submissions") + " False\n"; string(out) != w {
		t.Errorf("plistlib read %q, want %q", out, w)
	}
}
