package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
			found = found || bytes.Equal(stripTrace(t, b), raw)
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
	cur, _ := filepath.Glob(filepath.Join(maildir, "INBOX", "cur", "*"))
	if len(cur) == 0 {
		t.Fatal("no message in Maildir cur/")
	}
	flagged := cur[0]
	os.Rename(flagged, flagged+"F") // Maildir info ":2,S" → ":2,SF"
	run()

	c := login(t, d.Addrs["imaps"], alice, alicePass)
	_, got := fetchAll(t, c, "INBOX")
	if len(got) != 4 {
		t.Fatalf("server INBOX has %d messages after the push, want 4", len(got))
	}
	found := false
	for _, b := range got {
		found = found || bytes.Equal(b, pushed)
	}
	if !found {
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
