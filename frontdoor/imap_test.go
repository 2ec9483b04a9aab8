package frontdoor

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/cluster"
	"github.com/sealpost/sealpost/postbox"
)

func testMessage(from, to, subject string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@demo.example>\r\n\r\n" +
		"This is " + subject + ".\r\n"
}

func appendMsg(t *testing.T, c *imapclient.Client, raw string) {
	t.Helper()
	cmd := c.Append("INBOX", int64(len(raw)), nil)
	if _, err := cmd.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
}

func fetchBodies(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4, 5, 6, 7, 8, 9), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.FindBodySection(section)))
	}
	return out
}

// TestIMAPRegions logs alice (ie) in over implicit TLS and bob (us) over
// STARTTLS, each through the front door; what each appends is readable
// back through it and stored only in the home region.
func TestIMAPRegions(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		user       string
		home, away sealpost.RegionID
		implicit   bool
	}{
		{alice, "ie", "us", true},
		{bob, "us", "ie", false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			opts := &imapclient.Options{TLSConfig: e.clientTLS}
			var c *imapclient.Client
			var err error
			if tc.implicit {
				c, err = imapclient.DialTLS(e.imaps, opts)
			} else {
				c, err = imapclient.DialStartTLS(e.imap, opts)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login(tc.user, password).Wait(); err != nil {
				t.Fatalf("LOGIN: %v", err)
			}
			// After login the capabilities are the region's.
			if caps := c.Caps(); !caps.Has(imap.CapIdle) || !caps.Has(imap.CapMove) {
				t.Errorf("capabilities after login: %v", caps)
			}
			sel, err := c.Select("INBOX", nil).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if sel.NumMessages != 0 {
				t.Errorf("INBOX holds %d messages", sel.NumMessages)
			}
			raw := testMessage(tc.user, tc.user, "note in "+string(tc.home))
			appendMsg(t, c, raw)
			if got := fetchBodies(t, c); len(got) != 1 || got[0] != raw {
				t.Errorf("FETCH through the front door: %q, want [%q]", got, raw)
			}
			if err := c.Logout().Wait(); err != nil {
				t.Errorf("LOGOUT: %v", err)
			}
			if n := e.count(tc.home, tc.user, sealpost.UseInbox); n != 1 {
				t.Errorf("%s's INBOX in %s holds %d messages, want 1", tc.user, tc.home, n)
			}
			if got := e.bodies(tc.home, tc.user); len(got) != 1 || got[0] != raw {
				t.Errorf("stored in %s: %q", tc.home, got)
			}
			if n := e.count(tc.away, tc.user, sealpost.UseInbox); n != -1 {
				t.Errorf("%s has an account in %s", tc.user, tc.away)
			}
		})
	}
}

