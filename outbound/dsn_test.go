package outbound

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
)

// No remote reply, however hostile, can add a header or a part to a
// notice, or make it unreadable: whatever the reply says, the notice
// parses, has its three parts, one recipient group per recipient, and the
// reply's text on one line of its Diagnostic-Code.
func FuzzDSN(f *testing.F) {
	for _, s := range []string{
		"550 5.1.1 No such user",
		"451 try later\r\nSubject: injected",
		"550 \r\n\r\n--boundary\r\nContent-Type: text/html\r\n\r\n<script>",
		"\x00\x01\x1b[31m bell\a",
		strings.Repeat("x", 5000),
		"550 Ünïcödé \xff\xfe broken",
	} {
		f.Add(s, "bob@example.test")
	}
	f.Add("550 no", "bøb@exämple.test")
	f.Fuzz(func(t *testing.T, reply, rcpt string) {
		if rcpt == "" || strings.ContainsAny(rcpt, "\r\n") {
			return // recipients are checked when queued (QueuedMessage.Check)
		}
		now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		raw := buildDSN(dsnInput{kind: dsnFailed, hostname: "sealpost.example.test", sender: "alice@sealpost.example.test",
			queued: now.Add(-time.Hour), now: now, retryUntil: now.Add(time.Hour),
			outs:     []outcome{{rcpt: rcpt, kind: permanent, code: 550, text: reply, remote: reply}},
			original: []byte(msg)})
		ent, err := message.Read(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("notice does not parse: %v", err)
		}
		for _, name := range []string{"Subject", "From", "To", "Content-Type"} {
			if vs := ent.Header.Values(name); len(vs) != 1 {
				t.Fatalf("%d %s fields", len(vs), name)
			}
		}
		mr := ent.MultipartReader()
		if mr == nil {
			t.Fatal("not multipart")
		}
		parts := 0
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			parts++
			var b bytes.Buffer
			b.ReadFrom(p.Body)
			if ct, _, _ := p.Header.ContentType(); strings.HasSuffix(ct, "delivery-status") {
				if n := strings.Count(b.String(), "Final-Recipient:"); n != 1 {
					t.Fatalf("%d recipient groups", n)
				}
				for _, line := range strings.Split(b.String(), "\r\n") {
					if strings.HasPrefix(line, "Diagnostic-Code:") && len(line) > maxDiagnostic+40 {
						t.Fatalf("Diagnostic-Code of %d bytes", len(line))
					}
				}
			}
		}
		if parts != 3 {
			t.Fatalf("%d parts, want 3", parts)
		}
	})
}

func TestFromDomain(t *testing.T) {
	for in, want := range map[string]string{
		"From: Alice <alice@Example.TEST>\r\n\r\nbody":              "example.test",
		"From: =?utf-8?q?Al=C3=AFce?= <alice@example.test>\r\n\r\n": "example.test",
		"From: a@one.test, b@two.test\r\n\r\n":                      "",
		"Subject: no from\r\n\r\n":                                  "",
		"From: alice@example.test\r\n":                              "example.test",
		"from: alice@example.test (Alice)\r\nTo: b@c.test\r\n\r\n":  "example.test",
	} {
		if got := fromDomain([]byte(in)); got != want {
			t.Errorf("fromDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
