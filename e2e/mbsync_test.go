package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/sealpost/sealpost/internal/testenv"
)

// TestMbsync syncs an account to a local Maildir with a real mail client
// (isync's mbsync), then pushes a local message and a flag change back.
func TestMbsync(t *testing.T) {
	mbsync := testenv.NeedTool(t, "mbsync", "isync")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	var sent [][]byte
	for i := range 3 {
		raw := message("friend@example.org", alice, fmt.Sprintf("mbsync %d", i), fmt.Sprintf("body %d", i))
		deliver(t, d.Addrs["smtp"], "friend@example.org", alice, raw)
		sent = append(sent, raw)
	}
	host, port, _ := strings.Cut(d.Addrs["imaps"], ":")
	maildir := filepath.Join(dir, "mail")
	os.MkdirAll(maildir, 0o700)
	conf := filepath.Join(dir, "mbsyncrc")
	os.WriteFile(conf, fmt.Appendf(nil, `IMAPAccount demo
Host %s
Port %s
User %s
Pass %s
SSLType IMAPS
CertificateFile %s

IMAPStore remote
Account demo

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel demo
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
`, host, port, alice, alicePass, filepath.Join(data, "tls", "cert.pem"), maildir, maildir), 0o600)
	run := func() {
		t.Helper()
		out, err := exec.Command(mbsync, "-c", conf, "-a").CombinedOutput()
		if err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
	}
	run()
	local := readMaildir(t, filepath.Join(maildir, "INBOX"))
	if len(local) != 3 {
		t.Fatalf("mbsync fetched %d messages into INBOX, want 3", len(local))
	}
	for _, raw := range sent {
		found := false
		for _, b := range local {
			// mbsync stores Maildir files with LF line ends and adds
			// its own X-TUID tracking header.
			found = found || bytes.Equal(stripTrace(t, crlf(tuid.ReplaceAll(b, nil))), raw)
		}
		if !found {
			t.Errorf("message %q not synced byte for byte", raw[:40])
		}
	}
	for _, sub := range []string{"Sent", "Drafts", "Trash", "Junk", "Archive"} {
		if _, err := os.Stat(filepath.Join(maildir, sub)); err != nil {
			t.Errorf("mailbox %s not synced: %v", sub, err)
		}
	}

	// Push back: a new local message, and a flag set locally.
	pushed := message(alice, alice, "written offline", "drafted in the Maildir")
	os.WriteFile(filepath.Join(maildir, "INBOX", "new", "1700000000.local.host"), pushed, 0o600)
	news, _ := filepath.Glob(filepath.Join(maildir, "INBOX", "new", "*,U=*"))
	if len(news) == 0 {
		t.Fatal("no synced message in Maildir new/")
	}
	// Flag one: move it to cur/ with the Maildir info ":2,F".
	base := filepath.Base(news[0])
	if i := strings.Index(base, ":2,"); i >= 0 {
		base = base[:i]
	}
	if err := os.Rename(news[0], filepath.Join(maildir, "INBOX", "cur", base+":2,F")); err != nil {
		t.Fatal(err)
	}
	run()

	c := login(t, d.Addrs["imaps"], alice, alicePass)
	_, got := fetchAll(t, c, "INBOX")
	if len(got) != 4 {
		t.Fatalf("server INBOX has %d messages after the push, want 4", len(got))
	}
	found := false
	for _, b := range got {
		found = found || bytes.Equal(tuid.ReplaceAll(b, nil), pushed) // mbsync adds X-TUID on upload
	}
	if !found {
		for _, b := range got {
			t.Logf("on the server: %q", b)
		}
		t.Error("the message written in the Maildir did not reach the server byte for byte")
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.AllUIDs()) != 1 {
		t.Errorf("%d messages \\Flagged on the server, want 1", len(res.AllUIDs()))
	}
}

var tuid = regexp.MustCompile(`(?m)^X-TUID: [^\r\n]*\r?\n`)

func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

func readMaildir(t *testing.T, dir string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, sub := range []string{"new", "cur"} {
		files, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}