// TestIMAPIdle checks that a session through the front door is woken by a
// delivery into the home region's postbox.
func TestIMAPIdle(t *testing.T) {
	e := newEnv(t)
	exists := make(chan uint32, 10)
	c, err := imapclient.DialTLS(e.imaps, &imapclient.Options{TLSConfig: e.clientTLS,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice, password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	raw := testMessage("carol@remote.example", alice, "wake up")
	go e.regions["ie"].svc.Deliver(context.Background(), postbox.Envelope{From: "carol@remote.example", Recipients: []string{alice}}, postbox.Bytes(raw))
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS %d, want 1", n)
		}
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatal("IDLE through the front door did not wake on delivery")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := fetchBodies(t, c); len(got) != 1 || got[0] != raw {
		t.Errorf("FETCH: %q", got)
	}
}

// TestIMAPClientAddress checks that the region sees the client's address,
// not the front door's, thanks to the PROXY header.
func TestIMAPClientAddress(t *testing.T) {
	e := newEnv(t)
	conn, err := tls.Dial("tcp", e.imaps, e.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := imapclient.New(conn, nil)
	defer c.Close()
	if err := c.Login(alice, password).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	log := e.regions["ie"].log.String()
	if want := "remote=" + conn.LocalAddr().String(); !strings.Contains(log, want) {
		t.Errorf("the region's log does not name the client (%s):\n%s", want, log)
	}
	if strings.Contains(log, password) {
		t.Error("the region's log holds the password")
	}
}

func plainIR(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

func TestIMAPAuthFailures(t *testing.T) {
	e := newEnv(t)
	r := e.dialIMAP(true)
	r.expect("NO [AUTHENTICATIONFAILED]", "LOGIN %s wrong", alice)
	r.expect("NO [AUTHENTICATIONFAILED]", "LOGIN nobody@demo.example %q", password)
	// A region that cannot be reached is not the user's fault.
	r.expect("NO [UNAVAILABLE]", "LOGIN %s %q", dave, password)
	r.expect("NO [UNAVAILABLE]", "AUTHENTICATE PLAIN %s", plainIR("", dave, password))
	// Still usable: the right password logs in, and the region answers.
	u := r.expect("OK [CAPABILITY ", "LOGIN %s %q", alice, password)
	if len(u) != 0 {
		t.Errorf("untagged lines before the login's OK: %q", u)
	}
	u = r.expect("OK", "SELECT INBOX")
	if !strings.Contains(strings.Join(u, ""), "EXISTS") {
		t.Errorf("SELECT: %q", u)
	}
	u = r.expect("OK", "LOGOUT")
	if len(u) == 0 || !strings.HasPrefix(u[0], "* BYE") {
		t.Errorf("LOGOUT: %q", u)
	}
	r.closed()

	// The third failure closes the connection.
	r = e.dialIMAP(true)
	r.expect("NO [AUTHENTICATIONFAILED]", "LOGIN %s wrong1", alice)
	r.expect("NO [AUTHENTICATIONFAILED]", "AUTHENTICATE PLAIN %s", plainIR("", bob, "wrong2"))
	r.expect("NO [AUTHENTICATIONFAILED]", "LOGIN nobody@demo.example wrong3")
	if l := r.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("after the third failure: %q", l)
	}
	r.closed()

	// A different authorization identity is the region's to refuse.
	r = e.dialIMAP(true)
	r.expect("NO", "AUTHENTICATE PLAIN %s", plainIR(bob, alice, password))
	r.expect("OK", "AUTHENTICATE PLAIN %s", plainIR(alice, alice, password))
}

func TestIMAPPreauth(t *testing.T) {
	e := newEnv(t)
	r := e.dialIMAP(false)
	u := r.expect("OK", "CAPABILITY")
	if len(u) != 1 || !strings.Contains(u[0], " STARTTLS") || !strings.Contains(u[0], " LOGINDISABLED") || strings.Contains(u[0], "AUTH=") {
		t.Errorf("CAPABILITY before TLS: %q", u)
	}
	r.expect("OK", "NOOP")
	if u := r.expect("OK", `ID ("name" "test" "version" {3+}`+"\r\n1.0)"); len(u) != 1 || u[0] != "* ID NIL\r\n" {
		t.Errorf("ID: %q", u)
	}
	r.expect("OK", "ID NIL")
	// No credentials before TLS (RFC 9051 6.2.3, RFC 8314).
	r.expect("NO [PRIVACYREQUIRED]", "LOGIN %s %q", alice, password)
	r.expect("NO [PRIVACYREQUIRED]", "AUTHENTICATE PLAIN %s", plainIR("", alice, password))
	r.expect("NO [PRIVACYREQUIRED]", "AUTHENTICATE PLAIN")
	for _, bad := range []string{"SELECT INBOX", "FOO", "LOGIN", "LOGIN a", "LOGIN a b c", `LOGIN "a b`, `LOGIN "a\x" b`,
		"NOOP x", "CAPABILITY x", "AUTHENTICATE", "ID", "ID (", `ID ("a")`, "STARTTLS now", "LOGOUT please"} {
		r.expect("BAD", "%s", bad)
		r.expect("OK", "NOOP") // ten BADs in a row would end the connection
	}
	// Lines without a tag get an untagged BAD.
	for _, bad := range []string{"", " NOOP", "+ NOOP", "(x) NOOP"} {
		r.send(bad + "\r\n")
		if l := r.line(); !strings.HasPrefix(l, "* BAD") {
			t.Errorf("%q: %q", bad, l)
		}
		r.expect("OK", "NOOP")
	}
	r.expect("OK", "NOOP")

	r.startTLS(e.clientTLS)
	u = r.expect("OK", "CAPABILITY")
	if len(u) != 1 || !strings.Contains(u[0], " AUTH=PLAIN") || strings.Contains(u[0], "STARTTLS") || strings.Contains(u[0], "LOGINDISABLED") {
		t.Errorf("CAPABILITY after STARTTLS: %q", u)
	}
	r.expect("BAD", "STARTTLS")

	// LOGIN with a synchronizing literal for the user name and a
	// non-synchronizing one (LITERAL+) for the password.
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	r.send(fmt.Sprintf("%s LOGIN {%d}\r\n", tag, len(alice)))
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("literal: %q", l)
	}
	r.send(fmt.Sprintf("%s {%d+}\r\n%s\r\n", alice, len("wrong"), "wrong"))
	if _, status := r.until(tag); !strings.HasPrefix(status, "NO [AUTHENTICATIONFAILED]") {
		t.Errorf("LOGIN with literals, wrong password: %q", status)
	}
	r.n++
	tag = fmt.Sprintf("t%d", r.n)
	r.send(fmt.Sprintf("%s LOGIN %s {%d+}\r\n%s\r\n", tag, alice, len(password), password))
	if _, status := r.until(tag); !strings.HasPrefix(status, "OK") {
		t.Fatalf("LOGIN with a literal: %q", status)
	}
	r.expect("OK", "SELECT INBOX")
}

func TestIMAPAuthenticate(t *testing.T) {
	e := newEnv(t)
	r := e.dialIMAP(true)
	r.expect("NO", "AUTHENTICATE CRAM-MD5")
	r.expect("BAD", "AUTHENTICATE PLAIN !!!")
	r.expect("BAD", "AUTHENTICATE PLAIN %s", base64.StdEncoding.EncodeToString([]byte("no nuls")))
	r.expect("BAD", "AUTHENTICATE PLAIN =")

	// Without an initial response: "+ ", then the response, or "*".
	cont := func(resp string) string {
		t.Helper()
		r.n++
		tag := fmt.Sprintf("t%d", r.n)
		r.send(tag + " AUTHENTICATE PLAIN\r\n")
		if l := r.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("AUTHENTICATE: %q", l)
		}
		r.send(resp + "\r\n")
		_, status := r.until(tag)
		return status
	}
	if s := cont("*"); !strings.HasPrefix(s, "BAD") {
		t.Errorf("cancelled AUTHENTICATE: %q", s)
	}
	if s := cont(plainIR("", alice, "wrong")); !strings.HasPrefix(s, "NO [AUTHENTICATIONFAILED]") {
		t.Errorf("AUTHENTICATE, wrong password: %q", s)
	}
	if s := cont(plainIR("", alice, password)); !strings.HasPrefix(s, "OK") {
		t.Fatalf("AUTHENTICATE: %q", s)
	}
	r.expect("OK", "SELECT INBOX")
}

