package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rspamdOff are the modules a private rspamd runs without: those that
// need redis (bayes and fuzzy storage, reputation, ratelimit, greylist,
// history, neural, replies), the network (DNS lists, SPF/DKIM/DMARC/ARC
// lookups, MX checks, ASN, map and rule downloads) or outside services.
// What is left (the regexp rules, chartable, MIME and header checks,
// composites) needs neither, so a test never reaches the internet.
var rspamdOff = []string{
	"antivirus", "arc", "asn", "aws_s3", "bimi", "clickhouse", "dcc", "dkim",
	"dkim_signing", "dmarc", "elastic", "emails", "external_relay",
	"external_services", "fuzzy_check", "greylist", "history_redis", "hfilter",
	"maillist", "metadata_exporter", "metric_exporter", "multimap", "mx_check",
	"neural", "p0f", "phishing", "ratelimit", "rbl", "replies", "reputation",
	"rspamd_update", "spamassassin", "spamtrap", "spf", "surbl", "url_redirector",
	"whitelist",
}

// Rspamd starts a private rspamd from Debian's package for the test and
// returns its normal worker's URL ("http://127.0.0.1:PORT"), where
// POST /checkv2 scans a message. It runs as an unprivileged user (nobody
// when the test runs as root) with its own configuration, run, database
// and log folders, one worker on a loopback port, no redis and no
// network (the modules in rspamdOff are off; DNS goes to a closed
// loopback port). It stops with the test. Without rspamd the test skips,
// or fails under SEALPOST_REQUIRE_TOOLS.
func Rspamd(t testing.TB) string {
	t.Helper()
	bin := NeedTool(t, "rspamd", "rspamd")
	// Not t.TempDir: its parent is private to root and rspamd runs as
	// nobody.
	dir, err := os.MkdirTemp("", "sealpost-rspamd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, d := range []string{"local.d", "override.d", "run", "db", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rspamd.conf", fmt.Sprintf(`.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=10) "$LOCAL_CONFDIR/override.d/options.inc"
}
logging {
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "notice";
}
worker "normal" {
    bind_socket = "127.0.0.1:%d";
    .include "$CONFDIR/worker-normal.inc"
    count = 1;
    filters = "chartable,regexp";
}
`, port))
	// DNS to a closed port, answered at once by ICMP; no data files from
	// the internet; temporary files in our own folder. A few public
	// suffixes instead of the packaged 9,600 and no Hyperscan: compiling
	// those takes rspamd about a minute at each start.
	write("tld.dat", "com\norg\nnet\nedu\nexample\nie\nuk\nco.uk\nbiz\n")
	write("override.d/options.inc", fmt.Sprintf(`dns {
    nameserver = ["127.0.0.1:1"];
    timeout = 0.2s;
    retransmits = 1;
}
tempdir = "%[1]s/run";
url_tld = "%[1]s/tld.dat";
disable_hyperscan = true;
control_socket = "%[1]s/run/rspamd.sock mode=0600";
`, dir))
	for _, m := range rspamdOff {
		write("override.d/"+m+".conf", "enabled = false;\n")
	}
	args := []string{"-f", "-c", filepath.Join(dir, "rspamd.conf"),
		"--var=LOCAL_CONFDIR=" + dir,
		"--var=RUNDIR=" + filepath.Join(dir, "run"),
		"--var=DBDIR=" + filepath.Join(dir, "db"),
		"--var=LOGDIR=" + filepath.Join(dir, "log"),
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		for _, d := range []string{"run", "db", "log"} {
			os.Chown(filepath.Join(dir, d), 65534, 65534)
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// The main process and its worker share the process group.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	log := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "log", "rspamd.log"))
		return out.String() + string(b)
	}
	// Compiling the rules takes a few seconds; /ping answers once the
	// worker serves.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("rspamd exited:\n%s", log())
		default:
		}
		if resp, err := http.Get(url + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("rspamd does not answer on %s:\n%s", url, log())
	return ""
}
