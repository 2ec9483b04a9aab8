package testenv

import (
	"bytes"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postfixMaster is the services' part of master.cf, shared with the
// benchmark scripts.
//
//go:embed postfix-master.cf
var postfixMaster string

// PostfixOptions configure a private Postfix.
type PostfixOptions struct {
	// Addr is where its smtpd listens, e.g. "127.0.0.2:25"; its smtp client
	// sends from the same address.
	Addr string
	// Domains are the domains it takes mail for, into one Maildir.
	Domains []string
	// Relay, if set, is where it sends all other mail (relayhost), e.g.
	// "[127.0.0.1]:2525".
	Relay string
	// Hostname is its name (myhostname); default mx.<first domain>.
	Hostname string
}

// Postfix is a private Postfix from Debian's package: its own
// configuration, queue and Maildir in a test folder, smtpd on one loopback
// address, delivering its domains' mail to a Maildir (the virtual agent)
// and relaying the rest. Recipients whose local part starts with "perm"
// are refused with 550 5.1.1 and "temp" with 450 4.2.0. It stops with the
// test. It needs root (its master runs as root, as packaged).
type Postfix struct {
	Dir     string // the work folder
	Addr    string
	Maildir string
	conf    string
}

// StartPostfix starts a private Postfix, or skips the test (fails under
// SEALPOST_REQUIRE_TOOLS) without /usr/sbin/postfix or root.
func StartPostfix(t testing.TB, o PostfixOptions) *Postfix {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/postfix"); err != nil {
		missing(t, "this test needs postfix: install Debian's postfix package (make test does)")
	}
	if os.Geteuid() != 0 {
		missing(t, "this test needs root, to run a private Postfix")
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if o.Hostname == "" {
		o.Hostname = "mx." + o.Domains[0]
	}
	// Postfix wants its queue folder owned by root and every folder above
	// it not writable by others: not t.TempDir (under /tmp, mode 1777).
	base := filepath.Join(os.TempDir(), "sealpost-postfix")
	os.MkdirAll(base, 0o755)
	os.Chmod(base, 0o755)
	dir, err := os.MkdirTemp(base, "pf")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	p := &Postfix{Dir: dir, Addr: o.Addr, Maildir: filepath.Join(dir, "mail", "box"), conf: filepath.Join(dir, "conf")}
	for _, d := range []string{"conf", "queue", "data", "mail", "tls"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cert, key := writeTestCert(t, filepath.Join(dir, "tls"))
	exec.Command("chown", "postfix:postfix", filepath.Join(dir, "data")).Run()
	exec.Command("chown", "65534:65534", filepath.Join(dir, "mail")).Run()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(p.conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rcpt", "/^perm/ REJECT 5.1.1 No such user here\n/^temp/ DEFER 4.2.0 Mailbox busy, try later\n")
	write("master.cf", net.JoinHostPort(host, port)+" inet n - n - - smtpd\n"+postfixMaster)
	write("main.cf", fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = %[1]s/postfix.log
maillog_file_prefixes = %[1]s
inet_interfaces = all
inet_protocols = ipv4
smtp_bind_address = %[2]s
myhostname = %[3]s
mydestination =
mynetworks = 127.0.0.0/8
relayhost = %[4]s
alias_maps =
smtpd_banner = $myhostname ESMTP
smtpd_recipient_restrictions = check_recipient_access regexp:%[1]s/conf/rcpt, permit_mynetworks, reject_unauth_destination
smtpd_tls_cert_file = %[5]s
smtpd_tls_key_file = %[6]s
smtpd_tls_security_level = may
smtp_tls_security_level = may
virtual_mailbox_domains = %[7]s
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
message_size_limit = 0
`, dir, host, o.Hostname, o.Relay, cert, key, strings.Join(o.Domains, " ")))
	t.Cleanup(p.stop)
	if out, err := exec.Command("postfix", "-c", p.conf, "start").CombinedOutput(); err != nil {
		// Postfix says why only to a terminal: ask again through one.
		why, _ := exec.Command("script", "-qc", "postfix -c "+p.conf+" check", "/dev/null").CombinedOutput()
		t.Fatalf("postfix start: %v\n%s\n%s\n%s", err, out, p.Log(), why)
	}
	for range 100 {
		if c, err := net.DialTimeout("tcp", o.Addr, time.Second); err == nil {
			c.Close()
			return p
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("postfix does not listen on %s\n%s", o.Addr, p.Log())
	return nil
}

// Log returns the instance's log.
func (p *Postfix) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "postfix.log"))
	return string(b)
}

// Messages returns the messages delivered to the Maildir, oldest first.
func (p *Postfix) Messages() [][]byte {
	var files []string
	for _, sub := range []string{"new", "cur"} {
		es, _ := os.ReadDir(filepath.Join(p.Maildir, sub))
		for _, e := range es {
			files = append(files, filepath.Join(p.Maildir, sub, e.Name()))
		}
	}
	sort.Slice(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	var out [][]byte
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// Flush asks Postfix to try its deferred mail now.
func (p *Postfix) Flush() { exec.Command("postqueue", "-c", p.conf, "-f").Run() }

// Queued returns how many messages wait in Postfix's own queue.
func (p *Postfix) Queued() int {
	out, _ := exec.Command("postqueue", "-c", p.conf, "-j").Output()
	return bytes.Count(out, []byte("\n"))
}

// stop stops the instance and waits until its master has exited.
func (p *Postfix) stop() {
	exec.Command("postfix", "-c", p.conf, "stop").Run()
	pidFile := filepath.Join(p.Dir, "queue", "pid", "master.pid")
	b, _ := os.ReadFile(pidFile)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		for range 100 {
			if syscall.Kill(pid, 0) != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}
	os.RemoveAll(p.Dir)
}

// writeTestCert writes TestCert's certificate and key as PEM files.
func writeTestCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM := TestCertPEM()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
