package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	sp "github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/store/sqlite"
)

func plainAuth(user, pass string) sasl.Client { return sasl.NewPlainClient("", user, pass) }

func marker(t testing.TB) string {
	var b [12]byte
	rand.Read(b[:])
	return "MARKER" + hex.EncodeToString(b[:])
}

// TestSealingProof delivers messages carrying unique markers by every path
// that stores mail (MX delivery, submission to a local and a remote
// recipient so the outbound queue and Sent get copies, IMAP APPEND), reads
// them back (so session keys get cached), then checks that no marker
// appears in any file under the data folder: database, WAL, blobs, queue,
// keys, and the server's own debug log, which the test keeps inside the
// data folder for that purpose.
func TestSealingProof(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	d := testenv.StartDemo(t, data, filepath.Join(data, "server.log"))

	var markers []string
	mk := func() string { m := marker(t); markers = append(markers, m); return m }

	// MX delivery: marker in subject, addresses and body.
	subj, body := mk(), mk()
	// The envelope sender is never served back, but must not reach the
	// disk (or the debug log) either.
	envelopeMarker := marker(t)
	deliver(t, d.Addrs["smtp"], envelopeMarker+"@example.org", bob, message("sender@example.org", bob, "S "+subj, "B "+body))

	// Submission: local recipient, remote recipient (queued), Sent copy.
	c, err := smtp.DialTLS(d.Addrs["submissions"], testenv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(plainAuth(alice, alicePass)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(alice, []string{bob, "dave@remote.example"}, bytes.NewReader(message(alice, bob, "S "+mk(), "B "+mk()))); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// IMAP APPEND into Drafts.
	ic := login(t, d.Addrs["imaps"], alice, alicePass)
	draft := message(alice, bob, "S "+mk(), "B "+mk())
	ac := ic.Append("Drafts", int64(len(draft)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDraft}})
	ac.Write(draft)
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatal(err)
	}

	// Filters (issue 14): a Sieve script naming a marker (uploaded with
	// sieve-connect), and the classifier trained on messages full of
	// marker words (moved into Junk over IMAP). Words, as the classifier
	// tokenizes them: lower case, at most 24 letters.
	scriptMarker, vacationMarker := mk(), mk()
	uploadScript(t, d.Addrs["managesieve"], alice, alicePass, "canary",
		`require ["fileinto", "vacation"];
if header :contains "subject" "`+scriptMarker+`" { fileinto "Archive"; }
if address :is "from" "nobody@example.org" { vacation "`+vacationMarker+`"; }
`)
	var wordMarkers []string
	for range 3 {
		var b [8]byte
		rand.Read(b[:])
		wordMarkers = append(wordMarkers, "zq"+hex.EncodeToString(b[:]))
	}
	trainee := message(alice, alice, "offer", strings.Repeat(strings.Join(wordMarkers, " ")+" ", 3))
	ac2 := ic.Append("INBOX", int64(len(trainee)), nil)
	ac2.Write(trainee)
	ac2.Close()
	if _, err := ac2.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var everything imap.SeqSet
	everything.AddRange(1, 0)
	if _, err := ic.Move(everything, "Junk").Wait(); err != nil {
		t.Fatal(err)
	}

	// Read everything back, so the session-key cache is written too, and
	// check the markers are really in the mail.
	bc := login(t, d.Addrs["imaps"], bob, bobPass)
	_, inbox := fetchAll(t, bc, "INBOX")
	var all []byte
	for _, b := range inbox {
		all = append(all, b...)
	}
	_, drafts := fetchAll(t, ic, "Drafts")
	for _, b := range drafts {
		all = append(all, b...)
	}
	_, sent := fetchAll(t, ic, "Sent")
	for _, b := range sent {
		all = append(all, b...)
	}
	_, junk := fetchAll(t, ic, "Junk")
	for _, b := range junk {
		all = append(all, b...)
	}
	if out, err := sieveConnect(t, d.Addrs["managesieve"], alice, alicePass, "--download", "--remotesieve", "canary", "--localsieve", filepath.Join(dir, "canary.sieve")); err != nil {
		t.Fatalf("download the canary script: %v %s", err, out)
	}
	script, _ := os.ReadFile(filepath.Join(dir, "canary.sieve"))
	all = append(all, script...)
	os.Remove(filepath.Join(dir, "canary.sieve"))
	for _, m := range markers {
		if !bytes.Contains(all, []byte(m)) {
			t.Fatalf("marker %s not served back over IMAP: the test would prove nothing", m)
		}
	}
	bc.Logout().Wait()
	ic.Logout().Wait()
	time.Sleep(200 * time.Millisecond) // let the session-key batch commit
	d.Stop()
	markers = append(markers, envelopeMarker)
	markers = append(markers, wordMarkers...)

	// The filter's objects exist (else the walk below proves nothing of
	// them): a script, the model, the key's two wraps.
	st, err := sqlite.Open(filepath.Join(data, "regions", "ie", "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.Account(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	for kind, want := range map[sp.ObjectKind]int{sp.ObjectSieveScript: 1, sp.ObjectJunkModel: 1, sp.ObjectFilterKey: 2} {
		if objs, err := st.Objects(context.Background(), acct.ID, kind); err != nil || len(objs) != want {
			t.Fatalf("%s objects: %d, %v; want %d", kind, len(objs), err, want)
		}
	}
	st.Close()

	files := 0
	filepath.WalkDir(data, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				t.Errorf("marker %s found in plaintext in %s", m, path)
			}
		}
		return nil
	})
	if files < 5 {
		t.Fatalf("only %d files under the data folder: the walk proves nothing", files)
	}
	if len(readFileOrEmpty(filepath.Join(data, "server.log"))) == 0 {
		t.Fatal("server log is empty: the log check proves nothing")
	}
}
