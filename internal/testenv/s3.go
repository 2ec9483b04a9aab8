package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The S3 server the tests run is Versity Gateway (versitygw, Apache-2.0)
// with its posix backend, which serves a folder as S3: each subfolder is a
// bucket, each object a file. It is a real S3 implementation (signatures,
// checksums, listing with delimiters, error codes), run as a process on
// loopback, not a mock. docs/DECISIONS.md says why this one.
//
// VersitygwVersion is the release the tests build when versitygw is not on
// PATH. scripts/test.sh builds the same one into the same folder
// (VersitygwDir); change both together.
const VersitygwVersion = "v1.8.0"

const versitygwPkg = "github.com/versity/versitygw/cmd/versitygw"

// VersitygwDir returns the folder the built versitygw binary is cached in:
// $XDG_CACHE_HOME (or ~/.cache)/sealpost-test/versitygw-VERSION.
func VersitygwDir() (string, error) { return toolDir("versitygw", VersitygwVersion) }

// S3Server is a versitygw process serving an empty folder as S3 on
// 127.0.0.1. It has no buckets until a client makes some.
type S3Server struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string
	Region    string
	Root      string // the folder served; each subfolder is a bucket

	proc *s3Proc
}

// s3Proc is the running process, shared by copies of an S3Server.
type s3Proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	once sync.Once
}

// StartS3 starts an S3 server in a fresh folder under t.TempDir, waits until
// it answers, and kills it when the test ends. When versitygw is neither on
// PATH nor cached it is built once (go install, a minute or two); if that
// fails (no network) the test skips, or fails when SEALPOST_REQUIRE_TOOLS is
// set, as NeedTool does.
func StartS3(t testing.TB) S3Server {
	t.Helper()
	bin, err := versitygw()
	if err != nil {
		msg := "versitygw (the S3 server the tests run) is not on PATH and could not be built: " + err.Error() +
			"\nscripts/test.sh builds it; or run: GOBIN=<dir on PATH> go install " + versitygwPkg + "@" + VersitygwVersion
		if os.Getenv("SEALPOST_REQUIRE_TOOLS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	tmp := t.TempDir()
	root := filepath.Join(tmp, "s3")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	var secret [16]byte
	rand.Read(secret[:])
	srv := S3Server{
		AccessKey: "sealpost-test",
		SecretKey: hex.EncodeToString(secret[:]),
		Region:    "us-east-1",
		Root:      root,
	}
	// The posix backend keeps object metadata (ETag, content type) in
	// user xattrs; where the file system has none, in a sidecar folder.
	meta := []string{}
	if err := unix.Setxattr(root, "user.sealpost.probe", []byte("1"), 0); err != nil {
		meta = []string{"--sidecar", filepath.Join(tmp, "meta")}
		if err := os.Mkdir(meta[1], 0o700); err != nil {
			t.Fatal(err)
		}
		t.Logf("no user xattrs in %s (%v): versitygw keeps metadata in a sidecar folder", root, err)
	} else {
		unix.Removexattr(root, "user.sealpost.probe")
	}
	logName := filepath.Join(tmp, "versitygw.log")
	// A free port is found by listening on :0 and closing; another process
	// may take it before versitygw does, so try a few.
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		srv.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
		srv.proc, err = startVersitygw(bin, srv, meta, logName)
		if err != nil {
			t.Fatal(err)
		}
		err = srv.waitReady(30 * time.Second)
		if err == nil {
			break
		}
		srv.Stop()
		if attempt == 3 {
			log, _ := os.ReadFile(logName)
			t.Fatalf("versitygw on %s: %v\n%s", srv.Endpoint, err, tail(log, 2000))
		}
	}
	t.Cleanup(srv.Stop)
	return srv
}

// startVersitygw starts the server process; its output goes to logName.
func startVersitygw(bin string, srv S3Server, meta []string, logName string) (*s3Proc, error) {
	lf, err := os.OpenFile(logName, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--port", srv.Endpoint,
		"--access", srv.AccessKey, "--secret", srv.SecretKey,
		"--region", srv.Region,
		"--health", "/health",
		"--quiet",
		"posix",
	}
	args = append(append(args, meta...), srv.Root)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// If the test binary dies without cleaning up (a -timeout panic), the
	// server dies with it rather than linger.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// versitygw reads settings from many variables too (VGW_*, ROOT_*,
	// LOGFILE, ...); none of the caller's may leak in. The keys on the
	// command line are throwaway test keys.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &s3Proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls the health endpoint until it answers 200, the process
// exits, or the time is up.
func (s S3Server) waitReady(limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := client.Get("http://" + s.Endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.proc.done:
			return fmt.Errorf("exited before answering")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer after %v (last: %v)", limit, err)
		}
	}
}

// Stop kills the server, as a crash or an outage would, and waits for it to
// exit. Later requests to Endpoint are refused. Stopping twice is harmless.
func (s S3Server) Stop() {
	if s.proc == nil {
		return
	}
	s.proc.once.Do(func() {
		s.proc.cmd.Process.Signal(syscall.SIGKILL)
		<-s.proc.done
	})
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// versitygw returns the path of the versitygw binary: on PATH, else in the
// cache folder, else built there once per test binary (gotool.go).
var versitygw = sync.OnceValues(func() (string, error) {
	dir, err := VersitygwDir()
	if err != nil {
		return "", err
	}
	return goTool("versitygw", versitygwPkg, VersitygwVersion, dir)
})

// tail returns at most the last n bytes of b, as text.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
