package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/testenv"
)

// dialFrom connects to addr from the loopback address src.
func dialFrom(src, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

// firstLine reads the server's first line on c (its greeting or its
// refusal), or "" if it closes or says nothing in time.
func firstLine(c net.Conn) string {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.SetReadDeadline(time.Time{})
	return line
}

// TestConnectionFlood: the server runs under a 1,024-descriptor limit
// (prlimit), as the probe did; 1,100 idle SMTP connections come
// from 22 addresses (50 each, the MX's bound per source). The MX takes
// what its share of the descriptors allows and answers the rest with 421
// at once, and meanwhile IMAP logins and the web app answer as usual,
// and the log never says "too many open files".
func TestConnectionFlood(t *testing.T) {
	if _, err := os.Stat("/usr/bin/prlimit"); err != nil {
		t.Skip("needs prlimit (util-linux)")
	}
	dir := t.TempDir()
	conf := serveConfig(t, dir, "")
	logFile := filepath.Join(dir, "serve.log")
	d := testenv.StartWith(t, logFile, []string{"prlimit", "--nofile=1024:1024"}, "serve", "--config", conf)
	defer d.Stop()

	var mu sync.Mutex
	var held []net.Conn
	greeted, refused := 0, 0
	var wg sync.WaitGroup
	for s := range 22 {
		wg.Go(func() {
			for range 50 {
				c, err := dialFrom(fmt.Sprintf("127.0.0.%d", 10+s), d.Addrs["smtp"])
				if err != nil {
					t.Error(err)
					return
				}
				line := firstLine(c)
				mu.Lock()
				switch {
				case strings.HasPrefix(line, "220 "):
					greeted++
					held = append(held, c)
				case strings.HasPrefix(line, "421 4.7.0"):
					refused++
					c.Close()
				default:
					t.Errorf("the MX said %q", line)
					c.Close()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	if greeted+refused != 1100 || refused == 0 || greeted < 100 {
		t.Fatalf("of 1,100 connections %d were greeted and %d refused", greeted, refused)
	}
	t.Logf("%d held, %d refused with 421", greeted, refused)

	// The other listeners still answer.
	ca := login(t, d.Addrs["imaps"], "alice@sender.test", alicePass)
	if _, err := ca.Select("INBOX", nil).Wait(); err != nil {
		t.Errorf("IMAP during the flood: %v", err)
	}
	ca.Logout().Wait()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + d.Addrs["web"] + "/log/checkpoint")
	if err != nil {
		t.Fatalf("web during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("web during the flood: %s", resp.Status)
	}
	// A new MX connection is refused, not left hanging.
	c, err := dialFrom("127.0.0.40", d.Addrs["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	if line := firstLine(c); !strings.HasPrefix(line, "421 ") {
		t.Errorf("a new MX connection during the flood got %q", line)
	}
	c.Close()
	// When the flood ends, the MX takes connections again.
	for _, c := range held {
		c.Close()
	}
	held = nil
	time.Sleep(500 * time.Millisecond)
	c, err = dialFrom("127.0.0.40", d.Addrs["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	if line := firstLine(c); !strings.HasPrefix(line, "220 ") {
		t.Errorf("after the flood the MX said %q", line)
	}
	c.Close()
	log, _ := os.ReadFile(logFile)
	if strings.Contains(string(log), "too many open files") {
		t.Error("the server ran out of descriptors")
	}
}

// TestSilentTLSClient: a client that connects to an implicit-TLS port and
// sends nothing is dropped at handshake_time (the issue found one still
// connected after 420 s).
func TestSilentTLSClient(t *testing.T) {
	dir := t.TempDir()
	conf := serveConfig(t, dir, "[limits]\nhandshake_time = \"1s\"\n")
	d := testenv.Start(t, filepath.Join(dir, "serve.log"), "serve", "--config", conf)
	defer d.Stop()
	for _, name := range []string{"imaps", "submissions"} {
		c, err := net.Dial("tcp", d.Addrs[name])
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err = io.ReadAll(c)
		var ne net.Error
		if err != nil && (!asNetErr(err, &ne) || ne.Timeout()) {
			t.Errorf("%s: a silent client was still connected after 20 s (%v)", name, err)
		}
		c.Close()
		// A client that speaks TLS is served.
		tc, err := tls.Dial("tcp", d.Addrs[name], testenv.ClientTLS())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if line := firstLine(tc); !strings.HasPrefix(line, "* OK") && !strings.HasPrefix(line, "220 ") {
			t.Errorf("%s greeted %q", name, line)
		}
		tc.Close()
	}
}

func asNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// TestPreAuthBounds: on IMAP, at most preauth_per_source unauthenticated
// connections from one address (the next gets BYE [UNAVAILABLE]), each
// closed at preauth_time unless it logs in; a logged-in connection
// leaves the count and stays.
func TestPreAuthBounds(t *testing.T) {
	dir := t.TempDir()
	conf := serveConfig(t, dir, "[limits]\npreauth_per_source = 3\npreauth_time = \"5s\"\n")
	d := testenv.Start(t, filepath.Join(dir, "serve.log"), "serve", "--config", conf)
	defer d.Stop()
	var idle []net.Conn
	for range 3 {
		c, err := dialFrom("127.0.0.2", d.Addrs["imap"])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if line := firstLine(c); !strings.HasPrefix(line, "* OK") {
			t.Fatalf("greeting %q", line)
		}
		idle = append(idle, c)
	}
	c, err := dialFrom("127.0.0.2", d.Addrs["imap"])
	if err != nil {
		t.Fatal(err)
	}
	if line := firstLine(c); !strings.HasPrefix(line, "* BYE [UNAVAILABLE]") {
		t.Errorf("the fourth unauthenticated connection got %q", line)
	}
	c.Close()
	// Another address is not affected.
	ca := login(t, d.Addrs["imaps"], "alice@sender.test", alicePass)
	// One of the three logs in: a place frees up, and it stays past
	// preauth_time while the other two are closed.
	br := bufio.NewReader(idle[0])
	fmt.Fprintf(idle[0], "a STARTTLS\r\n")
	if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "a OK") {
		t.Fatalf("STARTTLS: %q", line)
	}
	tc := tls.Client(idle[0], testenv.ClientTLS())
	tbr := bufio.NewReader(tc)
	fmt.Fprintf(tc, "b LOGIN alice@sender.test %s\r\n", alicePass)
	for {
		line, err := tbr.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "b ") {
			if !strings.HasPrefix(line, "b OK") {
				t.Fatalf("LOGIN: %q", line)
			}
			break
		}
	}
	c, err = dialFrom("127.0.0.2", d.Addrs["imap"])
	if err != nil {
		t.Fatal(err)
	}
	if line := firstLine(c); !strings.HasPrefix(line, "* OK") {
		t.Errorf("after one logged in, a new connection got %q", line)
	}
	c.Close()
	time.Sleep(6 * time.Second)
	for _, c := range idle[1:] {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("an unauthenticated connection outlived preauth_time: %v", err)
		}
	}
	fmt.Fprintf(tc, "c NOOP\r\n")
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := tbr.ReadString('\n'); err != nil || !strings.HasPrefix(line, "c OK") {
		t.Errorf("the logged-in connection after preauth_time: %q %v", line, err)
	}
	if err := ca.Noop().Wait(); err != nil {
		t.Errorf("the other address's session: %v", err)
	}
}

// TestWebSlowClients: a request whose body trickles in (a byte every
// second) is cut at web_read_time, and an idle keep-alive connection is
// closed at web_idle_time (the issue found both held over 60 s).
func TestWebSlowClients(t *testing.T) {
	dir := t.TempDir()
	conf := serveConfig(t, dir, "[limits]\nweb_read_time = \"2s\"\nweb_idle_time = \"2s\"\n")
	d := testenv.Start(t, filepath.Join(dir, "serve.log"), "serve", "--config", conf)
	defer d.Stop()
	// Slow body: 20 bytes announced, one a second.
	c, err := net.Dial("tcp", d.Addrs["web"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /me/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\n")
	start := time.Now()
	cut := false
	for i := 0; i < 20 && !cut; i++ {
		time.Sleep(time.Second)
		if _, err := c.Write([]byte("a")); err != nil {
			cut = true
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 512)); err == io.EOF {
			cut = true
		}
	}
	if !cut {
		t.Errorf("a body sent a byte a second was still being read after %v", time.Since(start))
	}
	// Idle keep-alive: one request, then silence.
	k, err := net.Dial("tcp", d.Addrs["web"])
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	fmt.Fprintf(k, "GET /log/checkpoint HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(k)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	k.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("an idle keep-alive connection was not closed by the server: %v", err)
	}
}
