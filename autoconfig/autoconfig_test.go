package autoconfig

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
)

var full = FromListeners("Example.ORG", "mail.example.net.", ":993", ":143", ":465", ":587", ":4190")

// node is an XML element as a generic tree, for checking documents
// against their documented structure without our own types.
type node struct {
	name     xml.Name
	attrs    map[string]string
	children []*node
	text     string
}

func parseTree(t *testing.T, doc []byte) *node {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, doc)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &node{name: tk.Name, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.children = append(top.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tk)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	return root
}

func (n *node) all(local string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

func (n *node) one(t *testing.T, local string) string {
	t.Helper()
	cs := n.all(local)
	if len(cs) != 1 {
		t.Fatalf("<%s> has %d <%s>, want 1", n.name.Local, len(cs), local)
	}
	return strings.TrimSpace(cs[0].text)
}

// TestThunderbird checks the autoconfig file against the structure
// documented at wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat.
func TestThunderbird(t *testing.T) {
	doc, err := Thunderbird(full)
	if err != nil {
		t.Fatal(err)
	}
	root := parseTree(t, doc)
	if root.name.Local != "clientConfig" || root.attrs["version"] != "1.1" {
		t.Fatalf("root <%s version=%q>", root.name.Local, root.attrs["version"])
	}
	provs := root.all("emailProvider")
	if len(provs) != 1 || provs[0].attrs["id"] != "example.org" {
		t.Fatalf("emailProvider: %d, id %q", len(provs), provs[0].attrs["id"])
	}
	p := provs[0]
	if p.one(t, "domain") != "example.org" || p.one(t, "displayName") == "" || p.one(t, "displayShortName") == "" {
		t.Error("domain or names")
	}
	type srv struct{ typ, host, port, sock string }
	var got []srv
	for _, kind := range []string{"incomingServer", "outgoingServer"} {
		for _, s := range p.all(kind) {
			// Every server element has exactly these children, each once.
			var names []string
			for _, c := range s.children {
				names = append(names, c.name.Local)
			}
			slices.Sort(names)
			if want := []string{"authentication", "hostname", "port", "socketType", "username"}; !slices.Equal(names, want) {
				t.Errorf("%s children %v, want %v", kind, names, want)
			}
			if sock := s.one(t, "socketType"); !slices.Contains([]string{"SSL", "STARTTLS", "plain"}, sock) {
				t.Errorf("socketType %q", sock)
			}
			if a := s.one(t, "authentication"); a != "password-cleartext" {
				t.Errorf("authentication %q", a)
			}
			if u := s.one(t, "username"); u != "%EMAILADDRESS%" {
				t.Errorf("username %q", u)
			}
			got = append(got, srv{s.attrs["type"], s.one(t, "hostname"), s.one(t, "port"), s.one(t, "socketType")})
		}
	}
	want := []srv{
		{"imap", "mail.example.net", "993", "SSL"}, {"imap", "mail.example.net", "143", "STARTTLS"},
		{"smtp", "mail.example.net", "465", "SSL"}, {"smtp", "mail.example.net", "587", "STARTTLS"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("servers %v, want %v", got, want)
	}

	// Only what is served is listed.
	doc, err = Thunderbird(FromListeners("example.org", "mx.example.org", ":993", "", "", ":587", ""))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(doc), "<incomingServer") != 1 || strings.Count(string(doc), "<outgoingServer") != 1 || strings.Contains(string(doc), "143") {
		t.Errorf("IMAPS and submission only:\n%s", doc)
	}
	for _, bad := range []Services{
		FromListeners("example.org", "mx.example.org", "", "", ":465", "", ""),
		FromListeners("example.org", "mx.example.org", ":993", "", "", "", ""),
		FromListeners("exa<mple.org", "mx.example.org", ":993", "", ":465", "", ""),
		FromListeners("example.org", "mx example.org", ":993", "", ":465", "", ""),
	} {
		if _, err := Thunderbird(bad); !errors.Is(errors.Invalid, err) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// TestThunderbirdPython parses the file with Python's ElementTree, an XML
// parser that is not ours.
func TestThunderbirdPython(t *testing.T) {
	py := testenv.NeedTool(t, "python3", "python3")
	doc, err := Thunderbird(full)
	if err != nil {
		t.Fatal(err)
	}
	const script = `
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == "clientConfig" and root.get("version") == "1.1", root.tag
p = root.find("emailProvider")
print(p.get("id"), p.findtext("domain"))
for s in p.findall("incomingServer") + p.findall("outgoingServer"):
    print(s.get("type"), s.findtext("hostname"), s.findtext("port"), s.findtext("socketType"), s.findtext("username"))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := `example.org example.org
imap mail.example.net 993 SSL %EMAILADDRESS%
imap mail.example.net 143 STARTTLS %EMAILADDRESS%
smtp mail.example.net 465 SSL %EMAILADDRESS%
smtp mail.example.net 587 STARTTLS %EMAILADDRESS%
`
	if string(out) != want {
		t.Errorf("python read:\n%s\nwant:\n%s", out, want)
	}
}

const outlookRequest = `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>Alice@Example.ORG</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`

func TestAutodiscover(t *testing.T) {
	req, err := ParseRequest(strings.NewReader(outlookRequest))
	if err != nil {
		t.Fatal(err)
	}
	if req.Address != "Alice@example.org" || req.Schema != OutlookSchema {
		t.Fatalf("%+v", req)
	}
	doc, err := Autodiscover(full, req)
	if err != nil {
		t.Fatal(err)
	}
	root := parseTree(t, doc)
	if root.name.Local != "Autodiscover" || root.name.Space != ResponseNS {
		t.Fatalf("root {%s}%s", root.name.Space, root.name.Local)
	}
	resp := root.all("Response")
	if len(resp) != 1 || resp[0].name.Space != OutlookSchema {
		t.Fatalf("Response %v", resp)
	}
	acct := resp[0].all("Account")
	if len(acct) != 1 || acct[0].one(t, "AccountType") != "email" || acct[0].one(t, "Action") != "settings" {
		t.Fatalf("Account:\n%s", doc)
	}
	var got []string
	for _, p := range acct[0].all("Protocol") {
		got = append(got, strings.Join([]string{p.one(t, "Type"), p.one(t, "Server"), p.one(t, "Port"), p.one(t, "Encryption"),
			p.one(t, "SSL"), p.one(t, "LoginName"), p.one(t, "SPA"), p.one(t, "AuthRequired")}, " "))
	}
	want := []string{
		"IMAP mail.example.net 993 SSL on Alice@example.org off on",
		"IMAP mail.example.net 143 TLS on Alice@example.org off on",
		"SMTP mail.example.net 465 SSL on Alice@example.org off on",
		"SMTP mail.example.net 587 TLS on Alice@example.org off on",
	}
	if !slices.Equal(got, want) {
		t.Errorf("protocols\n%v\nwant\n%v", got, want)
	}

	// The mobilesync schema (Exchange ActiveSync) gets an Error.
	doc, err = Autodiscover(full, Request{Address: "alice@example.org", Schema: MobileSyncNS})
	if err != nil {
		t.Fatal(err)
	}
	if e := parseTree(t, doc).all("Response")[0].all("Error"); len(e) != 1 || e[0].one(t, "ErrorCode") != "601" {
		t.Errorf("mobilesync:\n%s", doc)
	}
	// An address of another domain is not answered.
	if _, err := Autodiscover(full, Request{Address: "alice@example.com"}); !errors.Is(errors.Invalid, err) {
		t.Errorf("another domain: %v", err)
	}
}

func TestParseRequestRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"empty":        "",
		"not xml":      "EMailAddress=alice@example.org",
		"wrong root":   `<Foo xmlns="` + RequestNS + `"><Request><EMailAddress>a@example.org</EMailAddress></Request></Foo>`,
		"no namespace": `<Autodiscover><Request><EMailAddress>a@example.org</EMailAddress></Request></Autodiscover>`,
		"no address":   `<Autodiscover xmlns="` + RequestNS + `"><Request></Request></Autodiscover>`,
		"bad address":  `<Autodiscover xmlns="` + RequestNS + `"><Request><EMailAddress>a&lt;b@example.org</EMailAddress></Request></Autodiscover>`,
		"two":          `<Autodiscover xmlns="` + RequestNS + `"><Request><EMailAddress>a@example.org</EMailAddress><EMailAddress>b@example.org</EMailAddress></Request></Autodiscover>`,
		"doctype":      `<!DOCTYPE x [<!ENTITY e "a@example.org">]><Autodiscover xmlns="` + RequestNS + `"><Request><EMailAddress>&e;</EMailAddress></Request></Autodiscover>`,
		"unclosed":     `<Autodiscover xmlns="` + RequestNS + `"><Request><EMailAddress>a@example.org</EMailAddress>`,
		"deep":         `<Autodiscover xmlns="` + RequestNS + `">` + strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20) + `</Autodiscover>`,
	} {
		if _, err := ParseRequest(strings.NewReader(body)); !errors.Is(errors.Invalid, err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	big := strings.Replace(outlookRequest, "<Request>", "<Request>"+strings.Repeat(" ", MaxRequest), 1)
	if _, err := ParseRequest(strings.NewReader(big)); !errors.Is(errors.TooLarge, err) {
		t.Errorf("oversized: %v", err)
	}
}

// FuzzParseRequest: whatever the body, ParseRequest returns without
// panicking, and what it accepts is an address Address accepts.
func FuzzParseRequest(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.xml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(bytes.NewReader(body))
		if err != nil {
			if !errors.Is(errors.Invalid, err) && !errors.Is(errors.TooLarge, err) {
				t.Fatalf("error of kind %v: %v", errors.KindOf(err), err)
			}
			return
		}
		if _, _, err := Address(req.Address); err != nil {
			t.Fatalf("accepted %q", req.Address)
		}
	})
}

// TestMobileConfigPlistlib has Python's plistlib read the profile.
func TestMobileConfigPlistlib(t *testing.T) {
	py := testenv.NeedTool(t, "python3", "python3")
	doc, err := MobileConfig(full, "alice@example.org", `Alice "<&>" Liddell`)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(doc, []byte("Password\"")) || bytes.Contains(doc, []byte("<key>IncomingPassword</key>")) {
		t.Error("the profile holds a password key")
	}
	const script = `
import plistlib, sys
import io
p = plistlib.load(io.BytesIO(sys.stdin.buffer.read()), fmt=plistlib.FMT_XML)
assert p["PayloadType"] == "Configuration" and p["PayloadVersion"] == 1
assert p["PayloadRemovalDisallowed"] is False
[m] = p["PayloadContent"]
assert m["PayloadType"] == "com.apple.mail.managed" and m["PayloadVersion"] == 1
for k in ("IncomingPassword", "OutgoingPassword"):
    assert k not in m, k
print(p["PayloadUUID"], m["PayloadUUID"], p["PayloadIdentifier"], m["PayloadIdentifier"])
for k in ("EmailAccountType", "EmailAddress", "EmailAccountName", "IncomingMailServerHostName", "IncomingMailServerPortNumber",
          "IncomingMailServerUseSSL", "IncomingMailServerUsername", "IncomingMailServerAuthentication",
          "OutgoingMailServerHostName", "OutgoingMailServerPortNumber", "OutgoingMailServerUseSSL",
          "OutgoingMailServerUsername", "OutgoingPasswordSameAsIncomingPassword"):
    print(k, repr(m[k]))
`
	run := func(doc []byte) string {
		cmd := exec.Command(py, "-c", script)
		cmd.Stdin = bytes.NewReader(doc)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("plistlib: %v\n%s\n%s", err, out, doc)
		}
		return string(out)
	}
	out := run(doc)
	ids, fields, _ := strings.Cut(out, "\n")
	want := `EmailAccountType 'EmailTypeIMAP'
EmailAddress 'alice@example.org'
EmailAccountName 'Alice "<&>" Liddell'
IncomingMailServerHostName 'mail.example.net'
IncomingMailServerPortNumber 993
IncomingMailServerUseSSL True
IncomingMailServerUsername 'alice@example.org'
IncomingMailServerAuthentication 'EmailAuthPassword'
OutgoingMailServerHostName 'mail.example.net'
OutgoingMailServerPortNumber 465
OutgoingMailServerUseSSL True
OutgoingMailServerUsername 'alice@example.org'
OutgoingPasswordSameAsIncomingPassword True
`
	if fields != want {
		t.Errorf("payload:\n%s\nwant:\n%s", fields, want)
	}
	f := strings.Fields(ids)
	if len(f) != 4 || f[0] == f[1] || f[0] != UUID("profile", "alice@example.org") || f[1] != UUID("mail", "alice@example.org") {
		t.Errorf("UUIDs %q", ids)
	}
	// Stable for the address, different for another.
	again, _ := MobileConfig(full, "alice@example.org", "")
	if ids2, _, _ := strings.Cut(run(again), "\n"); ids2 != ids {
		t.Errorf("UUIDs changed: %s, then %s", ids, ids2)
	}
	other, _ := MobileConfig(full, "bob@example.org", "")
	if ids3, _, _ := strings.Cut(run(other), "\n"); strings.Fields(ids3)[0] == f[0] || strings.Fields(ids3)[2] == f[2] {
		t.Errorf("bob's profile has alice's identifiers: %s", ids3)
	}
	if _, err := MobileConfig(full, "alice@example.com", ""); !errors.Is(errors.Invalid, err) {
		t.Errorf("an address of another domain: %v", err)
	}
}

func TestUUID(t *testing.T) {
	u := UUID("mail", "alice@example.org")
	if len(u) != 36 || u[14] != '8' || !strings.ContainsRune("89AB", rune(u[19])) {
		t.Errorf("%s is not a version 8 UUID", u)
	}
}
