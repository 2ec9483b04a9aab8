package managesieve

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// greeting is the capability list before TLS with STARTTLS configured
// (RFC 5804 1.7): no SASL mechanism until TLS.
var greeting = []string{
	`"IMPLEMENTATION" "Sealpost"`,
	`"VERSION" "1.0"`,
	`"SIEVE" "fileinto envelope vacation"`,
	`"STARTTLS"`,
	`"SASL" ""`,
	`"MAXSCRIPTSIZE" "4096"`,
	`"UNAUTHENTICATE"`,
	`"NOTIFY" "mailto"`,
	`"MAXREDIRECTS" "4"`,
	`OK "Sealpost ManageSieve ready"`,
}

// TestWire walks a client through the whole protocol over STARTTLS, every
// reply compared byte for byte.
func TestWire(t *testing.T) {
	ts := start(t, Options{TLS: tlsConfig(), MaxScriptSize: 4096, MaxScripts: 3,
		NotifyMethods: []string{"mailto"}, MaxRedirects: 4})
	c := ts.dial(t)
	c.expect(greeting...)
	c.cmd("CAPABILITY", append(greeting[:len(greeting)-1:len(greeting)-1], "OK")...)

	caps := c.starttls()
	want := []string{
		`"IMPLEMENTATION" "Sealpost"`,
		`"VERSION" "1.0"`,
		`"SIEVE" "fileinto envelope vacation"`,
		`"SASL" "PLAIN"`,
		`"MAXSCRIPTSIZE" "4096"`,
		`"UNAUTHENTICATE"`,
		`"NOTIFY" "mailto"`,
		`"MAXREDIRECTS" "4"`,
	}
	if strings.Join(caps, "\n") != strings.Join(want, "\n") {
		t.Fatalf("capabilities after STARTTLS:\n%s\nwant\n%s", strings.Join(caps, "\n"), strings.Join(want, "\n"))
	}
	c.cmd("STARTTLS", `NO "TLS already active"`)
	c.cmd("LISTSCRIPTS", `NO "Not authenticated"`)

	// AUTHENTICATE without an initial response: the empty challenge, then
	// the response as a string (RFC 5804 2.1).
	c.cmd(`AUTHENTICATE "PLAIN"`, `""`)
	c.cmd(`"`+plain(alice, alice, alicePass)+`"`, `OK "Authenticated"`)
	if cl := ts.be.lastClient(); cl.Service != "managesieve" || !cl.Source.IsLoopback() {
		t.Errorf("login's client = %+v, want managesieve from loopback", cl)
	}
	c.cmd(`AUTHENTICATE "PLAIN" "`+plain("", alice, alicePass)+`"`, `NO "Already authenticated"`)

	c.cmd("LISTSCRIPTS", "OK")
	script := "require \"fileinto\";\r\nif header :contains \"subject\" \"x\" { fileinto \"X\"; }\r\n"
	c.cmd(fmt.Sprintf("PUTSCRIPT \"main\" {%d+}\r\n%s", len(script), script), `OK "Script stored"`)
	c.cmd(fmt.Sprintf("PUTSCRIPT \"main\" {%d+}\r\n%s", len(script), script), `OK "Script updated"`)
	// The synchronizing form: the server says "+" before the literal.
	c.cmd(fmt.Sprintf(`PUTSCRIPT "two" {%d}`, len("keep;")), "+")
	c.cmd("keep;", `OK "Script stored"`)
	c.cmd(`PUTSCRIPT "quoted" "keep;"`, `OK "Script stored"`)
	c.cmd(`PUTSCRIPT "four" "keep;"`, `NO (QUOTA/MAXSCRIPTS) "Too many scripts, or no space left for scripts"`)
	c.cmd(`HAVESPACE "four" 10`, `NO (QUOTA/MAXSCRIPTS) "Too many scripts, or no space left for scripts"`)
	c.cmd(`HAVESPACE "main" 10`, `OK`)
	c.cmd(`HAVESPACE "main" 4097`, `NO (QUOTA/MAXSIZE) "Script size 4097 exceeds maximum allowed size 4096"`)
	c.cmd(`DELETESCRIPT "quoted"`, `OK "Script deleted"`)
	c.cmd(`HAVESPACE "four" 4000`, `OK`)

	// A compile error is shown with its line:col; nothing is stored.
	bad := "keep;\r\n  bogus;\r\n"
	c.cmd(fmt.Sprintf("PUTSCRIPT \"bad\" {%d+}\r\n%s", len(bad), bad), `NO "line 2:3: unknown command \"bogus\""`)
	c.cmd(fmt.Sprintf("CHECKSCRIPT {%d+}\r\n%s", len(bad), bad), `NO "line 2:3: unknown command \"bogus\""`)
	c.cmd(`CHECKSCRIPT "keep;"`, `OK`)
	// An internal failure is not shown.
	c.cmd(`CHECKSCRIPT "internal-failure"`, `NO "Internal error"`)

	c.cmd("LISTSCRIPTS", `"main"`, `"two"`, "OK")
	c.cmd(`SETACTIVE "main"`, "OK")
	c.cmd(`SETACTIVE "nope"`, `NO (NONEXISTENT) "No such script"`)
	c.cmd("LISTSCRIPTS", `"main" ACTIVE`, `"two"`, "OK")
	c.cmd(`GETSCRIPT "main"`, fmt.Sprintf("{%d}", len(script)),
		`require "fileinto";`, `if header :contains "subject" "x" { fileinto "X"; }`, "", "OK")
	c.cmd(`GETSCRIPT "nope"`, `NO (NONEXISTENT) "No such script"`)
	// RFC 5804 2.10: the active script cannot be deleted.
	c.cmd(`DELETESCRIPT "main"`, `NO (ACTIVE) "The active script cannot be deleted"`)
	c.cmd(`DELETESCRIPT "nope"`, `NO (NONEXISTENT) "No such script"`)
	c.cmd(`RENAMESCRIPT "main" "two"`, `NO (ALREADYEXISTS) "A script with that name already exists"`)
	c.cmd(`RENAMESCRIPT "nope" "three"`, `NO (NONEXISTENT) "No such script"`)
	c.cmd(`RENAMESCRIPT "main" "Main script"`, "OK")
	c.cmd("LISTSCRIPTS", `"Main script" ACTIVE`, `"two"`, "OK")
	c.cmd(`SETACTIVE ""`, "OK")
	c.cmd(`DELETESCRIPT "Main script"`, `OK "Script deleted"`)
	c.cmd("LISTSCRIPTS", `"two"`, "OK")
	// A name may also come as a literal (RFC 5804 4).
	c.cmd("GETSCRIPT {3+}\r\ntwo", "{5}", "keep;", "OK")

	c.cmd("NOOP", "OK")
	c.cmd(`NOOP "tag"`, `OK (TAG "tag") "Done"`)

	// UNAUTHENTICATE (RFC 5804 2.14.1) closes the account; TLS stays.
	c.cmd("UNAUTHENTICATE", "OK")
	if o, cl := ts.be.counts(); o != 1 || cl != 1 {
		t.Errorf("after UNAUTHENTICATE %d accounts opened, %d closed; want 1, 1", o, cl)
	}
	c.cmd("LISTSCRIPTS", `NO "Not authenticated"`)
	c.login()
	c.cmd("LISTSCRIPTS", `"two"`, "OK")
	c.cmd("LOGOUT", `OK "Goodbye"`)
	c.eof()
}

