package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

// pki is a deployment CA with node certificates, in a temporary folder.
type pki struct {
	dir string
}

func newPKI(t testing.TB, nodes ...string) *pki {
	t.Helper()
	p := &pki{dir: filepath.Join(t.TempDir(), "ca")}
	if err := NewCA(p.dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if _, _, err := IssueNode(p.dir, n, "127.0.0.1", "localhost"); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (p *pki) caCert() string { return filepath.Join(p.dir, CACertFile) }
func (p *pki) files(n string) (string, string) {
	return filepath.Join(p.dir, n+".crt"), filepath.Join(p.dir, n+".key")
}

func (p *pki) server(t testing.TB, node string) *tls.Config {
	t.Helper()
	crt, key := p.files(node)
	cfg, err := LoadServerTLS(p.caCert(), crt, key)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (p *pki) client(t testing.TB, node, serverName string) *tls.Config {
	t.Helper()
	crt, key := p.files(node)
	cfg, err := LoadClientTLS(p.caCert(), crt, key, serverName)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCA(t *testing.T) {
	p := newPKI(t)
	for f, want := range map[string]os.FileMode{CAKeyFile: 0o600, CACertFile: 0o644} {
		fi, err := os.Stat(filepath.Join(p.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", f, got, want)
		}
	}
	fi, err := os.Stat(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("CA folder mode %v, want 0700", got)
	}
	ca := readCert(t, p.caCert())
	if !ca.IsCA || !ca.MaxPathLenZero {
		t.Errorf("CA certificate: IsCA %v, MaxPathLenZero %v", ca.IsCA, ca.MaxPathLenZero)
	}
	// A CA is made once.
	if err := NewCA(p.dir); !errors.Is(errors.Exist, err) {
		t.Errorf("second NewCA: %v, want Exist", err)
	}
	// Its key is unchanged by the refused attempt.
	if _, err := tls.LoadX509KeyPair(p.caCert(), filepath.Join(p.dir, CAKeyFile)); err != nil {
		t.Errorf("CA key pair after second NewCA: %v", err)
	}
}

func TestIssueNode(t *testing.T) {
	p := newPKI(t)
	crt, key, err := IssueNode(p.dir, "region-ie", "10.1.2.3", "ie.internal.example", "region-ie")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("node key: %v, mode %v", err, fi.Mode().Perm())
	}
	c := readCert(t, crt)
	if c.Subject.CommonName != "region-ie" {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if len(c.DNSNames) != 2 || c.DNSNames[0] != "region-ie" || c.DNSNames[1] != "ie.internal.example" {
		t.Errorf("DNS names %q", c.DNSNames)
	}
	if len(c.IPAddresses) != 1 || c.IPAddresses[0].String() != "10.1.2.3" {
		t.Errorf("IP addresses %v", c.IPAddresses)
	}
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, p.caCert()))
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "region-ie", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("verify for usage %v: %v", usage, err)
		}
	}
	if _, _, err := IssueNode(p.dir, "region-ie"); !errors.Is(errors.Exist, err) {
		t.Errorf("second IssueNode: %v, want Exist", err)
	}
}

func TestIssueNodeNames(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"frontdoor", true},
		{"region-us", true},
		{"r1", true},
		{"", false},
		{"ca", false},
		{"Region-IE", false},
		{"-x", false},
		{"x-", false},
		{"a/b", false},
		{"../ca", false},
		{"a.b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := IssueNode(p.dir, tc.name)
			if (err == nil) != tc.ok {
				t.Errorf("IssueNode(%q): %v, want ok %v", tc.name, err, tc.ok)
			}
			if !tc.ok && !errors.Is(errors.Invalid, err) {
				t.Errorf("IssueNode(%q): %v, want Invalid", tc.name, err)
			}
		})
	}
}

func TestIssueNodeWithoutCA(t *testing.T) {
	if _, _, err := IssueNode(t.TempDir(), "frontdoor"); !errors.Is(errors.NotExist, err) {
		t.Errorf("IssueNode without a CA: %v, want NotExist", err)
	}
}

func TestLoadTLS(t *testing.T) {
	p := newPKI(t, "region-ie", "frontdoor")
	srv := p.server(t, "region-ie")
	if srv.ClientAuth != tls.RequireAndVerifyClientCert || srv.MinVersion != tls.VersionTLS13 || srv.ClientCAs == nil {
		t.Errorf("server config: ClientAuth %v MinVersion %x", srv.ClientAuth, srv.MinVersion)
	}
	cli := p.client(t, "frontdoor", "region-ie")
	if cli.RootCAs == nil || cli.ServerName != "region-ie" || cli.MinVersion != tls.VersionTLS13 {
		t.Errorf("client config: ServerName %q MinVersion %x", cli.ServerName, cli.MinVersion)
	}
	// A node certificate is not a CA file.
	crt, key := p.files("frontdoor")
	if _, err := LoadServerTLS(crt, crt, key); !errors.Is(errors.Invalid, err) {
		t.Errorf("node cert as CA: %v, want Invalid", err)
	}
	if _, err := LoadClientTLS(p.caCert(), crt, key, ""); !errors.Is(errors.Invalid, err) {
		t.Errorf("no server name: %v, want Invalid", err)
	}
	if _, err := LoadServerTLS(filepath.Join(p.dir, "missing.crt"), crt, key); !errors.Is(errors.NotExist, err) {
		t.Errorf("missing CA: %v, want NotExist", err)
	}
}
