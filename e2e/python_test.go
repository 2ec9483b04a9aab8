package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestPythonClients runs Python's smtplib and imaplib, an independent
// implementation of both protocols, against the demo.
func TestPythonClients(t *testing.T) {
	py := testenv.NeedTool(t, "python3", "python3")
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))
	m := marker(t)
	out, err := exec.Command(py, "testdata/pyclient.py", d.Addrs["smtp"], d.Addrs["submission"], d.Addrs["imaps"], m).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "demo.log"))
		t.Fatalf("pyclient: %v\n%s\nserver log:\n%s", err, out, log)
	}
	var r struct {
		Ehlo           int      `json:"ehlo"`
		MXExts         []string `json:"mx_exts"`
		UnknownRcpt    any      `json:"unknown_rcpt"`
		Relay          any      `json:"relay"`
		AuthBeforeTLS  string   `json:"auth_before_tls"`
		List           []string `json:"list"`
		Exists         int      `json:"exists"`
		SearchBody     int      `json:"search_body"`
		FetchedEqual   bool     `json:"fetched_equal"`
		SeenAfterFetch bool     `json:"seen_after_fetch"`
		SearchFlagged  int      `json:"search_flagged"`
		Copy           string   `json:"copy"`
		AfterExpunge   int      `json:"after_expunge"`
		ArchiveStatus  string   `json:"archive_status"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("pyclient output %q: %v", out, err)
	}
	for _, ext := range []string{"size", "pipelining", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls"} {
		if !slices.Contains(r.MXExts, ext) {
			t.Errorf("MX does not advertise %s: %v", ext, r.MXExts)
		}
	}
	if r.UnknownRcpt != float64(550) || r.Relay != float64(554) {
		t.Errorf("unknown recipient got %v (want 550), relay got %v (want 554)", r.UnknownRcpt, r.Relay)
	}
	if r.AuthBeforeTLS != "refused" {
		t.Errorf("AUTH before STARTTLS was %s", r.AuthBeforeTLS)
	}
	list := strings.Join(r.List, "\n")
	for _, want := range []string{`\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive`, "INBOX"} {
		if !strings.Contains(list, want) {
			t.Errorf("LIST lacks %s:\n%s", want, list)
		}
	}
	if r.Exists != 2 || r.SearchBody != 1 || !r.FetchedEqual || !r.SeenAfterFetch || r.SearchFlagged != 1 || r.Copy != "OK" || r.AfterExpunge != 1 {
		t.Errorf("imaplib session went wrong: %+v", r)
	}
	if !strings.Contains(r.ArchiveStatus, "MESSAGES 1") {
		t.Errorf("Archive STATUS = %s, want MESSAGES 1", r.ArchiveStatus)
	}
}