// TestPlaintext serves AUTHENTICATE without TLS when allowed (the loopback
// demo): mechanisms are then listed before TLS, and no STARTTLS.
func TestPlaintext(t *testing.T) {
	ts := start(t, Options{AllowPlaintext: true})
	c := ts.dial(t)
	c.expect(
		`"IMPLEMENTATION" "Sealpost"`,
		`"VERSION" "1.0"`,
		`"SIEVE" "fileinto envelope vacation"`,
		`"SASL" "PLAIN"`,
		`"MAXSCRIPTSIZE" "1048576"`,
		`"UNAUTHENTICATE"`,
		`OK "Sealpost ManageSieve ready"`)
	c.cmd("STARTTLS", `NO "STARTTLS not supported"`)
	c.login()
	c.cmd("LISTSCRIPTS", "OK")
}

// TestLoginFailures: every failed login gets the same reply, whether the
// account exists or not, or failed on our side; a throttled one is told
// to come back later; the third wrong password closes the connection.
func TestLoginFailures(t *testing.T) {
	ts := start(t, Options{AllowPlaintext: true})
	c := ts.dial(t)
	c.skipGreeting()
	auth := func(authzid, user, pass string, want ...string) {
		t.Helper()
		c.cmd(fmt.Sprintf(`AUTHENTICATE "PLAIN" "%s"`, plain(authzid, user, pass)), want...)
	}
	auth("", broken, "x", `NO "Authentication failed"`)
	auth("", throttled, "x", `NO (TRYLATER) "Authentication failed, try again later"`)
	auth("", "nobody@example.test", alicePass, `NO "Authentication failed"`)
	auth("", alice, "wrong", `NO "Authentication failed"`)
	// Acting as someone else is refused before any password check.
	auth("bob@example.test", alice, alicePass, `NO "Acting as another user is not allowed"`)
	auth("", alice, "", `NO "Authentication failed"`)
	c.cmd(`AUTHENTICATE "PLAIN" "not base64!"`, `NO "Invalid authentication data"`)
	c.cmd(`AUTHENTICATE "LOGIN"`, `NO "Unsupported authentication mechanism"`)
	auth("", alice, "wrong again", `NO "Authentication failed"`)
	c.eof()
	if strings.Contains(ts.log.String(), "secret detail") == false {
		t.Errorf("the internal login failure is not in the log:\n%s", ts.log)
	}
	if strings.Contains(ts.log.String(), alice) {
		t.Errorf("the user's address reached the log:\n%s", ts.log)
	}

	// The authorization identity may be the user's own.
	c = ts.dial(t)
	c.skipGreeting()
	c.cmd(fmt.Sprintf(`AUTHENTICATE "PLAIN" "%s"`, plain(alice, alice, alicePass)), `OK "Authenticated"`)
}