func TestIMAPLimits(t *testing.T) {
	e := newEnv(t)
	r := e.dialIMAP(true)
	// A synchronizing literal over the limit is refused before it is sent.
	r.expect("BAD", "LOGIN {5000}")
	// A BAD command's non-synchronizing literal is skipped, not run.
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	r.send(tag + " FOO {12+}\r\nt99 LOGOUT\r\n bar\r\n")
	if _, s := r.until(tag); !strings.HasPrefix(s, "BAD") {
		t.Errorf("FOO with a literal: %q", s)
	}
	r.expect("OK", "NOOP")
	// A long line ends the connection.
	r.send("t LOGIN " + strings.Repeat("x", 9000) + " y\r\n")
	if l := r.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("after a long line: %q", l)
	}
	r.closed()

	// So does a non-synchronizing literal over the limit.
	r = e.dialIMAP(true)
	r.send("t1 LOGIN {5000+}\r\n")
	if l := r.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("after a large literal: %q", l)
	}
	r.closed()

	// And ten BADs in a row.
	r = e.dialIMAP(true)
	for range 9 {
		r.expect("BAD", "FOO")
	}
	r.send("t FOO\r\n")
	if l := r.line(); !strings.HasPrefix(l, "t BAD") {
		t.Errorf("tenth BAD: %q", l)
	}
	if l := r.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("after ten BADs: %q", l)
	}
	r.closed()
}

