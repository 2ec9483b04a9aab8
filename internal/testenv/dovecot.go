package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Dovecot is a private Dovecot IMAP server from Debian's dovecot-imapd: its
// own configuration, state and one user's Maildir in a folder of its own,
// listening on loopback only (IMAP with STARTTLS or in the clear, and
// IMAPS), touching nothing of the system's Dovecot. It stops with the test.
type Dovecot struct {
	Dir      string // the work folder
	Addr     string // IMAP (STARTTLS offered, plain LOGIN allowed)
	TLSAddr  string // IMAPS
	CertFile string // the server's self-signed certificate (PEM), to trust
	User     string
	Password string
	PassFile string // Password in a file
	Maildir  string // the user's Maildir++ root
	conf     string
}

// MailSpec is one message of a generated mailbox: its folder (Dovecot's
// name, "." as the hierarchy delimiter), its text with CRLF line ends as
// IMAP serves it, its flags and keywords, and its internal date (to the
// second).
type MailSpec struct {
	Folder string
	Body   []byte
	Flags  []string
	Date   time.Time
	Marker string // a random token in its subject and body, for canary checks
}

// DovecotFolders are the generated mailbox's folders and their special
// use in the server's configuration ("" none): the special ones, one
// known by name only ("Sent Items"), nested folders, and a \All folder
// (Gmail's All Mail) holding copies of other folders' mail.
var DovecotFolders = []struct{ Name, Use string }{
	{"INBOX", ""}, {"Sent", `\Sent`}, {"Drafts", `\Drafts`}, {"Trash", `\Trash`},
	{"Junk", `\Junk`}, {"Archive", `\Archive`}, {"Sent Items", ""}, {"Work", ""},
	{"Work.Projects", ""}, {"All Mail", `\All`},
}

// DovecotKeywords are the keywords generated messages carry (Dovecot's
// maildir keeps them as letters a–z named in dovecot-keywords).
var DovecotKeywords = []string{"$Forwarded", "$Label1", "Work", "$MDNSent"}

// GenerateMail makes n messages of about size bytes spread over
// DovecotFolders (All Mail getting one in twenty), with flags, keywords
// and dates in the past.
func GenerateMail(n, size int) []MailSpec {
	flags := []string{`\Seen`, `\Answered`, `\Flagged`, `\Draft`, `\Deleted`}
	base := time.Date(2019, 3, 1, 8, 0, 0, 0, time.UTC)
	var out []MailSpec
	for i := range n {
		var b [8]byte
		rand.Read(b[:])
		marker := "CANARY" + hex.EncodeToString(b[:])
		folder := DovecotFolders[i%(len(DovecotFolders)-1)].Name
		if i%20 == 19 {
			folder = "All Mail"
		}
		var fl []string
		for j, f := range flags {
			if (i>>j)&1 == 1 && (j < 3 || i%7 == 0) {
				fl = append(fl, f)
			}
		}
		for j, k := range DovecotKeywords {
			if (i/3+j)%4 == 0 {
				fl = append(fl, k)
			}
		}
		date := base.Add(time.Duration(i) * 37 * time.Minute)
		var body strings.Builder
		fmt.Fprintf(&body, "From: Sender %d <sender%d@example.org>\r\nTo: owner@example.net\r\nSubject: message %d %s\r\nDate: %s\r\nMessage-ID: <%d.%s@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
			i, i%17, i, marker, date.Format(time.RFC1123Z), i, marker)
		line := "The body of message " + strconv.Itoa(i) + " carries " + marker + " and some text to fill it.\r\n"
		for body.Len() < size {
			body.WriteString(line)
		}
		out = append(out, MailSpec{Folder: folder, Body: []byte(body.String()), Flags: fl, Date: date, Marker: marker})
	}
	return out
}