// TestAuthenticateNeedsTLS: with TLS configured and plaintext not
// allowed, AUTHENTICATE before STARTTLS is refused without a password
// check, and works after it.
func TestAuthenticateNeedsTLS(t *testing.T) {
	ts := start(t, Options{TLS: tlsConfig()})
	c := ts.dial(t)
	c.skipGreeting()
	c.cmd(fmt.Sprintf(`AUTHENTICATE "PLAIN" "%s"`, plain("", alice, alicePass)),
		`NO "Authentication not permitted on insecure connection. Use STARTTLS first."`)
	if ts.be.lastClient() != (sealpost.Client{}) {
		t.Fatalf("the backend saw a login before TLS")
	}
	c.starttls()
	c.login()
	c.cmd("LISTSCRIPTS", "OK")
}

// TestCloseEndsSessions: Close says BYE to every connection, logged in or
// not, closes the accounts, and Serve returns.
func TestCloseEndsSessions(t *testing.T) {
	ts := start(t, Options{AllowPlaintext: true})
	a, b := ts.dial(t), ts.dial(t)
	a.skipGreeting()
	b.skipGreeting()
	a.login()
	done := make(chan error)
	go func() { done <- ts.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, c := range []*client{a, b} {
		c.expect(`BYE (TRYLATER) "Server shutting down, please reconnect"`)
		c.eof()
	}
	if o, cl := ts.be.counts(); o != 1 || cl != 1 {
		t.Errorf("%d accounts opened, %d closed; want 1, 1", o, cl)
	}
}

// TestOverQuota maps the Account's OverQuota to QUOTA/MAXSCRIPTS, and its
// TooLarge to QUOTA/MAXSIZE.
func TestOverQuota(t *testing.T) {
	ts := start(t, Options{AllowPlaintext: true})
	c := ts.dial(t)
	c.skipGreeting()
	c.login()
	big := strings.Repeat("#\r\n", 4000)
	c.cmd(fmt.Sprintf("PUTSCRIPT \"big\" {%d+}\r\n%s", len(big), big), `NO (QUOTA/MAXSCRIPTS) "Too many scripts, or no space left for scripts"`)
	c.cmd(`HAVESPACE "big" 12000`, `NO (QUOTA/MAXSIZE) "Script too large"`)
	c.cmd("LISTSCRIPTS", "OK")
}
