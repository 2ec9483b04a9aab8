package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestACMEServe: `sealpost serve` with [tls.acme] pointed at a real ACME
// CA (Pebble) on loopback gets a certificate for its host name by itself
// (Pebble validates over TLS-ALPN-01 on the implicit-TLS IMAP port and
// HTTP-01 on the [tls.acme] http port), and a client of port 993 that
// trusts only Pebble's root verifies it. The account key and the
// certificate are kept 0600 in data/acme (0700).
func TestACMEServe(t *testing.T) {
	const host = "mail.acme.test"
	dir := t.TempDir()
	dns := testenv.NewDNS(t, host+". 60 IN A 127.0.0.1")
	imaps, acmeHTTP := freeAddr(t), freeAddr(t)
	port := func(addr string) int {
		p, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return p.Port
	}
	pebble := testenv.StartPebble(t, testenv.PebbleOptions{DNS: dns.Addr,
		TLSPort: port(imaps), HTTPPort: port(acmeHTTP)})
	conf := filepath.Join(dir, "sealpost.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`hostname = %q
data_dir = "data"
`+euRegion+`[listen]
smtp = "127.0.0.1:0"
imaps = %q
[tls.acme]
directory = %q
directory_ca = %q
email = "postmaster@acme.test"
http = %q
`, host, imaps, pebble.Directory, pebble.DirectoryCA, acmeHTTP)+cheapArgon2("")), 0o600); err != nil {
		t.Fatal(err)
	}
	d := testenv.Start(t, filepath.Join(dir, "serve.log"), "serve", "--config", conf)
	roots := pebble.Roots(t)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", d.Addrs["imaps"],
		&tls.Config{ServerName: host, RootCAs: roots})
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
		t.Fatalf("TLS to 993 trusting only Pebble: %v\n%s", err, log)
	}
	leaf := c.ConnectionState().PeerCertificates[0]
	c.Close()
	if err := leaf.VerifyHostname(host); err != nil {
		t.Fatal(err)
	}
	acmeDir := filepath.Join(dir, "data", "acme")
	fi, err := os.Stat(acmeDir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data/acme: %v %v", fi, err)
	}
	// autocert keeps challenge tokens in the cache while it validates and
	// deletes them after (and each write passes through a ".tmp" file), so
	// the folder is read until it holds just the account key and the
	// certificate: a listing taken mid-cleanup names files that are gone a
	// moment later.
	want := map[string]bool{"acme_account+key": true, host: true}
	var names []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ents, err := os.ReadDir(acmeDir)
		if err != nil {
			t.Fatal(err)
		}
		names = names[:0]
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if len(names) == len(want) && want[names[0]] && want[names[1]] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("data/acme holds %q, want the account key and the certificate of %s", names, host)
		}
	}
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(acmeDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("data/acme/%s is %v", n, fi.Mode().Perm())
		}
	}
}

// TestSIGHUPKeepsServing: `systemctl reload` sends SIGHUP, which reads
// certificate files again; with a certificate from elsewhere (here the
// demo's self-signed one) it must not end the process, as Go's default
// action would.
func TestSIGHUPKeepsServing(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	defer d.Stop()
	if err := syscall.Kill(d.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "demo.log"))
		if strings.Contains(string(b), "SIGHUP") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log the SIGHUP:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := login(t, d.Addrs["imaps"], alice, alicePass)
	c.Logout().Wait()
}
