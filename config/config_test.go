package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

// The documented example must stay loadable: every key known, every value
// valid (once its certificate files exist).
func TestExampleConfig(t *testing.T) {
	src, err := os.ReadFile("../sealpost.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"cert.pem", "key.pem"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	text := strings.NewReplacer("/etc/sealpost/fullchain.pem", filepath.Join(dir, "cert.pem"),
		"/etc/sealpost/privkey.pem", filepath.Join(dir, "key.pem")).Replace(string(src))
	path := filepath.Join(dir, "sealpost.toml")
	os.WriteFile(path, []byte(text), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if c.Listen.SMTP != ":25" || c.Limits.MaxRecipients != 100 || c.Argon2.MemoryKiB != 65536 {
		t.Errorf("example config decoded wrong: %+v", c)
	}
}

func TestLoadRejects(t *testing.T) {
	for name, text := range map[string]string{
		"unknown key":   "hostnme = \"x\"\n[tls]\nself_signed = true\n",
		"bad listen":    "[listen]\nsmtp = \"nonsense\"\n[tls]\nself_signed = true\n",
		"no tls":        "",
		"both tls":      "[tls]\nself_signed = true\ncert = \"a\"\nkey = \"b\"\n",
		"tiny argon2":   "[argon2]\nmemory_kib = 1\n[tls]\nself_signed = true\n",
		"bad log level": "[log]\nlevel = \"loud\"\n[tls]\nself_signed = true\n",
		"syntax":        "hostname = \n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.toml")
			os.WriteFile(path, []byte(text), 0o600)
			_, err := Load(path)
			if !errors.Is(errors.Invalid, err) {
				t.Fatalf("Load = %v, want an Invalid error", err)
			}
		})
	}
}

func TestDefaultIsValidWithTLS(t *testing.T) {
	c := Default()
	c.TLS.SelfSigned = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
