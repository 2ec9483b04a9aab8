package mailauth

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
)

// FuzzAuthorDomain feeds arbitrary messages to the From: extraction: it
// must not panic, and a domain it returns must be a normalized domain name
// (lower case, A-labels, nothing a header field could not hold).
func FuzzAuthorDomain(f *testing.F) {
	for _, s := range []string{
		"From: a@example.org\r\n\r\nbody",
		"From: Ann <a@Example.ORG>\r\nFrom: b@example.net\r\n\r\n",
		"from : \"x, y\" <a@b.example> (comment)\n\n",
		"From: =?utf-8?q?J=C3=B6rg?=\r\n <jörg@bücher.example>\r\n\r\n",
		"From: a@[192.0.2.1]\r\n\r\n",
		"From: g: a@b.example, c@d.example;\r\n\r\n",
		"X: y\r\n continued\r\nFrom:a@b.example",
		"no header at all",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		d, status := authorDomain(msg)
		if status != fromOK {
			if d != "" {
				t.Fatalf("status %d with domain %q", status, d)
			}
			return
		}
		if again, ok := domainName(d); !ok || again != d || strings.ToLower(d) != d {
			t.Fatalf("domain %q is not normalized (%q, %v)", d, again, ok)
		}
		if strings.ContainsAny(d, " \t\r\n;\"()") {
			t.Fatalf("domain %q holds a delimiter", d)
		}
		for range headerFields(msg) {
		}
	})
}

// FuzzCheck runs whole checks, against the real DNS server of the other
// tests, on arbitrary envelopes and messages: no panic, a known verdict,
// and a header that is one field that go-msgauth parses back.
func FuzzCheck(f *testing.F) {
	f.Add("client.example", "x@reject.example", []byte("From: x@reject.example\r\n\r\nhi\r\n"))
	f.Add("helo.example", "", []byte("From: a@relaxed.example\r\nDKIM-Signature: v=1; a=rsa-sha256; d=dkim.example; s=rsa; h=from; bh=; b=\r\n\r\n"))
	f.Add("[192.0.2.1]", "\"a b\"@ours.example", []byte("From: alice@ours.example, b@x\r\n\r\n"))
	w := newWorld(f, nil)
	f.Fuzz(func(t *testing.T, helo, mailFrom string, msg []byte) {
		if len(msg) > 8<<10 || len(helo) > 300 || len(mailFrom) > 300 {
			return
		}
		res := w.c.Check(context.Background(), Input{IP: netip.MustParseAddr("192.0.2.10"), Helo: helo, MailFrom: mailFrom, Message: msg})
		if res.Verdict < Accept || res.Verdict > TempFail || res.Trusted {
			t.Fatalf("verdict %v trusted %v", res.Verdict, res.Trusted)
		}
		name, value, ok := strings.Cut(res.Header, ":")
		if !ok || name != "Authentication-Results" || strings.Count(res.Header, "\r\n") != strings.Count(res.Header, "\r\n\t")+1 {
			t.Fatalf("bad header %q", res.Header)
		}
		if _, _, err := authres.Parse(strings.ReplaceAll(strings.TrimSpace(value), "\r\n", "")); err != nil {
			t.Fatalf("authres.Parse(%q): %v", res.Header, err)
		}
	})
}
