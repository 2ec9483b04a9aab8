package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/sealpost/sealpost/internal/testenv"
)

// importDest is where each folder of the generated source mailbox must
// arrive: special-use folders to ours (Sent Items by its name), Dovecot's
// "." hierarchy as "/"; All Mail (\All) is skipped.
var importDest = map[string]string{
	"INBOX": "INBOX", "Sent": "Sent", "Drafts": "Drafts", "Trash": "Trash", "Junk": "Junk",
	"Archive": "Archive", "Sent Items": "Sent", "Work": "Work", "Work.Projects": "Work/Projects",
}

// TestImportIMAP copies a generated mailbox of a few thousand messages
// from a private Dovecot into the demo's alice: first with the server
// stopped, killed at random points and run again until done; then, after
// new mail arrives at the source, again while the server runs (through
// its control socket, once killed on the way). Read back over IMAP as
// alice, every message is there once, byte for byte, with its flags,
// keywords and internal date; and no message's text is anywhere under
// the data folder.
func TestImportIMAP(t *testing.T) {
	msgs := testenv.GenerateMail(2500, 2048)
	dv := testenv.StartDovecot(t, msgs)
	bin := testenv.BuildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	d.Stop()

	args := func(security ...string) []string {
		return append([]string{"import", "imap", "--from", dv.Addr, "--user", dv.User,
			"--password-file", dv.PassFile, "--to", alice, "--data", data}, security...)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 15))
	for i := range 4 {
		cmd := exec.Command(bin, args("--plain")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Starting takes about 100 ms, copying everything over a second.
		time.Sleep(time.Duration(120+rng.IntN(250)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		t.Logf("import %d killed", i)
	}
	out, err := exec.Command(bin, append(args("--tls", "--ca-file", dv.CertFile), "--from", dv.TLSAddr)...).CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if !bytes.Contains(out, []byte("skipped 1: folder: a view of mail held in other folders")) {
		t.Errorf("summary does not report All Mail skipped:\n%s", out)
	}

	d = testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	checkImported(t, d.Addrs["imaps"], msgs)

	// New mail at the source; an import while the server runs, killed
	// once, then run to the end: only the new mail is copied.
	more := testenv.GenerateMail(300, 2048)
	for i := range more {
		more[i].Date = more[i].Date.Add(24 * 365 * time.Hour)
	}
	dv.Deliver(t, more, len(msgs))
	cmd := exec.Command(bin, args("--starttls", "--ca-file", dv.CertFile)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	out, err = exec.Command(bin, args("--starttls", "--ca-file", dv.CertFile)...).CombinedOutput()
	if err != nil {
		t.Fatalf("import while running: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if !bytes.Contains(out, []byte("into the running server")) {
		t.Errorf("the import did not go through the running server:\n%s", out)
	}
	all := append(slices.Clone(msgs), more...)
	checkImported(t, d.Addrs["imaps"], all)

	// Run again: nothing new.
	out, err = exec.Command(bin, args("--plain")...).CombinedOutput()
	if err != nil || !bytes.HasPrefix(out, []byte("imported 0 messages")) && !bytes.Contains(out, []byte("\nimported 0 messages")) {
		t.Errorf("a re-run with nothing new: %v\n%s", err, out)
	}
	d.Stop()

	// The canary: no marker (each message's subject and body carry one)
	// in any file under the data folder.
	filepath.WalkDir(data, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // a socket
		}
		for _, m := range all {
			if bytes.Contains(b, []byte(m.Marker)) {
				t.Fatalf("%s holds the text of an imported message (%s)", p, m.Marker)
			}
		}
		return nil
	})
}

// checkImported reads every mailbox of alice and checks that each message
// of want not in All Mail is in its folder once, byte for byte, with its
// flags and internal date.
func checkImported(t *testing.T, addr string, want []testenv.MailSpec) {
	t.Helper()
	checkImportedAs(t, addr, alice, alicePass, want, importDest)
}

// checkImportedAs is checkImported for any account, with the folder each
// source folder goes to (none: not copied).
func checkImportedAs(t *testing.T, addr, user, pass string, want []testenv.MailSpec, dest map[string]string) {
	t.Helper()
	c := login(t, addr, user, pass)
	defer c.Logout()
	type got struct {
		folder string
		body   []byte
		flags  []string
		date   time.Time
	}
	byMarker := map[string][]got{}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if sel.NumMessages == 0 {
			continue
		}
		fetched, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
			Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fetched {
			body := bodyOf(m)
			i := bytes.Index(body, []byte("CANARY"))
			if i < 0 {
				continue // the demo's own mail
			}
			var flags []string
			for _, f := range m.Flags {
				if !strings.EqualFold(string(f), `\Recent`) {
					flags = append(flags, string(f))
				}
			}
			slices.Sort(flags)
			mk := string(body[i : i+6+16])
			byMarker[mk] = append(byMarker[mk], got{l.Mailbox, body, flags, m.InternalDate})
		}
	}
	n := 0
	for _, w := range want {
		if _, ok := dest[w.Folder]; !ok {
			if len(byMarker[w.Marker]) != 0 {
				t.Errorf("a message of %s was copied", w.Folder)
			}
			continue
		}
		n++
		g := byMarker[w.Marker]
		if len(g) != 1 {
			t.Errorf("message %s from %s: %d copies, want 1", w.Marker, w.Folder, len(g))
			continue
		}
		if g[0].folder != dest[w.Folder] {
			t.Errorf("message from %s in %s, want %s", w.Folder, g[0].folder, dest[w.Folder])
		}
		if !bytes.Equal(g[0].body, w.Body) {
			t.Errorf("message %s: bytes differ", w.Marker)
		}
		wf := slices.Clone(w.Flags)
		slices.Sort(wf)
		if !slices.Equal(g[0].flags, wf) {
			t.Errorf("message %s: flags %v, want %v", w.Marker, g[0].flags, wf)
		}
		if !g[0].date.Equal(w.Date) {
			t.Errorf("message %s: internal date %v, want %v", w.Marker, g[0].date, w.Date)
		}
	}
	t.Logf("%d messages checked", n)
}

func bodyOf(m *imapclient.FetchMessageBuffer) []byte {
	for _, b := range m.BodySection {
		return b.Bytes
	}
	return nil
}

// TestImportFiles imports a Maildir++ tree (as Dovecot keeps it) and an
// mbox file into bob while the server runs, then runs both again with
// nothing new: every message once, byte for byte, with flags, keywords
// and dates.
func TestImportFiles(t *testing.T) {
	bin := testenv.BuildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))

	msgs := testenv.GenerateMail(600, 1024)
	maildir := filepath.Join(dir, "Maildir")
	testenv.WriteMaildir(t, maildir, msgs, 0)
	// An mbox of more messages (no flags: mbox keeps them in fields, which
	// would change the bytes compared), for the folder "Lists".
	var mbox bytes.Buffer
	more := testenv.GenerateMail(200, 1024)
	for i := range more {
		more[i].Folder, more[i].Flags = "Lists", nil
		fmt.Fprintf(&mbox, "From sender@example.org %s\n", more[i].Date.UTC().Format(time.ANSIC))
		mbox.Write(bytes.ReplaceAll(more[i].Body, []byte("\r\n"), []byte("\n")))
		mbox.WriteString("\n")
	}
	mboxFile := filepath.Join(dir, "lists.mbox")
	os.WriteFile(mboxFile, mbox.Bytes(), 0o600)

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--to", bob, "--data", data)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Log(run("import", "maildir", maildir))
	t.Log(run("import", "mbox", mboxFile, "--mailbox", "Lists"))
	dest := maps.Clone(importDest)
	dest["All Mail"] = "All Mail" // a Maildir has no attributes: only names
	dest["Lists"] = "Lists"
	checkImportedAs(t, d.Addrs["imaps"], bob, bobPass, append(msgs, more...), dest)
	for _, out := range []string{run("import", "maildir", maildir), run("import", "mbox", mboxFile, "--mailbox", "Lists")} {
		if !strings.Contains(out, "imported 0 messages") {
			t.Errorf("a re-run copied again:\n%s", out)
		}
	}
}