func TestIMAPPreauthTimeout(t *testing.T) {
	e := newEnv(t)
	e.startFrontDoor(Options{Dial: e.dialer("frontdoor"), CommandTimeout: 50 * time.Millisecond})
	r := e.dialIMAP(true)
	if l := r.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("idle client: %q", l)
	}
	r.closed()
}

// TestIMAPLinkRefused checks that the regions accept only a front door
// with a certificate from the deployment's CA.
func TestIMAPLinkRefused(t *testing.T) {
	e := newEnv(t)
	otherCA := filepath.Join(t.TempDir(), "other")
	if err := cluster.NewCA(otherCA); err != nil {
		t.Fatal(err)
	}
	crt, key, err := cluster.IssueNode(otherCA, "frontdoor")
	if err != nil {
		t.Fatal(err)
	}
	ca, _, _ := e.nodeFiles("frontdoor")
	for _, tc := range []struct {
		name string
		cert []tls.Certificate
	}{
		{"no client certificate", nil},
		{"certificate from another CA", func() []tls.Certificate {
			pair, err := tls.LoadX509KeyPair(crt, key)
			if err != nil {
				t.Fatal(err)
			}
			return []tls.Certificate{pair}
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.startFrontDoor(Options{Dial: func(ctx context.Context, id sealpost.RegionID, proto string) (net.Conn, error) {
				cfg, err := cluster.LoadClientTLS(ca, crt, key, "region-"+string(id))
				if err != nil {
					return nil, err
				}
				cfg.Certificates = tc.cert
				cfg.NextProtos = []string{proto}
				d := &tls.Dialer{Config: cfg}
				return d.DialContext(ctx, "tcp", e.regions[id].addr)
			}})
			r := e.dialIMAP(true)
			r.expect("NO [UNAVAILABLE]", "LOGIN %s %q", alice, password)
		})
	}
}

func TestMaxConnections(t *testing.T) {
	e := newEnv(t)
	e.startFrontDoor(Options{Dial: e.dialer("frontdoor"), MaxConnections: 1})
	r := e.dialIMAP(false) // holds the one slot
	c, err := net.Dial("tcp", e.sub)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard
	line, _ := bufioLine(c)
	if !strings.HasPrefix(line, "421 4.7.0") {
		t.Errorf("connection over the limit: %q", line)
	}
	// Ending the first frees its slot, before the client sees the end.
	r.expect("OK", "LOGOUT")
	r.closed()
	r2, err := net.Dial("tcp", e.imap)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r2.SetDeadline(time.Now().Add(30 * time.Second))
	if line, _ := bufioLine(r2); !strings.HasPrefix(line, "* OK") {
		t.Errorf("after the first connection ended: %q", line)
	}
}

// TestCloseEndsSplicedSessions checks that closing the front door ends the
// sessions it carries.
func TestCloseEndsSplicedSessions(t *testing.T) {
	e := newEnv(t)
	r := e.dialIMAP(true)
	r.expect("OK", "LOGIN %s %q", alice, password)
	r.expect("OK", "SELECT INBOX")
	r.send("t IDLE\r\n")
	if l := r.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	if err := e.fd.Close(); err != nil {
		t.Fatal(err)
	}
	r.closed()
}

func bufioLine(c net.Conn) (string, error) {
	return bufio.NewReader(c).ReadString('\n')
}
