package e2e

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/internal/testenv"
)

// awkward is a message that a careless relay would change: a folded
// header, 8-bit UTF-8, a line that begins with a dot (dot-stuffed on the
// wire, RFC 5321 section 4.5.2), one that begins with "From ", trailing
// white space, a blank line inside the body and no final blank line.
func awkward(from, to, subject string) []byte {
	return []byte("From: Bob <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\n" +
		"Message-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@peer.test>\r\nDate: Mon, 07 Dec 2026 08:00:00 +0000\r\n" +
		"X-Folded: one\r\n\ttwo\r\n  three\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"Grüße aus Köln — ünïcödé\r\n.a line that begins with a dot\r\n..two dots\r\nFrom the start of a line\r\n" +
		"trailing spaces   \r\n\r\n\tand a tab\r\nlast line\r\n")
}

// stripFields returns msg without the header fields named (any case,
// with their continuation lines), and with LF line ends made CRLF, so
// that two copies can be compared byte for byte apart from what each
// hop adds.
func stripFields(msg []byte, names ...string) []byte {
	msg = bytes.ReplaceAll(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		return msg
	}
	var out []byte
	drop := false
	for _, line := range bytes.SplitAfter(msg[:end+2], []byte("\r\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			drop = false
			for _, n := range names {
				if len(line) > len(n) && line[len(n)] == ':' && strings.EqualFold(string(line[:len(n)]), n) {
					drop = true
				}
			}
		}
		if !drop {
			out = append(out, line...)
		}
	}
	return append(out, msg[end+2:]...)
}

// TestPostfixToSealpost: a real Postfix relays mail from peer.test (which
// publishes SPF for Postfix's address and DMARC p=reject) to Sealpost's
// MX. The message alice reads over IMAP is the one handed to Postfix,
// byte for byte, apart from the trace fields the two servers prepend,
// and Sealpost's Authentication-Results says spf=pass and dmarc=pass. A
// forgery of sender.test (alice's own domain) relayed by the same
// Postfix is refused at DATA, and Postfix bounces it to its sender.
func TestPostfixToSealpost(t *testing.T) {
	dns := testenv.NewDNS(t,
		`peer.test. 300 IN TXT "v=spf1 ip4:127.0.0.2 -all"`,
		`_dmarc.peer.test. 300 IN TXT "v=DMARC1; p=reject"`)
	dir := t.TempDir()
	conf := outboundConfig(t, dir, dns.Addr)
	d := testenv.Start(t, filepath.Join(dir, "serve.log"), "serve", "--config", conf)
	defer d.Stop()
	pf := testenv.StartPostfix(t, testenv.PostfixOptions{Addr: "127.0.0.2:25", Domains: []string{"peer.test"}, Relay: "[127.0.0.1]:" + port(d.Addrs["smtp"])})

	send := func(from, to string, raw []byte) {
		t.Helper()
		c, err := smtp.Dial(pf.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SendMail(from, []string{to}, bytes.NewReader(raw)); err != nil {
			t.Fatalf("Postfix refused the message from %s: %v", from, err)
		}
		c.Quit()
	}
	sent := awkward("bob@peer.test", "alice@sender.test", "from postfix")
	send("bob@peer.test", "alice@sender.test", sent)
	send("mallory@sender.test", "alice@sender.test", message("mallory@sender.test", "alice@sender.test", "forged", "hi"))

	var got map[string][]byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c := login(t, d.Addrs["imaps"], "alice@sender.test", alicePass)
		_, msgs := fetchAll(t, c, "INBOX")
		c.Logout().Wait()
		got = map[string][]byte{}
		for _, m := range msgs {
			got[subjectOf(m)] = m
		}
		// The refusal of the forgery is read in Postfix's log.
		if len(got) >= 1 && strings.Contains(pf.Log(), "5.7.1") {
			break
		}
	}
	m, ok := got["from postfix"]
	if !ok {
		t.Fatalf("alice did not get the message; Postfix log:\n%s", pf.Log())
	}
	if _, ok := got["forged"]; ok {
		t.Error("the forgery of sender.test was delivered")
	}
	if !strings.Contains(pf.Log(), "5.7.1") {
		t.Errorf("Postfix's log shows no 5.7.1 refusal of the forgery:\n%s", pf.Log())
	}
	if got, want := stripFields(m, "Received", "Return-Path", "Authentication-Results"), stripFields(sent); !bytes.Equal(got, want) {
		t.Errorf("the message changed on the way:\n got %q\nwant %q", got, want)
	}
	ar := headerOf(m, "Authentication-Results")
	for _, want := range []string{"spf=pass", "smtp.mailfrom=bob@peer.test", "dmarc=pass", "header.from=peer.test"} {
		if !strings.Contains(ar, want) {
			t.Errorf("Authentication-Results %q lacks %q", ar, want)
		}
	}
}

// port returns the port of a host:port address.
func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// subjectOf returns the Subject of a message.
func subjectOf(m []byte) string { return headerOf(m, "Subject") }

// headerOf returns the first field named name, unfolded.
func headerOf(m []byte, name string) string {
	hdr := string(m)
	if i := strings.Index(hdr, "\r\n\r\n"); i >= 0 {
		hdr = hdr[:i+2]
	}
	lines := strings.Split(hdr, "\r\n")
	for i, l := range lines {
		if len(l) > len(name) && l[len(name)] == ':' && strings.EqualFold(l[:len(name)], name) {
			v := strings.TrimSpace(l[len(name)+1:])
			for _, c := range lines[i+1:] {
				if c == "" || (c[0] != ' ' && c[0] != '\t') {
					break
				}
				v += " " + strings.TrimSpace(c)
			}
			return v
		}
	}
	return ""
}