// TestImportOAuth2 logs in to Dovecot with an OAuth2 access token from a
// file, by OAUTHBEARER (RFC 7628) and, where the server offers only that,
// XOAUTH2: Dovecot checks the token at an introspection endpoint (RFC
// 7662) served here, which also proves the token reached it intact.
func TestImportOAuth2(t *testing.T) {
	bin := testenv.BuildBinary(t)
	token := "ya29.test-" + testenv.GenerateMail(1, 10)[0].Marker
	var seen atomic.Int32
	introspect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("token") != token {
			json.NewEncoder(w).Encode(map[string]any{"active": false})
			return
		}
		seen.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"active": true, "username": "owner@example.net"})
	}))
	defer introspect.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	// Into a different account each time: the two Dovecots are one host
	// and user to the importer, and their UIDVALIDITY may be the same.
	for i, mechs := range [][]string{{"oauthbearer", "xoauth2"}, {"xoauth2"}} {
		msgs := testenv.GenerateMail(5, 512)
		dv := testenv.StartDovecotWith(t, msgs, testenv.DovecotOptions{OAuth2Mechanisms: mechs, OAuth2Introspect: introspect.URL + "/introspect"})
		before := seen.Load()
		out, err := exec.Command(bin, "import", "imap", "--from", dv.TLSAddr, "--tls", "--ca-file", dv.CertFile,
			"--user", dv.User, "--oauth2-token-file", tokenFile, "--to", []string{alice, bob}[i], "--data", data).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", mechs, err, out)
		}
		if seen.Load() == before {
			t.Errorf("%v: the token never reached the introspection endpoint", mechs)
		}
		if !strings.Contains(string(out), "imported 5 messages") {
			t.Errorf("%v: %s", mechs, out)
		}
	}
	d.Stop()
}

