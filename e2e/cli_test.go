package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// sealpost runs the binary with stdin and returns its output.
func sealpost(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testenv.BuildBinary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustSealpost(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := sealpost(t, stdin, args...)
	if err != nil {
		t.Fatalf("sealpost %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestAdminCommands runs domain and account administration the way an
// operator would, against a data folder the demo then serves.
func TestAdminCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustSealpost(t, "", "domain", "add", "example.net", "--data", data)
	if out := mustSealpost(t, "", "domain", "list", "--data", data); !strings.Contains(out, "example.net") {
		t.Fatalf("domain list: %s", out)
	}
	if out, err := sealpost(t, "", "domain", "add", "not a domain", "--data", data); err == nil {
		t.Fatalf("invalid domain accepted: %s", out)
	}
	out := mustSealpost(t, "erin-password\n", "account", "add", "erin@example.net", "--data", data)
	code := regexp.MustCompile(`recovery code[^:]*: (\S+)`).FindStringSubmatch(out)
	if code == nil {
		t.Fatalf("account add printed no recovery code: %s", out)
	}
	if out, err := sealpost(t, "x\n", "account", "add", "frank@example.net", "--data", data); err == nil || !strings.Contains(out, "at least 8") {
		t.Fatalf("short password: %v %s", err, out)
	}
	if out, err := sealpost(t, "frank-password\n", "account", "add", "frank@nowhere.example", "--data", data); err == nil {
		t.Fatalf("account in an unhosted domain accepted: %s", out)
	}
	list := mustSealpost(t, "", "account", "list", "--data", data)
	if !strings.Contains(list, "erin@example.net") || !strings.Contains(list, "sealed") {
		t.Fatalf("account list: %s", list)
	}

	// Wrong old password refused; right one changes it.
	if out, err := sealpost(t, "wrong-password\nnew-password-1\n", "account", "passwd", "erin@example.net", "--data", data); err == nil {
		t.Fatalf("passwd with a wrong old password succeeded: %s", out)
	}
	mustSealpost(t, "erin-password\nnew-password-1\n", "account", "passwd", "erin@example.net", "--data", data)
	// An admin reset says old mail stays sealed.
	out = mustSealpost(t, "admin-password\n", "account", "passwd", "erin@example.net", "--reset", "--data", data)
	if !strings.Contains(out, "cannot be opened") {
		t.Fatalf("reset did not warn that old mail stays sealed: %s", out)
	}
	// The recovery code restores the first key.
	out = mustSealpost(t, "recovered-password\n", "account", "passwd", "erin@example.net", "--recovery-code", code[1], "--data", data)
	if !strings.Contains(out, "restored") {
		t.Fatalf("recovery: %s", out)
	}

	if out, err := sealpost(t, "", "account", "delete", "erin@example.net", "--data", data); err == nil {
		t.Fatalf("delete without --yes: %s", out)
	}
	mustSealpost(t, "", "account", "delete", "erin@example.net", "--yes", "--data", data)
	// The administrator's reset and deletion are in the event journal.
	events, _ := os.ReadFile(filepath.Join(data, "events.jsonl"))
	for _, kind := range []string{"account.reset", "account.deleted"} {
		if !strings.Contains(string(events), `"kind":"`+kind+`","account":"erin@example.net","actor":"admin"`) {
			t.Errorf("journal lacks %s:\n%s", kind, events)
		}
	}
	if list := mustSealpost(t, "", "account", "list", "--data", data); strings.Contains(list, "erin@") {
		t.Fatalf("deleted account still listed: %s", list)
	}
}

// TestServeConfig runs `sealpost serve` from a TOML file.
func TestServeConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sealpost.toml")
	os.WriteFile(conf, []byte(`hostname = "mail.example.net"
data_dir = "data"
`+euRegion+`[listen]
smtp = "127.0.0.1:0"
imaps = "127.0.0.1:0"
[tls]
self_signed = true
[argon2]
time = 1
memory_kib = 1024
threads = 1
`), 0o600)
	mustSealpost(t, "", "domain", "add", "example.net", "--config", conf)
	d := testenv.Start(t, filepath.Join(dir, "serve.log"), "serve", "--config", conf, "--dns", testenv.SenderDNS(t).Addr)
	if d.Addrs["smtp"] == "" || d.Addrs["imaps"] == "" {
		t.Fatalf("serve did not print its listeners: %v", d.Addrs)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "regions", "eu", "meta.db")); err != nil {
		t.Fatalf("data_dir is not relative to the config file: %v", err)
	}
	if out, err := sealpost(t, "", "serve", "--config", filepath.Join(dir, "missing.toml")); err == nil {
		t.Fatalf("serve with a missing config succeeded: %s", out)
	}
}
