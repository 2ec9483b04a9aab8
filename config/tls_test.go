package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadTLS loads a configuration whose [tls] section (and subtables) is
// tlsSection, in a folder holding cert.pem, key.pem and ca.pem.
func loadTLS(t *testing.T, tlsSection string) (Config, error) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"cert.pem", "key.pem", "ca.pem"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte("hostname = \"mail.example.org\"\n"+region+"[tls]\n"+tlsSection+"\n"), 0o600)
	return Load(path)
}

// TestTLSSources: exactly one certificate source; [tls.acme]'s defaults,
// aliases and what it refuses.
func TestTLSSources(t *testing.T) {
	for _, tc := range []struct {
		name, section, wantErr string
	}{
		{"files", "cert = \"cert.pem\"\nkey = \"key.pem\"", ""},
		{"self-signed", "self_signed = true", ""},
		{"acme", "[tls.acme]", ""},
		{"none", "", "exactly one"},
		{"files and acme", "cert = \"cert.pem\"\nkey = \"key.pem\"\n[tls.acme]", "exactly one"},
		{"self-signed and acme", "self_signed = true\n[tls.acme]", "exactly one"},
		{"cert alone", "cert = \"cert.pem\"", "go together"},
		{"missing file", "cert = \"nope.pem\"\nkey = \"key.pem\"", "nope.pem"},
		{"short reload", "self_signed = true\nreload_every = \"10ms\"", "reload_every"},
		{"plain http directory", "[tls.acme]\ndirectory = \"http://ca.test/dir\"", "tls.acme.directory"},
		{"bad email", "[tls.acme]\nemail = \"Postmaster <p@x.test>\"", "tls.acme.email"},
		{"bad http", "[tls.acme]\nhttp = \"80\"", "tls.acme.http"},
		{"wildcard", "[tls.acme]\nnames = [\"*.example.org\"]", "tls.acme.names"},
		{"single label", "[tls.acme]\nnames = [\"localhost\"]", "tls.acme.names"},
		{"missing ca", "[tls.acme]\ndirectory_ca = \"nope.pem\"", "directory_ca"},
		{"unknown key", "[tls.acme]\ndirectroy = \"x\"", "unknown keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadTLS(t, tc.section)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
	c, err := loadTLS(t, "[tls.acme]\ndirectory_ca = \"ca.pem\"\nnames = [\"Webmail.Example.ORG.\"]\nhttp = \":80\"")
	if err != nil {
		t.Fatal(err)
	}
	a := c.TLS.ACME
	if a.DirectoryURL() != LetsEncrypt || !filepath.IsAbs(a.DirectoryCA) || a.Names[0] != "webmail.example.org" ||
		c.TLS.ReloadEvery.D() != 30*time.Second {
		t.Errorf("defaults and normalization: %+v, reload %v", *a, c.TLS.ReloadEvery.D())
	}
	path := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(path, []byte(region+"[tls.acme]\n"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "not a public name") {
		t.Errorf("ACME for hostname localhost: %v", err)
	}
	c, err = loadTLS(t, "[tls.acme]\ndirectory = \"letsencrypt-staging\"")
	if err != nil || c.TLS.ACME.DirectoryURL() != LetsEncryptStaging {
		t.Errorf("staging: %v %v", c.TLS.ACME, err)
	}
}