// TestImportCtlBadInput speaks the control socket's import stream badly:
// an unknown account, a frame that is not JSON, a frame over the bound.
// Each gets an error naming the fault, nothing is filed, and the server
// goes on serving.
func TestImportCtlBadInput(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	open := func(addr string) (net.Conn, *json.Decoder, map[string]any) {
		t.Helper()
		c, err := net.Dial("unix", filepath.Join(data, "ctl.sock"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, `{"op":"import","import":{"address":%q,"source":"test"}}`+"\n", addr)
		dec := json.NewDecoder(c)
		var hello map[string]any
		if err := dec.Decode(&hello); err != nil {
			t.Fatal(err)
		}
		return c, dec, hello
	}
	if _, _, hello := open("nobody@demo.example"); hello["kind"] != "not exist" {
		t.Errorf("import into an unknown account: %v", hello)
	}
	reply := func(c net.Conn, dec *json.Decoder, frame string) map[string]any {
		t.Helper()
		c.Write([]byte(frame))
		var ack map[string]any
		if err := dec.Decode(&ack); err != nil {
			t.Fatalf("no answer to a bad frame: %v", err)
		}
		return ack
	}
	c, dec, hello := open(alice)
	if hello["error"] != nil {
		t.Fatalf("hello: %v", hello)
	}
	if ack := reply(c, dec, "{not json\n"); !strings.Contains(fmt.Sprint(ack["error"]), "bad import frame") {
		t.Errorf("garbage: %v", ack)
	}
	c, dec, _ = open(alice)
	items := strings.Repeat(`{"pos":1,"date":"2020-01-01T00:00:00Z","body":"eA=="},`, 5000)
	if ack := reply(c, dec, `{"folder":"F","dest":{"mailbox":"F"},"items":[`+items[:len(items)-1]+"]}\n"); !strings.Contains(fmt.Sprint(ack["error"]), "too many messages") {
		t.Errorf("an oversized frame: %v", ack)
	}
	// The server is healthy, and nothing was filed.
	ic := login(t, d.Addrs["imaps"], alice, alicePass)
	if _, err := ic.Select("F", nil).Wait(); err == nil {
		t.Errorf("a refused frame created its mailbox")
	}
}
