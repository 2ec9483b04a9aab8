package imapserver

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealpost/sealpost"
)

const simpleMsg = "From: Sender <sender@remote.example>\r\n" +
	"To: Alice <alice@example.org>\r\n" +
	"Subject: Hello there\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 -0700\r\n" +
	"Message-ID: <m1@remote.example>\r\n" +
	"\r\n" +
	"Hello Alice,\r\nthis is a test.\r\n"

func TestLoginAndCapabilities(t *testing.T) {
	e := newEnv(t)

	// In the clear, before STARTTLS: LOGINDISABLED and LOGIN refused.
	r := e.rawPlain()
	u := r.ok("CAPABILITY")
	if !strings.Contains(u[0], "LOGINDISABLED") || !strings.Contains(u[0], "STARTTLS") || strings.Contains(u[0], "AUTH=PLAIN") {
		t.Errorf("plaintext capabilities: %q", u[0])
	}
	_, tagged := r.cmd("LOGIN %s %q", alice, password)
	if !strings.Contains(tagged, "NO") || !strings.Contains(tagged, "PRIVACYREQUIRED") {
		t.Errorf("LOGIN before TLS: %q", tagged)
	}
	_, tagged = r.cmd("AUTHENTICATE PLAIN")
	if !strings.Contains(tagged, "NO") {
		t.Errorf("AUTHENTICATE before TLS: %q", tagged)
	}

	// Wrong password over TLS.
	r = e.rawTLS()
	u = r.ok("CAPABILITY")
	for _, c := range []string{"IMAP4rev1", "IMAP4rev2", "AUTH=PLAIN", "LITERAL+", "SASL-IR"} {
		if !strings.Contains(u[0], c) {
			t.Errorf("TLS capabilities lack %s: %q", c, u[0])
		}
	}
	_, tagged = r.cmd("LOGIN %s %q", alice, "wrong password")
	if !strings.HasPrefix(tagged, "T2 NO [AUTHENTICATIONFAILED]") {
		t.Errorf("wrong password: %q", tagged)
	}
	_, tagged = r.cmd("LOGIN %s %q", "nobody@example.org", password)
	if !strings.HasPrefix(tagged, "T3 NO [AUTHENTICATIONFAILED]") {
		t.Errorf("unknown user: %q", tagged)
	}
	_, tagged = r.cmd("LOGIN %s %q", alice, password)
	if !strings.HasPrefix(tagged, "T4 OK") {
		t.Errorf("login: %q", tagged)
	}
	u = r.ok("CAPABILITY")
	for _, c := range []string{"IMAP4rev2", "NAMESPACE", "UIDPLUS", "ESEARCH", "SEARCHRES", "LIST-EXTENDED", "LIST-STATUS",
		"MOVE", "STATUS=SIZE", "BINARY", "CHILDREN", "SPECIAL-USE", "LITERAL+", "APPENDLIMIT=", "UNSELECT", "IDLE", "ENABLE"} {
		if !strings.Contains(u[0], c) {
			t.Errorf("authenticated capabilities lack %s: %q", c, u[0])
		}
	}

	// AUTHENTICATE PLAIN with an initial response.
	r = e.rawTLS()
	_, tagged = r.cmd("AUTHENTICATE PLAIN %s", "AGFsaWNlQGV4YW1wbGUub3JnAGNvcnJlY3QgaG9yc2UgYmF0dGVyeQ==")
	if !strings.Contains(tagged, "OK") {
		t.Errorf("AUTHENTICATE PLAIN: %q", tagged)
	}

	// STARTTLS, then login works.
	c, err := imapclient.DialStartTLS(e.plainAddr, &imapclient.Options{TLSConfig: e.clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice, password).Wait(); err != nil {
		t.Errorf("login after STARTTLS: %v", err)
	}
}

func TestTooManyLoginFailures(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	for i := 0; i < 3; i++ {
		if _, tagged := r.cmd("LOGIN %s %q", alice, "wrong password"); !strings.Contains(tagged, "NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("attempt %d: %q", i+1, tagged)
		}
	}
	// The connection is closed with a BYE.
	var lines []string
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		l, err := r.br.ReadString('\n')
		if err != nil {
			break
		}
		lines = append(lines, l)
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "* BYE") }) {
		t.Errorf("no BYE after 3 failures: %q", lines)
	}
}

