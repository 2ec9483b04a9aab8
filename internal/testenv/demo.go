package testenv

import (
	"bufio"
	"crypto/tls"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildBinary builds cmd/sealpost once per test binary and returns its path.
func BuildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sealpost-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sealpost")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/sealpost/sealpost/cmd/sealpost")
		cmd.Stderr = os.Stderr
		buildErr = cmd.Run()
	})
	if buildErr != nil {
		t.Fatalf("building sealpost: %v", buildErr)
	}
	return binPath
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Demo is a `sealpost demo` process on loopback with ephemeral ports.
type Demo struct {
	Data  string
	Addrs map[string]string // listener name → address
	// DNS is the DNS server a demo started by StartDemoArgs resolves
	// with (SenderRecords), for tests to publish more.
	DNS  *DNS
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// StartDemo runs `sealpost demo --data data` with every listener on
// 127.0.0.1:0 and waits for "ready". Its log goes to data/../demo.log, so a
// test can include or exclude it when it inspects the data folder. The
// process is killed at the end of the test.
func StartDemo(t testing.TB, data string, logFile string) *Demo {
	t.Helper()
	return StartDemoArgs(t, data, logFile,
		"--smtp", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--submissions", "127.0.0.1:0",
		"--imap", "127.0.0.1:0", "--imaps", "127.0.0.1:0", "--web", "127.0.0.1:0")
}

// StartDemoArgs is StartDemo with the listener flags given (none: the
// demo's documented default ports). The demo resolves with a DNS server
// of its own (SenderDNS), so that its MX checks mail from example.org
// as it would on the Internet.
func StartDemoArgs(t testing.TB, data string, logFile string, args ...string) *Demo {
	t.Helper()
	dns := SenderDNS(t)
	if len(args) > 0 && !slices.Contains(args, "--managesieve") {
		// Tests that place listeners place ManageSieve too, off its
		// default port.
		args = append(args, "--managesieve", "127.0.0.1:0")
	}
	if len(args) > 0 && !slices.Contains(args, "--metrics") {
		args = append(args, "--metrics", "127.0.0.1:0") // and metrics
	}
	d := Start(t, logFile, append([]string{"demo", "--data", data, "--log-level", "debug", "--dns", dns.Addr}, args...)...)
	d.Data, d.DNS = data, dns
	return d
}

// SenderRecords are what the integration tests' correspondents publish:
// example.org authorizes loopback with SPF (RFC 7208) and asks for DMARC
// p=reject (RFC 7489), so that its mail to an MX on loopback passes
// aligned, and a forgery of it would be refused.
var SenderRecords = []string{
	`example.org. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`,
	`_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject"`,
}

// SenderDNS starts a DNS server publishing SenderRecords, to pass to
// sealpost with --dns.
func SenderDNS(t testing.TB) *DNS {
	t.Helper()
	return NewDNS(t, SenderRecords...)
}

// Start runs the sealpost binary with args (demo, or serve) and waits for
// its "ready" line, collecting the "NAME 127.0.0.1:PORT" listener lines it
// prints before. Its standard error goes to logFile. It is killed at the
// end of the test.
func Start(t testing.TB, logFile string, args ...string) *Demo {
	t.Helper()
	return StartWith(t, logFile, nil, args...)
}

// StartWith is Start with the binary run through wrap, a command and its
// arguments to which the binary and args are appended (e.g. prlimit with
// a descriptor limit).
func StartWith(t testing.TB, logFile string, wrap []string, args ...string) *Demo {
	t.Helper()
	bin := BuildBinary(t)
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append(append([]string(nil), wrap...), bin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = lf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &Demo{Addrs: map[string]string{}, cmd: cmd, done: make(chan struct{}), log: lf}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			lf.WriteString("stdout: " + line + "\n")
			f := strings.Fields(line)
			if len(f) == 2 && strings.HasPrefix(f[1], "127.0.0.1:") {
				d.Addrs[f[0]] = f[1]
			}
			if line == "ready" && !sent {
				sent = true
				ready <- nil
			}
		}
		if !sent {
			ready <- io.ErrUnexpectedEOF
		}
		cmd.Wait()
		close(d.done)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("sealpost %s exited before ready; see %s", args[0], logFile)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("sealpost %s not ready after 60s; see %s", args[0], logFile)
	}
	t.Cleanup(func() { d.Kill() })
	return d
}

// Stop ends the demo with SIGTERM and waits for it.
func (d *Demo) Stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		d.Kill()
	}
	d.log.Close()
}

// Kill ends the demo with SIGKILL, as a crash would, and waits for it.
func (d *Demo) Kill() {
	d.cmd.Process.Kill()
	<-d.done
	d.log.Close()
}

// ClientTLS is the TLS configuration clients use against the demo's
// self-signed certificate.
func ClientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true}
}
