package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/autoconfig"
	"github.com/sealpost/sealpost/directory"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/web"
)

// autoconfigApp serves autoconfig for demo.example (hosted in a real
// directory, through a real router) with mx.demo.example's services.
func autoconfigApp(t *testing.T) *httptest.Server {
	t.Helper()
	dir, err := directory.Open(filepath.Join(t.TempDir(), "directory.db"))
	testkit.Must(t, err)
	t.Cleanup(func() { dir.Close() })
	testkit.Must(t, dir.AddDomain(context.Background(), sealpost.Domain{Name: "demo.example", DefaultRegion: "ie"}))
	app := web.New(nil, nil)
	app.EnableAutoconfig(region.NewRouter(dir, nil, nil, 0), func(domain string) autoconfig.Services {
		return autoconfig.FromListeners(domain, "mx.demo.example", ":993", ":143", ":465", ":587", ":4190")
	})
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}

func TestAutoconfigServed(t *testing.T) {
	srv := autoconfigApp(t)
	get := func(host, path string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		testkit.Must(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		testkit.Must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, c := range []struct {
		host, path string
		want       int
	}{
		{"127.0.0.1", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice@demo.example", 200},
		{"demo.example", "/.well-known/autoconfig/mail/config-v1.1.xml", 200},
		{"autoconfig.demo.example:8080", "/mail/config-v1.1.xml?emailaddress=alice%40demo.example", 200},
		{"AutoConfig.Demo.Example.", "/mail/config-v1.1.xml", 200},
		{"autoconfig.demo.example", "/.well-known/autoconfig/mail/config-v1.1.xml", 200},
		{"127.0.0.1", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice@other.example", 404},
		{"127.0.0.1", "/.well-known/autoconfig/mail/config-v1.1.xml", 404},
		{"autoconfig.other.example", "/mail/config-v1.1.xml", 404},
		{"demo.example", "/mail/config-v1.1.xml", 404}, // only on autoconfig.DOMAIN
		{"127.0.0.1", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=%3Cscript%3E@demo.example", 400},
		{"127.0.0.1", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=a@demo.example%3Cb%3E", 400},
	} {
		code, typ, body := get(c.host, c.path)
		if code != c.want {
			t.Errorf("%s %s: %d, want %d: %s", c.host, c.path, code, c.want, body)
			continue
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "<b>") {
			t.Errorf("%s %s: the input is reflected: %s", c.host, c.path, body)
		}
		if code == 200 && (typ != "text/xml; charset=utf-8" || !strings.Contains(body, `<clientConfig version="1.1">`) ||
			!strings.Contains(body, "<hostname>mx.demo.example</hostname>")) {
			t.Errorf("%s %s: %s\n%s", c.host, c.path, typ, body)
		}
	}
}

// TestAutodiscoverPython posts autodiscover requests with Python's
// urllib, as a client would, and reads the answers with its ElementTree.
func TestAutodiscoverPython(t *testing.T) {
	py := testenv.NeedTool(t, "python3", "python3")
	srv := autoconfigApp(t)
	const script = `
import sys, urllib.request, urllib.error, xml.etree.ElementTree as ET
url, addr = sys.argv[1], sys.argv[2]
body = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
        '<Request><EMailAddress>%s</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>' % addr)
req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "text/xml"}, method="POST")
try:
    resp = urllib.request.urlopen(req)
except urllib.error.HTTPError as e:
    print("status", e.code)
    sys.exit(0)
ns = {"r": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
      "a": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
root = ET.fromstring(resp.read())
for p in root.findall("a:Response/a:Account/a:Protocol", ns):
    print(*(p.findtext("a:" + k, namespaces=ns) for k in ("Type", "Server", "Port", "Encryption", "LoginName")))
`
	run := func(path, addr string) string {
		t.Helper()
		out, err := exec.Command(py, "-c", script, srv.URL+path, addr).CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		return string(out)
	}
	want := `IMAP mx.demo.example 993 SSL alice@demo.example
IMAP mx.demo.example 143 TLS alice@demo.example
SMTP mx.demo.example 465 SSL alice@demo.example
SMTP mx.demo.example 587 TLS alice@demo.example
`
	for _, p := range []string{"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"} {
		if got := run(p, "alice@demo.example"); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", p, got, want)
		}
	}
	if got := run("/autodiscover/autodiscover.xml", "alice@other.example"); got != "status 404\n" {
		t.Errorf("another domain: %s", got)
	}
	if got := run("/autodiscover/autodiscover.xml", "&lt;x&gt;@demo.example"); got != "status 400\n" {
		t.Errorf("a bad address: %s", got)
	}

	post := func(body []byte) (int, string) {
		resp, err := http.Post(srv.URL+"/autodiscover/autodiscover.xml", "text/xml", bytes.NewReader(body))
		testkit.Must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post([]byte("<Autodiscover>not a request")); code != 400 || strings.Contains(body, "<") {
		t.Errorf("a bad body: %d %s", code, body)
	}
	if code, _ := post(bytes.Repeat([]byte("x"), 64<<10)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized body: %d", code)
	}
	// The app is healthy afterwards.
	if got := run("/autodiscover/autodiscover.xml", "alice@demo.example"); got != want {
		t.Errorf("after the bad bodies:\n%s", got)
	}
	if resp, err := http.Get(srv.URL + "/autodiscover/autodiscover.xml"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v", resp.StatusCode, err)
	}
}