// WriteMaildir writes msgs into the Maildir++ tree at root as Dovecot
// keeps it: files with LF line ends in cur/ (new/ when unseen and
// flagless), flags and keyword letters in the ":2," suffix, each folder's
// dovecot-keywords, the internal date as the file's modification time.
// seq numbers the files' unique names from where an earlier call stopped.
func WriteMaildir(t testing.TB, root string, msgs []MailSpec, seq int) {
	t.Helper()
	for _, f := range DovecotFolders {
		dir := maildirOf(root, f.Name)
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		var kw strings.Builder
		for i, k := range DovecotKeywords {
			fmt.Fprintf(&kw, "%d %s\n", i, k)
		}
		os.WriteFile(filepath.Join(dir, "dovecot-keywords"), []byte(kw.String()), 0o644)
	}
	letters := map[string]byte{`\Draft`: 'D', `\Flagged`: 'F', `\Answered`: 'R', `\Seen`: 'S', `\Deleted`: 'T'}
	for i, m := range msgs {
		var info []byte
		for _, f := range m.Flags {
			if c, ok := letters[f]; ok {
				info = append(info, c)
			} else if k := slices.Index(DovecotKeywords, f); k >= 0 {
				info = append(info, byte('a'+k))
			}
		}
		slices.Sort(info)
		unique := fmt.Sprintf("%d.M%dP1.testhost", m.Date.Unix(), seq+i)
		sub, name := "cur", unique+":2,"+string(info)
		if len(info) == 0 {
			sub, name = "new", unique
		}
		p := filepath.Join(maildirOf(root, m.Folder), sub, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(m.Body), "\r\n", "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, m.Date, m.Date)
	}
}

func maildirOf(root, folder string) string {
	if folder == "INBOX" {
		return root
	}
	return filepath.Join(root, "."+folder)
}

// DovecotOptions adjust StartDovecotWith.
type DovecotOptions struct {
	// OAuth2Mechanisms, with OAuth2Introspect, lets the user log in
	// with an OAuth2 access token by these SASL mechanisms ("oauthbearer",
	// "xoauth2"), which Dovecot checks by POSTing it to the RFC 7662
	// introspection URL (its oauth2 passdb); the password still works
	// with PLAIN and LOGIN.
	OAuth2Mechanisms []string
	OAuth2Introspect string
}

// StartDovecot starts a private Dovecot serving msgs (WriteMaildir) to one
// user, or skips the test (fails under SEALPOST_REQUIRE_TOOLS) without
// dovecot. Run as root, its mail processes run as nobody; otherwise as
// the current user.
func StartDovecot(t testing.TB, msgs []MailSpec) *Dovecot {
	t.Helper()
	return StartDovecotWith(t, msgs, DovecotOptions{})
}

// StartDovecotWith is StartDovecot with options.
func StartDovecotWith(t testing.TB, msgs []MailSpec, o DovecotOptions) *Dovecot {
	t.Helper()
	bin := NeedTool(t, "dovecot", "dovecot-imapd")
	// Not t.TempDir: its parents are private to us, and Dovecot's mail
	// processes (nobody) must reach the Maildir.
	dir, err := os.MkdirTemp("", "sealpost-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	d := &Dovecot{Dir: dir, User: "owner@example.net", Password: "source-pass-" + strconv.Itoa(os.Getpid()),
		Maildir: filepath.Join(dir, "home", "Maildir"), conf: filepath.Join(dir, "dovecot.conf")}
	t.Cleanup(func() { d.stop(); os.RemoveAll(dir) })
	for _, sub := range []string{"run", "state", "home"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	WriteMaildir(t, d.Maildir, msgs, 0)
	certPEM, keyPEM := TestCertPEM()
	d.CertFile = filepath.Join(dir, "cert.pem")
	os.WriteFile(d.CertFile, certPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	d.PassFile = filepath.Join(dir, "password")
	os.WriteFile(d.PassFile, []byte(d.Password+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "users"), []byte(d.User+":{PLAIN}"+d.Password+"\n"), 0o644)

	mailUser, mailGroup, extra := "nobody", "nogroup", ""
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, _ := user.LookupGroupId(u.Gid)
		mailUser, mailGroup = u.Username, g.Name
		extra = fmt.Sprintf("default_internal_user = %s\ndefault_internal_group = %s\ndefault_login_user = %s\n", mailUser, mailGroup, mailUser)
	} else if err := exec.Command("chown", "-R", "nobody:nogroup", filepath.Join(dir, "home")).Run(); err != nil {
		t.Fatal(err)
	}
	imapPort, err1 := freePort()
	imapsPort, err2 := freePort()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	d.Addr = "127.0.0.1:" + strconv.Itoa(imapPort)
	d.TLSAddr = "127.0.0.1:" + strconv.Itoa(imapsPort)
	mechs, oauthDB := "plain login", ""
	if len(o.OAuth2Mechanisms) > 0 {
		mechs += " " + strings.Join(o.OAuth2Mechanisms, " ")
		ext := filepath.Join(dir, "oauth2.conf.ext")
		os.WriteFile(ext, []byte("introspection_mode = post\nintrospection_url = "+o.OAuth2Introspect+
			"\nforce_introspection = yes\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n"), 0o644)
		oauthDB = fmt.Sprintf("passdb {\n  driver = oauth2\n  mechanisms = %s\n  args = %s\n}\n", strings.Join(o.OAuth2Mechanisms, " "), ext)
	}
	var boxes strings.Builder
	for _, f := range DovecotFolders {
		if f.Use != "" {
			fmt.Fprintf(&boxes, "  mailbox %q {\n    special_use = %s\n  }\n", f.Name, f.Use)
		}
	}
	conf := fmt.Sprintf(`instance_name = sealpost-test-%[1]d
base_dir = %[2]s/run
state_dir = %[2]s/state
log_path = %[2]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[2]s/cert.pem
ssl_key = <%[2]s/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = %[9]s
%[10]spassdb {
  driver = passwd-file
  args = scheme=PLAIN %[2]s/users
}
userdb {
  driver = static
  args = uid=%[3]s gid=%[4]s home=%[2]s/home
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = .
%[5]s}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[6]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[7]d
    ssl = yes
  }
}
%[8]s`, os.Getpid(), dir, mailUser, mailGroup, boxes.String(), imapPort, imapsPort, extra, mechs, oauthDB)
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not CombinedOutput: the daemon's processes keep its output open.
	start := exec.Command(bin, "-c", d.conf)
	startLog, err := os.Create(filepath.Join(dir, "start.log"))
	if err != nil {
		t.Fatal(err)
	}
	start.Stdout, start.Stderr = startLog, startLog
	err = start.Run()
	startLog.Close()
	if err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "start.log"))
		log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
		t.Fatalf("dovecot: %v\n%s\n%s", err, out, log)
	}
	for _, a := range []string{d.Addr, d.TLSAddr} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
				t.Fatalf("dovecot not listening on %s: %s", a, log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return d
}

// Deliver adds msgs to the running server's Maildir, as a delivery agent
// would (new mail at the source, for incremental imports).
func (d *Dovecot) Deliver(t testing.TB, msgs []MailSpec, seq int) {
	t.Helper()
	WriteMaildir(t, d.Maildir, msgs, seq)
	if os.Geteuid() == 0 {
		exec.Command("chown", "-R", "nobody:nogroup", filepath.Join(d.Dir, "home")).Run()
	}
}

func (d *Dovecot) stop() {
	exec.Command("doveadm", "-c", d.conf, "stop").Run()
	// doveadm stop returns before the processes are gone.
	pidFile := filepath.Join(d.Dir, "run", "master.pid")
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(pidFile); os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
