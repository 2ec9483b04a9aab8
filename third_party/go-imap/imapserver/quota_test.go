package imapserver_test

// Sealpost patch 3: QUOTA (RFC 9208) on the wire, and read back by
// imapclient's parser.

import (
	"bufio"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// quotaSession answers QUOTA for an imapmemserver user: one root "",
// STORAGE from the size of INBOX (KiB, rounded up) and MESSAGE from its
// count, limits 512 and 1000.
type quotaSession struct {
	imapserver.Session
	user  *imapmemserver.User
	asked *[]string // mailbox names GETQUOTAROOT was given
}

func (s *quotaSession) GetQuota(root string) (*imap.QuotaData, error) {
	if root != "" {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such quota root"}
	}
	st, err := s.user.Status("INBOX", &imap.StatusOptions{NumMessages: true, Size: true})
	if err != nil {
		return nil, err
	}
	return &imap.QuotaData{Root: "", Resources: map[imap.QuotaResourceType]imap.QuotaResourceData{
		imap.QuotaResourceMessage: {Usage: int64(*st.NumMessages), Limit: 1000},
		imap.QuotaResourceStorage: {Usage: (*st.Size + 1023) / 1024, Limit: 512},
	}}, nil
}

func (s *quotaSession) GetQuotaRoot(mailbox string) ([]imap.QuotaData, error) {
	*s.asked = append(*s.asked, mailbox)
	if _, err := s.user.Status(mailbox, &imap.StatusOptions{}); err != nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such mailbox"}
	}
	data, err := s.GetQuota("")
	if err != nil {
		return nil, err
	}
	return []imap.QuotaData{*data}, nil
}

// quotaSetSession also takes SETQUOTA, recording the limits.
type quotaSetSession struct {
	*quotaSession
	set map[imap.QuotaResourceType]int64
}

func (s *quotaSetSession) SetQuota(root string, limits map[imap.QuotaResourceType]int64) (*imap.QuotaData, error) {
	s.set = limits
	return s.GetQuota(root)
}

