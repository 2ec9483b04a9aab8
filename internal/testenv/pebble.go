package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The ACME CA the tests run is Pebble (github.com/letsencrypt/pebble/v2,
// MPL-2.0), Let's Encrypt's small ACME server for testing clients: real
// RFC 8555 (accounts, orders, authorizations, HTTP-01 and TLS-ALPN-01
// validations that connect to the server under test, finalization,
// certificates under a root it makes at start). It is not in go.mod: it is
// built once into a cache folder, as versitygw is.
//
// PebbleVersion is the release built; scripts/test.sh builds the same one
// into the same folder (PebbleDir); change both together.
const PebbleVersion = "v2.10.3"

const pebblePkg = "github.com/letsencrypt/pebble/v2/cmd/pebble"

// PebbleDir returns the folder the built pebble binary is cached in:
// $XDG_CACHE_HOME (or ~/.cache)/sealpost-test/pebble-VERSION.
func PebbleDir() (string, error) { return toolDir("pebble", PebbleVersion) }

var pebbleBin = sync.OnceValues(func() (string, error) {
	dir, err := PebbleDir()
	if err != nil {
		return "", err
	}
	return goTool("pebble", pebblePkg, PebbleVersion, dir)
})

// PebbleOptions configures a Pebble.
type PebbleOptions struct {
	// HTTPPort and TLSPort are where Pebble's validations connect, on the
	// address DNS gives for the name: HTTP-01 (RFC 8555 8.3, port 80 in
	// the real world) and TLS-ALPN-01 (RFC 8737, port 443). Zero: a port
	// nothing listens on, so that validation fails.
	HTTPPort, TLSPort int
	// DNS is the resolver Pebble looks names up with ("127.0.0.1:port",
	// a testenv.DNS).
	DNS string
	// Validity is the issued certificates' lifetime in whole seconds;
	// zero: 90 days.
	Validity time.Duration
}

// Pebble is a running Pebble process on loopback.
type Pebble struct {
	// Directory is the ACME directory URL (https://localhost:port/dir).
	Directory string
	// DirectoryCA is a PEM file of the CA of Pebble's own HTTPS
	// certificate, for the ACME client ([tls.acme] directory_ca).
	DirectoryCA string

	mgmt    string
	client  *http.Client
	logName string
	cmd     *exec.Cmd
	done    chan struct{}
	stop    sync.Once
}

// StartPebble starts Pebble with its own configuration (no sleeps before
// validations, no nonces refused at random), waits until it answers and
// stops it when the test ends. When pebble is neither on PATH nor cached
// it is built once; if that fails the test skips, or fails when
// SEALPOST_REQUIRE_TOOLS is set.
func StartPebble(t testing.TB, o PebbleOptions) *Pebble {
	t.Helper()
	bin, err := pebbleBin()
	if err != nil {
		missing(t, "pebble (the ACME CA the tests run) is not on PATH and could not be built: "+err.Error()+
			"\nscripts/test.sh builds it; or run: GOBIN=<dir on PATH> go install "+pebblePkg+"@"+PebbleVersion)
	}
	tmp := t.TempDir()
	// Pebble's own HTTPS certificate, from a throwaway CA.
	ca := NewCA(t)
	cert := ca.Issue(t, time.Time{}, "localhost")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"ca.pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	unused := func(p int) int {
		if p != 0 {
			return p
		}
		p, err := freePort() // free a moment ago: nothing answers there
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	profile := map[string]any{"description": "sealpost tests"}
	if o.Validity > 0 {
		profile["validityPeriod"] = int64(o.Validity / time.Second)
	}
	p := &Pebble{DirectoryCA: filepath.Join(tmp, "ca.pem"), logName: filepath.Join(tmp, "pebble.log")}
	for attempt := 1; ; attempt++ {
		api, err1 := freePort()
		mgmt, err2 := freePort()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		conf := map[string]any{"pebble": map[string]any{
			"listenAddress":           fmt.Sprintf("127.0.0.1:%d", api),
			"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmt),
			"certificate":             filepath.Join(tmp, "cert.pem"),
			"privateKey":              filepath.Join(tmp, "key.pem"),
			"httpPort":                unused(o.HTTPPort),
			"tlsPort":                 unused(o.TLSPort),
			"keyAlgorithm":            "ecdsa",
			"retryAfter":              map[string]int{"authz": 1, "order": 1},
			"profiles":                map[string]any{"default": profile},
		}}
		b, _ := json.Marshal(conf)
		confName := filepath.Join(tmp, "pebble.json")
		if err := os.WriteFile(confName, b, 0o600); err != nil {
			t.Fatal(err)
		}
		p.Directory = fmt.Sprintf("https://localhost:%d/dir", api)
		p.mgmt = fmt.Sprintf("https://localhost:%d", mgmt)
		p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
		if err := p.start(bin, confName, o.DNS); err != nil {
			t.Fatal(err)
		}
		err = p.waitReady(30 * time.Second)
		if err == nil {
			break
		}
		p.Stop()
		if attempt == 3 {
			log, _ := os.ReadFile(p.logName)
			t.Fatalf("pebble: %v\n%s", err, tail(log, 2000))
		}
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			log, _ := os.ReadFile(p.logName)
			t.Logf("pebble's log:\n%s", tail(log, 4000))
		}
	})
	return p
}

func (p *Pebble) start(bin, conf, dns string) error {
	lf, err := os.OpenFile(p.logName, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := []string{"-config", conf}
	if dns != "" {
		args = append(args, "-dnsserver", dns)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Validate at once (not after Pebble's random sleep of up to 15 s);
	// refuse no good nonce (Pebble refuses 5% by default, to test clients'
	// retries: autocert's client retries, but not every step of it).
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return err
	}
	p.cmd, p.done, p.stop = cmd, make(chan struct{}), sync.Once{}
	go func() {
		cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return nil
}

func (p *Pebble) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := p.client.Get(p.Directory)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before answering")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer after %v (last: %v)", limit, err)
		}
	}
}

// Roots returns a pool holding the root Pebble issues under (made at its
// start), fetched from its management interface: what a test's TLS client
// trusts, and nothing else does.
func (p *Pebble) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	resp, err := p.client.Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pebble's root: %v %s", err, resp.Status)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble's root is not PEM: %q", b)
	}
	return pool
}

var ordersLine = regexp.MustCompile(`There are now (\d+) orders in the db`)

// Orders returns how many orders Pebble has been asked for (from its log).
func (p *Pebble) Orders(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(p.logName)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ordersLine.FindAllSubmatch(b, -1) {
		n, _ = strconv.Atoi(string(m[1]))
	}
	return n
}

// Log returns what Pebble has logged so far.
func (p *Pebble) Log(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(p.logName)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Stop kills Pebble and waits for it to exit; twice is harmless.
func (p *Pebble) Stop() {
	if p.cmd == nil {
		return
	}
	p.stop.Do(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	})
}
