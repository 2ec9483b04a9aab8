package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost/internal/testenv"
)

const demands = "../legal/demand/testdata"

// officer runs a `sealpost demand` command as a demo legal officer.
func officer(t *testing.T, who string, args ...string) (string, error) {
	t.Helper()
	return sealpost(t, who+"-demo-pass\n", append(args, "--officer", who)...)
}

func mustOfficer(t *testing.T, who string, args ...string) string {
	t.Helper()
	out, err := officer(t, who, args...)
	if err != nil {
		t.Fatalf("sealpost %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// withoutDates writes a copy of a demand file under dir with its date range
// removed and a new reference, so that it reaches mail delivered today.
func withoutDates(t *testing.T, dir, name, ref string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demands, name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "from")
	delete(m, "to")
	m["reference"] = ref
	out, _ := json.Marshal(m)
	path := filepath.Join(dir, name)
	os.WriteFile(path, out, 0o600)
	return path
}

// inboxSubjects returns the subjects in an account's INBOX, over IMAP.
func inboxSubjects(t *testing.T, addr, user, pass string) []string {
	t.Helper()
	c := login(t, addr, user, pass)
	defer func() { c.Logout().Wait() }()
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatalf("fetch envelopes of %s: %v", user, err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.Envelope.Subject)
	}
	return out
}

// TestSeedScenario is the story the project comes from, end to end on the
// real binary: a US search warrant for mail stored in Ireland.
func TestSeedScenario(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"demo.log", "demo2.log", "demo3.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				var keep []string
				for _, l := range strings.Split(string(b), "\n") {
					if strings.Contains(l, "imap") || strings.Contains(l, "fatal") || strings.Contains(l, "goroutine") || strings.Contains(l, ".go:") || strings.Contains(l, "ERROR") || strings.Contains(l, "WARN") || strings.Contains(l, "panic") {
						keep = append(keep, l)
					}
				}
				t.Logf("%s: %s", f, strings.Join(keep, "\n"))
			}
		}
	})
	deliver(t, d.Addrs["smtp"], "x@example.org", alice, message("x@example.org", alice, "to alice", "alice-secret-body"))
	deliver(t, d.Addrs["smtp"], "x@example.org", bob, message("x@example.org", bob, "to bob", "bob-secret-body"))
	d.Stop()
	dd := []string{"--data", data}

	// A US search warrant for the content of alice@demo.example, homed in
	// Ireland: out of jurisdiction, and the MLAT route named.
	out := mustSealpost(t, "", append([]string{"policy", "explain", filepath.Join(demands, "us-warrant-alice.json"), "--json"}, dd...)...)
	var ex struct {
		Decisions []struct {
			Target, Decision, Route, Yields string
			Reasons                         []string
			Categories                      []struct{ Category, Decision string }
		}
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil || len(ex.Decisions) != 1 {
		t.Fatalf("policy explain --json: %v\n%s", err, out)
	}
	if dec := ex.Decisions[0]; dec.Target != alice || dec.Decision != "reject_out_of_jurisdiction" || dec.Route != "MLAT request to Ireland" || len(dec.Reasons) == 0 {
		t.Errorf("alice: %+v", dec)
	}
	// The same warrant for bob@demo.example, in the US region: eligible,
	// and it yields ciphertext only.
	out = mustSealpost(t, "", append([]string{"policy", "explain", filepath.Join(demands, "us-warrant-bob.json"), "--json"}, dd...)...)
	ex.Decisions = nil
	json.Unmarshal([]byte(out), &ex)
	if len(ex.Decisions) != 1 || ex.Decisions[0].Decision != "eligible" || ex.Decisions[0].Yields != "ciphertext_only" || ex.Decisions[0].Route != "" {
		t.Errorf("bob: %s", out)
	}
	// A subpoena reaches subscriber information but not content.
	out = mustSealpost(t, "", append([]string{"policy", "explain", filepath.Join(demands, "us-subpoena-bob.yaml"), "--json"}, dd...)...)
	ex.Decisions = nil
	json.Unmarshal([]byte(out), &ex)
	cats := map[string]string{}
	for _, c := range ex.Decisions[0].Categories {
		cats[c.Category] = c.Decision
	}
	if cats["subscriber"] != "eligible" || cats["content"] != "reject_insufficient_instrument" {
		t.Errorf("subpoena: %v\n%s", cats, out)
	}

	// Only legal officers act: a wrong password files nothing.
	if out, err := sealpost(t, "not-the-password\n", append([]string{"demand", "file", filepath.Join(demands, "us-warrant-bob.json"), "--officer", "officer-a"}, dd...)...); err == nil {
		t.Fatalf("a wrong officer password filed a demand: %s", out)
	}
	// An invalid demand is refused field by field, and nothing is stored.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"reference":"x","authority":"y","country":"ZZ","instrument":"letter","legal_basis":"z","targets":["not-an-address"],"categories":["content"],"received":"2026-10-01"}`), 0o600)
	if out, err := officer(t, "officer-a", append([]string{"demand", "file", bad}, dd...)...); err == nil ||
		!strings.Contains(out, "country") || !strings.Contains(out, "instrument") || !strings.Contains(out, "targets[0]") {
		t.Errorf("invalid demand: %v\n%s", err, out)
	}

	// The gag: alice's notice waits until the nondisclosure order lapses.
	out = mustOfficer(t, "officer-a", append([]string{"demand", "file", filepath.Join(demands, "us-warrant-alice-gag.json")}, dd...)...)
	gagID := regexp.MustCompile(`filed (D-\S+)`).FindStringSubmatch(out)[1]
	// A duplicate (same authority and reference) is detected.
	if out, err := officer(t, "officer-a", append([]string{"demand", "file", filepath.Join(demands, "us-warrant-alice-gag.json")}, dd...)...); err == nil || !strings.Contains(out, gagID) {
		t.Errorf("duplicate: %v\n%s", err, out)
	}

	// Contempt and appeal, each step recorded.
	for _, st := range []string{"in_review", "challenged", "upheld", "held_in_contempt", "appealed", "won", "closed"} {
		mustOfficer(t, "officer-a", append([]string{"demand", "transition", gagID, st, "--note", "step " + st}, dd...)...)
	}
	if out, err := officer(t, "officer-a", append([]string{"demand", "transition", gagID, "approved"}, dd...)...); err == nil {
		t.Errorf("a closed demand was approved: %s", out)
	}
	out = mustOfficer(t, "officer-a", append([]string{"demand", "show", gagID, "--json"}, dd...)...)
	for _, want := range []string{`"to": "held_in_contempt"`, `"to": "appealed"`, `"to": "won"`, `"note": "step challenged"`, `"actor": "officer-a"`} {
		if !strings.Contains(out, want) {
			t.Errorf("demand show lacks %s", want)
		}
	}

	// Bob's warrant: disclosure needs two different officers.
	bobWarrant := withoutDates(t, dir, "us-warrant-bob.json", "26 Mag. 2144-A")
	docs := []string{"--docs", filepath.Join(demands, "documents")}
	out = mustOfficer(t, "officer-a", append(append([]string{"demand", "file", bobWarrant}, docs...), dd...)...)
	bobID := regexp.MustCompile(`filed (D-\S+)`).FindStringSubmatch(out)[1]
	mustOfficer(t, "officer-a", append([]string{"demand", "transition", bobID, "in_review"}, dd...)...)
	mustOfficer(t, "officer-a", append([]string{"demand", "transition", bobID, "approved", "--note", "warrant is valid"}, dd...)...)
	mustOfficer(t, "officer-a", append([]string{"demand", "approve", bobID}, dd...)...)
	pkg := filepath.Join(dir, "bob.tar")
	if out, err := officer(t, "officer-a", append([]string{"demand", "disclose", bobID, "--out", pkg}, dd...)...); err == nil || !strings.Contains(out, "two different legal officers") {
		t.Fatalf("disclosure with one approver: %v\n%s", err, out)
	}
	if out, err := officer(t, "officer-a", append([]string{"demand", "approve", bobID}, dd...)...); err == nil {
		t.Errorf("the same officer approved twice: %s", out)
	}
	mustOfficer(t, "officer-b", append([]string{"demand", "approve", bobID}, dd...)...)
	mustOfficer(t, "officer-b", append([]string{"demand", "disclose", bobID, "--out", pkg}, dd...)...)
	key := strings.TrimSpace(mustSealpost(t, "", append([]string{"demand", "key"}, dd...)...))
	if out := mustSealpost(t, "", "demand", "verify-package", pkg, "--key", key); !strings.Contains(out, "OK:") {
		t.Fatalf("verify-package: %s", out)
	}
	raw, _ := os.ReadFile(pkg)
	if !bytes.Contains(raw, []byte("content/bob@demo.example/INBOX/1.pgp")) || bytes.Contains(raw, []byte("bob-secret-body")) {
		t.Errorf("the package lacks bob's sealed message, or holds it in the clear")
	}
	// Tampering with any file is detected, naming it.
	for _, e := range tarEntries(raw) {
		bad := bytes.Clone(raw)
		bad[e.data] ^= 0x01
		tp := filepath.Join(dir, "tampered.tar")
		os.WriteFile(tp, bad, 0o600)
		out, err := sealpost(t, "", "demand", "verify-package", tp, "--key", key)
		if err == nil || !strings.Contains(out, e.name) {
			t.Errorf("a flipped byte in %s: %v\n%s", e.name, err, out)
		}
	}

	// Preservation: a legal hold; alice's deletions are kept, sealed.
	out = mustOfficer(t, "officer-a", append([]string{"demand", "file", filepath.Join(demands, "preservation-alice.json")}, dd...)...)
	presID := regexp.MustCompile(`filed (D-\S+)`).FindStringSubmatch(out)[1]
	if out := mustOfficer(t, "officer-a", append([]string{"demand", "show", presID}, dd...)...); !strings.Contains(out, "hold on alice@demo.example: held") {
		t.Fatalf("no hold placed:\n%s", out)
	}

	// Back online: the gagged notice is not in alice's INBOX yet.
	d = testenv.StartDemo(t, data, filepath.Join(dir, "demo2.log"))
	if subs := inboxSubjects(t, d.Addrs["imaps"], alice, alicePass); hasNotice(subs, gagID) {
		t.Errorf("alice was told while the gag held: %v", subs)
	}
	// Bob was told of his warrant (no gag).
	if subs := inboxSubjects(t, d.Addrs["imaps"], bob, bobPass); !hasNotice(subs, bobID) {
		t.Errorf("bob was not told: %v", subs)
	}
	// Alice expunges her mail; the hold keeps it.
	c := login(t, d.Addrs["imaps"], alice, alicePass)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Store(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	if err := c.Expunge().Close(); err != nil {
		logb, _ := os.ReadFile(filepath.Join(dir, "demo2.log"))
		t.Fatalf("expunge: %v\n%s", err, logb[max(0, len(logb)-3000):])
	}
	c.Logout().Wait()
	if subs := inboxSubjects(t, d.Addrs["imaps"], alice, alicePass); len(subs) != 0 {
		t.Errorf("alice's INBOX after expunge: %v", subs)
	}

	// The API serves officers only, and files with documents.
	web := "http://" + d.Addrs["web"]
	// Owners read the notices sent to them, never one still gagged.
	myNotices := func(user, pass string) string {
		req, _ := http.NewRequest("GET", web+"/api/v1/me/notices", nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("notices of %s: %d %s", user, resp.StatusCode, b.String())
		}
		return b.String()
	}
	if n := myNotices(bob, bobPass); !strings.Contains(n, bobID) {
		t.Errorf("bob's notices lack %s: %s", bobID, n)
	}
	if n := myNotices(alice, alicePass); strings.Contains(n, gagID) || !strings.Contains(n, presID) {
		t.Errorf("alice's notices during the gag: %s", n)
	}
	// The same commands work through the API while the server runs.
	if out := mustOfficer(t, "officer-b", "demand", "list", "--api", web); !strings.Contains(out, gagID) || !strings.Contains(out, "closed") {
		t.Errorf("demand list --api: %s", out)
	}
	if resp, err := http.Get(web + "/api/v1/demands"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without credentials: %v %v", resp, err)
	}
	mlat, _ := os.ReadFile(filepath.Join(demands, "mlat-ie-alice.json"))
	var mlatDemand struct {
		Documents []struct{ Name string }
	}
	json.Unmarshal(mlat, &mlatDemand)
	envDocs := map[string]string{}
	for _, doc := range mlatDemand.Documents {
		b, _ := os.ReadFile(filepath.Join(demands, "documents", doc.Name))
		envDocs[doc.Name] = base64.StdEncoding.EncodeToString(b)
	}
	body, _ := json.Marshal(map[string]any{"demand": json.RawMessage(mlat), "documents": envDocs})
	req, _ := http.NewRequest("POST", web+"/api/v1/demands", bytes.NewReader(body))
	req.SetBasicAuth("officer-b", "officer-b-demo-pass")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var filed struct {
		ID        string
		Decisions []struct{ Target, Decision string }
	}
	json.NewDecoder(resp.Body).Decode(&filed)
	resp.Body.Close()
	if resp.StatusCode != 200 || filed.ID == "" || len(filed.Decisions) != 1 || filed.Decisions[0].Decision != "eligible" {
		t.Errorf("MLAT request executed by Ireland, through the API: %d %+v", resp.StatusCode, filed)
	}
	d.Stop()

	// The gag lapses: the notice goes out by itself.
	if out := mustSealpost(t, "", append([]string{"demand", "notify", "--now", "2027-01-02"}, dd...)...); !strings.Contains(out, "notice(s) sent") {
		t.Errorf("notify: %s", out)
	}
	d = testenv.StartDemo(t, data, filepath.Join(dir, "demo3.log"))
	if subs := inboxSubjects(t, d.Addrs["imaps"], alice, alicePass); !hasNotice(subs, gagID) {
		t.Errorf("alice was not told after the gag lapsed: %v", subs)
	}
	d.Stop()
	// The hold kept alice's expunged message: the audit still counts it.
	if out := mustSealpost(t, "", append([]string{"residency", "audit"}, dd...)...); !regexp.MustCompile(`alice@demo\.example\s+home ie\s+[2-9] blobs`).MatchString(out) {
		t.Errorf("alice's expunged mail is not retained under hold:\n%s", out)
	}
	// No plaintext of anyone's mail reached the disk on the way.
	filepath.Walk(data, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("alice-secret-body")) || bytes.Contains(b, []byte("bob-secret-body")) {
				t.Errorf("%s holds mail in the clear", path)
			}
		}
		return nil
	})
}

func hasNotice(subjects []string, id string) bool {
	for _, s := range subjects {
		if strings.Contains(s, "A government demand named your account") && strings.Contains(s, id) {
			return true
		}
	}
	return false
}

type tarEntry struct {
	name string
	data int // offset of the entry's first data byte
}

// tarEntries lists a tar's entries with non-empty data.
func tarEntries(b []byte) []tarEntry {
	var out []tarEntry
	for off := 0; off+512 <= len(b); {
		hdr := b[off : off+512]
		if bytes.Equal(hdr, make([]byte, 512)) {
			break
		}
		name := string(bytes.TrimRight(hdr[0:100], "\x00"))
		size, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimRight(string(hdr[124:136]), "\x00 ")), 8, 64)
		if size > 0 {
			out = append(out, tarEntry{name: name, data: off + 512})
		}
		off += 512 + int((size+511)/512*512)
	}
	return out
}