// quotaServer serves an imapmemserver user "u" (password "p", INBOX and
// the mailbox "日本語") through the session wrap makes, and returns
// its address.
func quotaServer(t *testing.T, wrap func(imapserver.Session, *imapmemserver.User) imapserver.Session) string {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("u", "p")
	user.Create("INBOX", nil)
	user.Create("日本語", nil)
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return wrap(mem.NewSession(), user), nil, nil
		},
		InsecureAuth: true,
		Caps: imap.CapSet{
			imap.CapIMAP4rev1:             {},
			imap.CapQuota:                 {},
			imap.Cap("QUOTA=RES-STORAGE"): {},
			imap.Cap("QUOTA=RES-MESSAGE"): {},
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// wire is a raw connection: send writes a command, and returns every
// line the server sent up to the tagged response.
type wire struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialWire(t *testing.T, addr string) *wire {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	w := &wire{t, conn, bufio.NewReader(conn)}
	w.line() // greeting
	return w
}

func (w *wire) line() string {
	w.t.Helper()
	l, err := w.r.ReadString('\n')
	if err != nil {
		w.t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (w *wire) send(tag, cmd string) []string {
	w.t.Helper()
	if _, err := w.conn.Write([]byte(tag + " " + cmd + "\r\n")); err != nil {
		w.t.Fatal(err)
	}
	var lines []string
	for {
		l := w.line()
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			return lines
		}
	}
}

func TestQuotaWire(t *testing.T) {
	var asked []string
	addr := quotaServer(t, func(s imapserver.Session, u *imapmemserver.User) imapserver.Session {
		return &quotaSession{Session: s, user: u, asked: &asked}
	})
	w := dialWire(t, addr)

	// Before login: the commands belong to the authenticated state.
	if got := w.send("a0", `GETQUOTAROOT INBOX`); !strings.HasPrefix(got[0], "a0 BAD") {
		t.Errorf("GETQUOTAROOT before login: %q", got)
	}
	if got := w.send("a1", "CAPABILITY"); strings.Contains(got[0], "QUOTA") {
		t.Errorf("QUOTA advertised before login: %q", got)
	}
	w.send("a2", "LOGIN u p")
	if got := w.send("a3", "CAPABILITY"); !strings.HasSuffix(got[0], " QUOTA QUOTA=RES-MESSAGE QUOTA=RES-STORAGE") {
		t.Errorf("CAPABILITY = %q, want QUOTA QUOTA=RES-MESSAGE QUOTA=RES-STORAGE at its end (no QUOTASET)", got[0])
	}
	msg := "Subject: x\r\n\r\n" + strings.Repeat("y", 2000) + "\r\n"
	w.conn.Write([]byte("a4 APPEND INBOX {" + strconv.Itoa(len(msg)) + "+}\r\n" + msg + "\r\n"))
	if l := w.line(); !strings.HasPrefix(l, "a4 OK") {
		t.Fatalf("APPEND: %q", l)
	}

	cases := []struct {
		cmd  string
		want []string // every line; the tagged one by prefix
	}{
		{`GETQUOTAROOT inbox`, []string{`* QUOTAROOT INBOX ""`, `* QUOTA "" (STORAGE 2 512 MESSAGE 1 1000)`, `t OK`}},
		{`GETQUOTA ""`, []string{`* QUOTA "" (STORAGE 2 512 MESSAGE 1 1000)`, `t OK`}},
		{`GETQUOTA {0+}` + "\r\n", []string{`* QUOTA "" (STORAGE 2 512 MESSAGE 1 1000)`, `t OK`}},
		// Mailbox names in modified UTF-7 (RFC 3501 5.1.3), decoded for
		// the session and encoded again in the response.
		{`GETQUOTAROOT "&ZeVnLIqe-"`, []string{`* QUOTAROOT "&ZeVnLIqe-" ""`, `* QUOTA "" (STORAGE 2 512 MESSAGE 1 1000)`, `t OK`}},
		{`GETQUOTAROOT Nowhere`, []string{`t NO [NONEXISTENT]`}},
		{`GETQUOTA other`, []string{`t NO [NONEXISTENT]`}},
		{`SETQUOTA "" (STORAGE 1024)`, []string{`t NO [NOPERM]`}},
		{`SETQUOTA "" ()`, []string{`t NO [NOPERM]`}},
		// Malformed arguments: BAD, before any refusal.
		{`SETQUOTA "" STORAGE 1024`, []string{`t BAD`}},
		{`SETQUOTA "" (STORAGE -1)`, []string{`t BAD`}},
		{`SETQUOTA "" (STORAGE)`, []string{`t BAD`}},
		{`GETQUOTA`, []string{`t BAD`}},
		{`GETQUOTA "" extra`, []string{`t BAD`}},
		{`GETQUOTAROOT`, []string{`t BAD`}},
		{`GETQUOTAROOT "&Jjo"`, []string{`t NO [CANNOT]`}},
	}
	for _, c := range cases {
		got := w.send("t", c.cmd)
		if len(got) != len(c.want) {
			t.Errorf("%s: got %q, want %q", c.cmd, got, c.want)
			continue
		}
		for i := range got {
			if i == len(got)-1 && strings.HasPrefix(got[i], c.want[i]) || got[i] == c.want[i] {
				continue
			}
			t.Errorf("%s: got %q, want %q", c.cmd, got, c.want)
			break
		}
	}
	if want := []string{"INBOX", "日本語", "Nowhere"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("GETQUOTAROOT asked the session for %q, want %q", asked, want)
	}
	if got := w.send("z", "NOOP"); !strings.HasPrefix(got[len(got)-1], "z OK") {
		t.Errorf("connection unhealthy after the errors: %q", got)
	}
}

// TestQuotaSet: SETQUOTA reaches a SessionQuotaSet, with resource names in
// upper case, and QUOTASET is advertised.
func TestQuotaSet(t *testing.T) {
	var sess *quotaSetSession
	addr := quotaServer(t, func(s imapserver.Session, u *imapmemserver.User) imapserver.Session {
		sess = &quotaSetSession{quotaSession: &quotaSession{Session: s, user: u, asked: new([]string)}}
		return sess
	})
	w := dialWire(t, addr)
	w.send("a", "LOGIN u p")
	if got := w.send("b", "CAPABILITY"); !strings.HasSuffix(got[0], " QUOTASET") {
		t.Errorf("CAPABILITY = %q, want QUOTASET", got[0])
	}
	got := w.send("c", `SETQUOTA "" (storage 100 MESSAGE 7)`)
	want := []string{`* QUOTA "" (STORAGE 0 512 MESSAGE 0 1000)`, "c OK SETQUOTA completed"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SETQUOTA: %q, want %q", got, want)
	}
	if want := map[imap.QuotaResourceType]int64{"STORAGE": 100, "MESSAGE": 7}; !reflect.DeepEqual(sess.set, want) {
		t.Errorf("SetQuota got %v, want %v", sess.set, want)
	}
}

// TestQuotaUnsupported: without SessionQuota, QUOTA is neither advertised
// nor answered, even when Options.Caps lists it.
func TestQuotaUnsupported(t *testing.T) {
	addr := quotaServer(t, func(s imapserver.Session, _ *imapmemserver.User) imapserver.Session { return s })
	w := dialWire(t, addr)
	w.send("a", "LOGIN u p")
	if got := w.send("b", "CAPABILITY"); strings.Contains(got[0], "QUOTA") {
		t.Errorf("CAPABILITY = %q, want no QUOTA", got[0])
	}
	for _, cmd := range []string{`GETQUOTA ""`, `GETQUOTAROOT INBOX`, `SETQUOTA "" ()`} {
		if got := w.send("c", cmd); len(got) != 1 || !strings.HasPrefix(got[0], "c BAD") {
			t.Errorf("%s: %q, want BAD", cmd, got)
		}
	}
}

// TestQuotaClient: imapclient's parser reads what the server writes.
func TestQuotaClient(t *testing.T) {
	addr := quotaServer(t, func(s imapserver.Session, u *imapmemserver.User) imapserver.Session {
		return &quotaSession{Session: s, user: u, asked: new([]string)}
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := imapclient.New(conn, nil)
	defer c.Close()
	if err := c.Login("u", "p").Wait(); err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := caps.QuotaResourceTypes(); len(got) != 2 || !caps.Has(imap.CapQuota) {
		t.Errorf("capabilities %v: QUOTA resources %v", caps, got)
	}
	want := imap.QuotaData{Root: "", Resources: map[imap.QuotaResourceType]imap.QuotaResourceData{
		imap.QuotaResourceStorage: {Usage: 0, Limit: 512},
		imap.QuotaResourceMessage: {Usage: 0, Limit: 1000},
	}}
	roots, err := c.GetQuotaRoot("日本語").Wait()
	if err != nil || len(roots) != 1 || !reflect.DeepEqual(roots[0], want) {
		t.Errorf("GetQuotaRoot = %+v, %v; want [%+v]", roots, err, want)
	}
	data, err := c.GetQuota("").Wait()
	if err != nil || data == nil || !reflect.DeepEqual(*data, want) {
		t.Errorf("GetQuota = %+v, %v; want %+v", data, err, want)
	}
	if err := c.SetQuota("", map[imap.QuotaResourceType]int64{imap.QuotaResourceStorage: 1}).Wait(); err == nil {
		t.Error("SetQuota succeeded; want NO")
	}
}
