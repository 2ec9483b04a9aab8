package e2e

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testenv"
)

// TestQuotaCommand sets an account's quota with `sealpost account quota`
// while the server runs, and the running server enforces it at once:
// APPEND beyond it is NO [OVERQUOTA] and stores nothing.
func TestQuotaCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))

	out := mustSealpost(t, "", "account", "quota", bob, "--data", data)
	if !strings.Contains(out, "of 10.0 GiB (default)") || !strings.Contains(out, "of 1000 (default)") {
		t.Fatalf("account quota with the defaults said:\n%s", out)
	}
	out = mustSealpost(t, "", "account", "quota", bob, "--storage", "4KiB", "--data", data)
	if !strings.Contains(out, "of 4.0 KiB (this account)") || !strings.Contains(out, "of 1000 (default)") {
		t.Fatalf("account quota --storage 4KiB said:\n%s", out)
	}
	if out, err := sealpost(t, "", "account", "quota", bob, "--mailboxes", "-3", "--data", data); err == nil {
		t.Fatalf("a negative limit was accepted:\n%s", out)
	}

	c := login(t, d.Addrs["imaps"], bob, bobPass)
	defer c.Close()
	raw := message(alice, bob, "big", strings.Repeat("0123456789abcdef", 400)) // > 6 KiB
	cmd := c.Append("INBOX", int64(len(raw)), nil)
	cmd.Write(raw)
	cmd.Close()
	_, err := cmd.Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeOverQuota {
		t.Fatalf("APPEND beyond the quota: %v, want NO [OVERQUOTA]", err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil || *st.NumMessages != 0 {
		t.Fatalf("INBOX after the refused APPEND: %+v, %v", st, err)
	}

	mustSealpost(t, "", "account", "quota", bob, "--storage", "none", "--data", data)
	cmd = c.Append("INBOX", int64(len(raw)), nil)
	cmd.Write(raw)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND without a limit: %v", err)
	}
	out = mustSealpost(t, "", "account", "quota", bob, "--data", data)
	if !strings.Contains(out, "no limit (this account)") || !bytes.Contains([]byte(out), []byte("messages   1")) {
		t.Fatalf("account quota after --storage none said:\n%s", out)
	}
}