func TestListSpecialUse(t *testing.T) {
	e := newEnv(t)
	c := e.client(alice, nil)
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]imap.MailboxAttr{"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts,
		"Trash": imap.MailboxAttrTrash, "Junk": imap.MailboxAttrJunk, "Archive": imap.MailboxAttrArchive, "INBOX": ""}
	got := map[string]bool{}
	for _, l := range list {
		got[l.Mailbox] = true
		if l.Delim != '/' {
			t.Errorf("%s: delimiter %q", l.Mailbox, l.Delim)
		}
		use, ok := want[l.Mailbox]
		if !ok {
			t.Errorf("unexpected mailbox %q", l.Mailbox)
			continue
		}
		if use != "" && !slices.Contains(l.Attrs, use) {
			t.Errorf("%s: attrs %v lack %s", l.Mailbox, l.Attrs, use)
		}
		if use == "" && slices.ContainsFunc(l.Attrs, func(a imap.MailboxAttr) bool {
			return a != imap.MailboxAttrHasNoChildren && a != imap.MailboxAttrHasChildren
		}) {
			t.Errorf("INBOX has attrs %v", l.Attrs)
		}
	}
	if len(got) != len(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if list[0].Mailbox != "INBOX" {
		t.Errorf("INBOX not first: %v", list[0].Mailbox)
	}

	// LIST (SPECIAL-USE) selects only special-use mailboxes.
	list, err = c.List("", "*", &imap.ListOptions{SelectSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Errorf("SPECIAL-USE selection: %d mailboxes", len(list))
	}

	// LIST "" "" gives the delimiter.
	r := e.rawTLS()
	r.login(alice)
	u := r.ok(`LIST "" ""`)
	if len(u) != 1 || u[0] != "* LIST (\\Noselect) \"/\" \"\"\r\n" {
		t.Errorf(`LIST "" "": %q`, u)
	}
	u = r.ok(`LIST "" "inbox"`)
	if len(u) != 1 || !strings.HasSuffix(u[0], " INBOX\r\n") {
		t.Errorf(`LIST "" inbox: %q`, u)
	}
	u = r.ok(`LSUB "" "*"`)
	if len(u) != 6 {
		t.Errorf(`LSUB: %q`, u)
	}
	u = r.ok(`LIST "" "%%" RETURN (STATUS (MESSAGES UNSEEN SIZE))`)
	if n := len(u); n != 12 {
		t.Errorf("LIST-STATUS: %d lines %q", n, u)
	}
}

func TestUnauthenticateAndClose(t *testing.T) {
	e := newEnv(t)
	e.deliver(simpleMsg)
	r := e.rawTLS()
	r.login(alice)
	r.ok("SELECT INBOX")
	r.ok("UNAUTHENTICATE")
	_, tagged := r.cmd("SELECT INBOX")
	if !strings.Contains(tagged, "BAD") {
		t.Errorf("SELECT after UNAUTHENTICATE: %q", tagged)
	}
	r.login(alice)
	r.ok("SELECT INBOX")

	// Closing connections ends their sessions: Close releases the
	// mailbox and forgets the keys, and the server counts none open.
	c := e.client(alice, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	r.conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.srv.mu.Lock()
		n := e.srv.active
		e.srv.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open after their connections closed", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPipelineRecoversPanics(t *testing.T) {
	s := &session{ctx: t.Context(), srv: &Server{opts: Options{Workers: 2}}, log: slog.New(slog.DiscardHandler)}
	targets := make([]target, 10)
	for i := range targets {
		targets[i].msg.ID = sealpost.MessageID(i)
	}
	var got []any
	err := s.pipeline(targets, func(_ context.Context, tg target) any {
		if tg.msg.ID == 3 {
			panic("bad message")
		}
		return int(tg.msg.ID)
	}, func(i int, v any) error {
		got = append(got, v)
		return nil
	})
	if err != nil || len(got) != 10 {
		t.Fatalf("pipeline: %v, %d results", err, len(got))
	}
	for i, v := range got {
		if i == 3 {
			if _, ok := v.(error); !ok {
				t.Errorf("result 3 is %v, want an error", v)
			}
		} else if v != i {
			t.Errorf("result %d is %v: out of order", i, v)
		}
	}
	// An emit error stops the pipeline and is returned.
	stop := errors.New("stop")
	err = s.pipeline(targets, func(_ context.Context, tg target) any { return 0 },
		func(i int, v any) error { return stop })
	if err != stop {
		t.Errorf("pipeline error %v, want %v", err, stop)
	}
}
